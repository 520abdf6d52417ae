//! Layer staging: fetch jobs (registry → blob store) and verified writes of layer blobs.
//!
//! `POST /indexer/api/v1/index_report` queues one [`FetchJob`] per missing layer that has a `uri`; the indexer
//! function (deployed: SQS on the fetch queue) or the in-process worker of `lucid serve` ([`run_worker`])
//! executes it: GET the URI with the manifest's headers (redirects followed, so registries that redirect
//! to blob storage work; credentials are not forwarded to another host), stream the body into
//! `layers/<digest>` while hashing it, and check the digest. A wrong digest or a permanent HTTP error
//! (4xx) marks the layer failed with the reason (retrying cannot help); network errors and 5xx are
//! returned as errors so the message is redelivered.
//!
//! After the blob is stored the job indexes the layer itself unless the blob store announces new objects
//! on its own (S3 with bucket notifications, where the notification triggers indexing: see
//! [`Indexer::with_index_after_fetch`]).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest as _;
use tokio::io::{AsyncRead, ReadBuf};

use super::{IndexError, Indexer, LayerOutcome};
use crate::blob::{BlobError, BlobKey, BlobReader, BlobStore};
use crate::model::{Digest, DigestAlgorithm, LayerRef};
use crate::queue::Queue;
use crate::store::index::LayerStatus;

/// The `type` of a fetch-job message body (S3 notifications have none, so the kinds never collide).
pub const FETCH_JOB_TYPE: &str = "lucid.fetch_layer.v1";

/// Largest layer blob accepted from a registry or an upload: 16 GiB, far above real layers.
pub const MAX_LAYER_BLOB_BYTES: u64 = 16 << 30;

/// One queued fetch: a layer reference as the client sent it (`hash`, `uri`, `headers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchJob {
    #[serde(rename = "type")]
    pub kind: String,
    /// The manifest that asked for it (for logs only; the layer may serve many manifests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Digest>,
    pub layer: LayerRef,
}

impl FetchJob {
    pub fn new(manifest: Option<Digest>, layer: LayerRef) -> FetchJob {
        FetchJob {
            kind: FETCH_JOB_TYPE.to_owned(),
            manifest,
            layer,
        }
    }

    /// The message body.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` when `body` is not a fetch job at all (e.g. an S3 notification); `Some(Err)` when it claims to
    /// be one but is malformed.
    pub fn from_value(body: &Value) -> Option<Result<FetchJob, String>> {
        if body.get("type").and_then(Value::as_str) != Some(FETCH_JOB_TYPE) {
            return None;
        }
        Some(serde_json::from_value(body.clone()).map_err(|e| e.to_string()))
    }
}

/// Why storing a blob under its digest did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("content digest mismatch: expected {expected}, got {actual}")]
    Mismatch { expected: Digest, actual: Digest },
    #[error("blob is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Streams `body` into `layers/<digest>`, hashing it on the way; on a digest mismatch or an oversized body
/// the stored object is removed again. Returns the byte count. Memory is bounded by the blob store's
/// buffering (one multipart part on S3), never by the blob's size.
pub async fn store_verified(
    blobs: &dyn BlobStore,
    digest: &Digest,
    body: BlobReader,
    limit: u64,
) -> Result<u64, StageError> {
    let key = BlobKey::layer(digest);
    let state = std::sync::Arc::new(std::sync::Mutex::new(HashState::new(digest.algorithm())));
    let reader = HashingReader {
        inner: body,
        state: state.clone(),
        limit,
    };
    let result = blobs.put_stream(&key, Box::pin(reader)).await;
    let (actual, too_large) = {
        let guard = state.lock().map_err(|_| BlobError::Io {
            key: key.to_string(),
            detail: "hash state poisoned".into(),
        })?;
        (guard.digest(), guard.too_large)
    };
    if too_large {
        let _ = blobs.delete(&key).await;
        return Err(StageError::TooLarge { limit });
    }
    let n = result?;
    if &actual != digest {
        blobs.delete(&key).await?;
        return Err(StageError::Mismatch {
            expected: digest.clone(),
            actual,
        });
    }
    Ok(n)
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

struct HashState {
    hasher: Hasher,
    bytes: u64,
    too_large: bool,
}

impl HashState {
    fn new(algorithm: DigestAlgorithm) -> HashState {
        HashState {
            hasher: match algorithm {
                DigestAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
                DigestAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            },
            bytes: 0,
            too_large: false,
        }
    }

    fn digest(&self) -> Digest {
        match &self.hasher {
            Hasher::Sha256(h) => Digest::from_sha256_bytes(&h.clone().finalize()),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.clone().finalize()))
                .parse()
                .unwrap_or_else(|_| Digest::sha256_of(b"")),
        }
    }
}

/// An `AsyncRead` that hashes and counts what passes through it and fails past `limit` bytes.
struct HashingReader {
    inner: BlobReader,
    state: std::sync::Arc<std::sync::Mutex<HashState>>,
    limit: u64,
}

impl AsyncRead for HashingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match this.inner.as_mut().poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                let Ok(mut st) = this.state.lock() else {
                    return Poll::Ready(Err(std::io::Error::other("hash state poisoned")));
                };
                st.bytes += new.len() as u64;
                if st.bytes > this.limit {
                    st.too_large = true;
                    return Poll::Ready(Err(std::io::Error::other(format!(
                        "blob is larger than {} bytes",
                        this.limit
                    ))));
                }
                match &mut st.hasher {
                    Hasher::Sha256(h) => h.update(new),
                    Hasher::Sha512(h) => h.update(new),
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// What a fetch job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The layer was already indexed; nothing was downloaded.
    AlreadyIndexed,
    /// The blob was stored (and indexed, when this indexer indexes after fetching).
    Fetched {
        bytes: u64,
        indexed: Option<LayerOutcome>,
    },
    /// The layer cannot be fetched; the reason is stored on the layer and reported in its manifests.
    Failed(String),
}

