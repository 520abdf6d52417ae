//! Indexing: from a staged layer blob to stored layer contents, and from finished layers to a manifest's
//! IndexReport. `functions/indexer` (S3 notifications, usually through SQS) and the CLI call into here.
//!
//! Idempotency: a layer already indexed under the current scanner set is not read again (duplicate S3
//! events are common); a layer whose scan was interrupted is claimed again on redelivery. Input problems
//! (corrupt blob, wrong digest) mark the layer failed with the reason and are not retried; transport
//! problems (the blob store or database failing) return an error so the event is redelivered.

pub mod fetch;
pub mod registry;
pub mod s3_event;

use std::io::Read;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio_util::io::SyncIoBridge;

use crate::blob::{BlobError, BlobKey, BlobStore};
use crate::layer::{LayerError, LayerLimits, coalesce, read_layer};
use crate::model::{Digest, IndexReport, Manifest};
use crate::scanner::{PackageScanner, index_state};
use crate::store::index::{IndexStore, ManifestRegistration};
use crate::store::{Database, StoreError};

/// A failure worth retrying: the event should be redelivered.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("blob store: {0}")]
    Blob(#[from] BlobError),
    #[error("reading the layer was interrupted: {0}")]
    Interrupted(String),
}

/// Where a layer blob is read from.
enum LayerSource {
    /// `layers/<digest>` in the blob store (the deployed path).
    BlobStore,
    /// A reader over the blob as stored (an image on disk).
    Reader(Box<dyn Read + Send>),
}

/// What happened to one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutcome {
    Indexed {
        packages: usize,
        warnings: usize,
    },
    AlreadyIndexed,
    /// The layer is unusable; the reason is stored and reported in its manifests' IndexReports.
    Failed(String),
}

/// The indexer: scanners, limits, and where layers and results live.
#[derive(Clone)]
pub struct Indexer {
    store: IndexStore,
    blobs: Arc<dyn BlobStore>,
    scanners: Arc<Vec<Box<dyn PackageScanner>>>,
    index_state: String,
    limits: LayerLimits,
    index_after_fetch: bool,
}

impl Indexer {
    /// An indexer with every registered scanner and the default limits.
    pub fn new(db: Database, blobs: Arc<dyn BlobStore>) -> Indexer {
        let scanners = crate::ecosystems::default_scanners();
        let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
        let index_state = index_state(&refs);
        Indexer {
            store: IndexStore::new(db),
            blobs,
            scanners: Arc::new(scanners),
            index_state,
            limits: LayerLimits::default(),
            index_after_fetch: true,
        }
    }

    /// Whether a fetch job indexes the layer it stored (default true). Turn it off where the blob store
    /// announces new objects itself (S3 bucket notifications), so each layer is scanned once.
    pub fn with_index_after_fetch(mut self, on: bool) -> Indexer {
        self.index_after_fetch = on;
        self
    }

    /// Where layer blobs are staged.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }

    /// Clair's `index_state`: changes whenever the scanner set changes.
    pub fn index_state(&self) -> &str {
        &self.index_state
    }

    pub fn store(&self) -> &IndexStore {
        &self.store
    }

    /// Records a manifest. When all its layers are already indexed, the report is built at once.
    pub async fn submit_manifest(
        &self,
        manifest: &Manifest,
    ) -> Result<ManifestRegistration, IndexError> {
        let mut reg = self
            .store
            .register_manifest(manifest, &self.index_state)
            .await?;
        if reg.layers_to_scan.is_empty()
            && !reg.state.is_terminal()
            && let Some(state) = self
                .store
                .try_complete_manifest(&manifest.hash, &self.index_state, coalesce)
                .await?
        {
            reg.state = state;
        }
        Ok(reg)
    }

    pub async fn index_report(&self, manifest: &Digest) -> Result<Option<IndexReport>, IndexError> {
        Ok(self.store.index_report(manifest).await?)
    }

    /// Indexes the blob staged at `layers/<digest>`, then completes every manifest that was waiting for it.
    pub async fn index_layer(&self, digest: &Digest) -> Result<LayerOutcome, IndexError> {
        self.index_layer_with(digest, LayerSource::BlobStore).await
    }

    /// As [`index_layer`](Self::index_layer), reading the blob from `reader` (the blob exactly as stored)
    /// instead of the blob store: the CLI's path for images on disk. A layer already indexed under the
    /// current scanner set is not read.
    pub async fn index_layer_from_reader(
        &self,
        digest: &Digest,
        reader: Box<dyn Read + Send>,
    ) -> Result<LayerOutcome, IndexError> {
        self.index_layer_with(digest, LayerSource::Reader(reader))
            .await
    }