/// The HTTP client fetch jobs use: redirects followed (at most 10), generous timeouts for large layers.
pub fn http_client() -> Result<reqwest::Client, IndexError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(10))
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| IndexError::Interrupted(format!("building the HTTP client: {e}")))
}

impl Indexer {
    /// Executes one fetch job. Errors are worth retrying (network, 5xx, blob store, database); input
    /// problems become [`FetchOutcome::Failed`].
    pub async fn fetch_layer(&self, job: &FetchJob) -> Result<FetchOutcome, IndexError> {
        let layer = &job.layer.hash;
        let span = tracing::info_span!("fetch_layer", layer = %layer,
            manifest = %job.manifest.as_ref().map(ToString::to_string).unwrap_or_default());
        let _guard = span.enter();
        if self.store.layer_status(layer, &self.index_state).await? == LayerStatus::Done {
            self.complete_waiting(layer).await?;
            return Ok(FetchOutcome::AlreadyIndexed);
        }
        let url = match reqwest::Url::parse(&job.layer.uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return self
                    .fail_fetch(layer, "layer uri is not an http(s) URL")
                    .await;
            }
        };
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, values) in &job.layer.headers {
            let Ok(name) = reqwest::header::HeaderName::from_bytes(name.as_bytes()) else {
                return self
                    .fail_fetch(layer, &format!("invalid header name {name:?}"))
                    .await;
            };
            for v in values {
                let Ok(v) = reqwest::header::HeaderValue::from_str(v) else {
                    return self
                        .fail_fetch(layer, &format!("invalid value for header {name}"))
                        .await;
                };
                headers.append(name.clone(), v);
            }
        }
        let client = http_client()?;
        let resp = client
            .get(url.clone())
            .headers(headers)
            .send()
            .await
            .map_err(|e| IndexError::Interrupted(format!("GET {url}: {}", describe(&e))))?;
        let status = resp.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(IndexError::Interrupted(format!("GET {url}: {status}")));
        }
        if !status.is_success() {
            return self
                .fail_fetch(layer, &format!("GET {url}: registry answered {status}"))
                .await;
        }
        let stream = resp
            .bytes_stream()
            .map_err(|e| std::io::Error::other(describe(&e)));
        let reader: BlobReader = Box::pin(tokio_util::io::StreamReader::new(stream));
        match store_verified(self.blobs.as_ref(), layer, reader, MAX_LAYER_BLOB_BYTES).await {
            Ok(bytes) => {
                tracing::info!(bytes, "layer blob fetched");
                let indexed = if self.index_after_fetch {
                    Some(self.index_layer(layer).await?)
                } else {
                    None
                };
                Ok(FetchOutcome::Fetched { bytes, indexed })
            }
            Err(e @ (StageError::Mismatch { .. } | StageError::TooLarge { .. })) => {
                self.fail_fetch(layer, &format!("GET {url}: {e}")).await
            }
            // The body stream broke or the blob store failed: retry.
            Err(StageError::Blob(e)) => Err(IndexError::Blob(e)),
        }
    }

    async fn fail_fetch(&self, layer: &Digest, reason: &str) -> Result<FetchOutcome, IndexError> {
        tracing::warn!(reason, "layer fetch failed");
        self.store
            .fail_layer_scan(layer, &self.index_state, reason)
            .await?;
        self.complete_waiting(layer).await?;
        Ok(FetchOutcome::Failed(reason.to_owned()))
    }

    /// Handles one queue message body: a fetch job or an S3 notification. Malformed bodies are logged and
    /// dropped (the same bytes will never parse); an error means "redeliver".
    pub async fn handle_message(&self, body: &str) -> Result<(), IndexError> {
        let parsed: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "queue message is not JSON; dropped");
                return Ok(());
            }
        };
        match FetchJob::from_value(&parsed) {
            Some(Ok(job)) => {
                let outcome = self.fetch_layer(&job).await?;
                tracing::info!(layer = %job.layer.hash, outcome = ?outcome, "fetch job handled");
                Ok(())
            }
            Some(Err(e)) => {
                tracing::error!(error = %e, "malformed fetch job; dropped");
                Ok(())
            }
            None => self.handle_s3_notification(&parsed).await,
        }
    }
}

/// reqwest's error with its causes (it displays only the outermost).
fn describe(e: &reqwest::Error) -> String {
    crate::error_chain(e)
}

/// The in-process worker of `lucid serve`: receives from `queue` until `shutdown` fires, hands each body to
/// [`Indexer::handle_message`], deletes it when handled; failures stay queued and come back after the
/// visibility timeout.
pub async fn run_worker(
    indexer: Indexer,
    queue: std::sync::Arc<dyn Queue>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = tokio::select! {
            r = queue.receive(10, Duration::from_secs(1), None) => r,
            _ = shutdown.changed() => return,
        };
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "receiving fetch jobs failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in messages {
            match indexer.handle_message(&m.body).await {
                Ok(()) => {
                    if let Err(e) = queue.delete_batch(std::slice::from_ref(&m.receipt)).await {
                        tracing::error!(error = %e, "deleting a handled message failed");
                    }
                }
                Err(e) => {
                    tracing::error!(message_id = %m.id, error = %e, "job failed; will retry");
                }
            }
        }
    }
}