    async fn index_layer_with(
        &self,
        digest: &Digest,
        source: LayerSource,
    ) -> Result<LayerOutcome, IndexError> {
        let span = tracing::info_span!("index_layer", layer = %digest);
        let _guard = span.enter();
        let outcome = if self
            .store
            .begin_layer_scan(digest, &self.index_state)
            .await?
        {
            self.scan(digest, source).await?
        } else {
            LayerOutcome::AlreadyIndexed
        };
        self.complete_waiting(digest).await?;
        Ok(outcome)
    }

    /// Completes (or fails) every manifest waiting on `digest` whose layers are now all settled.
    async fn complete_waiting(&self, digest: &Digest) -> Result<(), IndexError> {
        for manifest in self
            .store
            .manifests_waiting_on(digest, &self.index_state)
            .await?
        {
            let state = self
                .store
                .try_complete_manifest(&manifest, &self.index_state, coalesce)
                .await?;
            tracing::info!(manifest = %manifest, state = ?state, "manifest checked after layer");
        }
        Ok(())
    }

    async fn scan(&self, digest: &Digest, source: LayerSource) -> Result<LayerOutcome, IndexError> {
        let reader: Box<dyn Read + Send> = match source {
            LayerSource::Reader(r) => r,
            LayerSource::BlobStore => match self.blobs.get(&BlobKey::layer(digest)).await {
                Ok(r) => Box::new(SyncIoBridge::new_with_handle(
                    r,
                    tokio::runtime::Handle::current(),
                )),
                Err(BlobError::NotFound(key)) => {
                    let reason = format!("blob {key} not found in the blob store");
                    self.store
                        .fail_layer_scan(digest, &self.index_state, &reason)
                        .await?;
                    return Ok(LayerOutcome::Failed(reason));
                }
                Err(e) => return Err(e.into()),
            },
        };
        let scanners = Arc::clone(&self.scanners);
        let limits = self.limits.clone();
        let expected = digest.clone();
        let result = tokio::task::spawn_blocking(move || {
            let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
            read_layer(reader, &expected, &refs, &limits)
        })
        .await
        .map_err(|e| IndexError::Interrupted(e.to_string()))?;
        match result {
            Ok(scan) => {
                for w in &scan.warnings {
                    tracing::warn!(warning = %w, "layer scan warning");
                }
                self.store
                    .finish_layer_scan(
                        digest,
                        &self.index_state,
                        &scan.contents,
                        scan.blob_bytes,
                        scan.tar_bytes,
                    )
                    .await?;
                Ok(LayerOutcome::Indexed {
                    packages: scan.contents.packages.len(),
                    warnings: scan.warnings.len(),
                })
            }
            // The blob store failed mid-stream: retry later; the claim is re-taken on redelivery.
            Err(LayerError::Read { source, .. }) => {
                Err(IndexError::Interrupted(source.to_string()))
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(reason = %reason, "layer failed");
                self.store
                    .fail_layer_scan(digest, &self.index_state, &reason)
                    .await?;
                Ok(LayerOutcome::Failed(reason))
            }
        }
    }

    /// Handles one Lambda payload: an SQS batch whose bodies are S3 notifications or fetch jobs
    /// ([`fetch::FetchJob`]; the deployed path), or an S3 notification delivered directly. Returns the SQS partial-batch response (`batchItemFailures`
    /// lists only messages worth retrying); a direct S3 event with a retryable failure is an error.
    pub async fn handle_event(&self, event: &Value) -> Result<Value, IndexError> {
        let records = event.get("Records").and_then(Value::as_array);
        let is_sqs = records
            .and_then(|r| r.first())
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if !is_sqs {
            self.handle_s3_notification(event).await?;
            return Ok(json!({ "batchItemFailures": [] }));
        }
        let mut failures = Vec::new();
        for record in records.into_iter().flatten() {
            let id = record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // A fetch job or an S3 notification; malformed bodies are dropped (retrying cannot help).
            if let Err(e) = self.handle_message(body).await {
                tracing::error!(message_id = id, error = %e, "indexing failed; will retry");
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
        Ok(json!({ "batchItemFailures": failures }))
    }

    pub(crate) async fn handle_s3_notification(&self, event: &Value) -> Result<(), IndexError> {
        let objects = match s3_event::created_objects_from_value(event) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "ignoring a malformed S3 notification");
                return Ok(());
            }
        };
        for obj in objects {
            match obj.layer_digest() {
                Some(digest) => {
                    let outcome = self.index_layer(&digest).await?;
                    tracing::info!(layer = %digest, outcome = ?outcome, "layer handled");
                }
                None => tracing::warn!(key = %obj.key, "object is not a layer blob; ignored"),
            }
        }
        Ok(())
    }
}
