//! `lucid report --server URL IMAGE`: remote mode against a deployed Lucid (or `lucid serve`). The image
//! is opened as `scan` opens it; its manifest is posted to Clair's `POST /indexer/api/v1/index_report`;
//! the layers the server lists under `pending_layers` with `"action": "upload"` are streamed to their
//! upload URLs (presigned S3 PUTs when deployed, the local upload route of `lucid serve`); the index report
//! is polled until finished; the vulnerability report is printed like `scan` prints it, with the same
//! formats, gate and exit codes.

use std::collections::BTreeMap;
use std::io::{IsTerminal as _, Read as _};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{ProgressBar, ProgressStyle};
use lucid::image::{Image, ImageLayer, ScanTarget};
use lucid::model::{ReportWarning, VulnerabilityReport};
use serde::Deserialize;

use super::OutputArgs;

/// How `report` reaches the server.
pub(crate) struct Remote {
    pub server: String,
    /// A bearer token, as given or minted from the PSK.
    pub token: Option<String>,
    /// Give up waiting for the index report after this long.
    pub timeout: Duration,
}

impl Remote {
    /// The bearer token: `token` as given, else one minted from `psk` (base64, the server's `LUCID_PSK`).
    pub fn credentials(
        token: Option<String>,
        psk: Option<String>,
        issuer: &str,
    ) -> anyhow::Result<Option<String>> {
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            return Ok(Some(token));
        }
        let Some(psk) = psk.filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD
            .decode(psk.trim())
            .context("--psk / LUCID_PSK must be base64 (standard alphabet)")?;
        Ok(Some(lucid::api::auth::mint(&key, issuer, 600)?))
    }
}

/// Clair's IndexReport as far as a client needs it, plus Lucid's `pending_layers`.
#[derive(Deserialize)]
struct Staged {
    state: String,
    #[serde(default)]
    err: String,
    #[serde(default)]
    pending_layers: Vec<Pending>,
}

#[derive(Deserialize)]
struct Pending {
    hash: String,
    action: String,
    #[serde(default)]
    upload: Option<Upload>,
}

#[derive(Deserialize)]
struct Upload {
    #[serde(default = "put")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

fn put() -> String {
    "PUT".to_owned()
}

/// Clair's error body.
#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
}

/// `lucid report --server URL IMAGE`.
pub(crate) async fn report(
    remote: Remote,
    image: &Path,
    platform: Option<&str>,
    registry: &crate::RegistryArgs,
    args: &OutputArgs,
) -> anyhow::Result<ExitCode> {
    let policy = crate::scan::load_policy(args)?;
    let base = reqwest::Url::parse(&remote.server)
        .with_context(|| format!("--server {:?} is not a URL", remote.server))?;
    if !matches!(base.scheme(), "http" | "https") {
        bail!(
            "--server {}: only http and https are supported",
            remote.server
        );
    }
    let base = remote.server.trim_end_matches('/').to_owned();
    let opened: Arc<Image> = match crate::scan::open_image(crate::scan::Source {
        image,
        platform,
        registry,
    })
    .await?
    {
        ScanTarget::Image(image) => Arc::from(image),
        ScanTarget::Rootfs(dir) => bail!(
            "{}: a directory is scanned as a root filesystem, which remote mode cannot upload; \
             use `lucid scan`, or give an image archive or OCI layout",
            dir.display()
        ),
    };
    let client = Client {
        http: reqwest::Client::builder()
            .user_agent(concat!("lucid/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .build()
            .context("building the HTTP client")?,
        base,
        token: remote.token,
    };
    let index_url = format!("{}/indexer/api/v1/index_report", client.base);
    let response = client
        .send(
            client.http.post(&index_url).json(&opened.manifest),
            "POST",
            &index_url,
        )
        .await?;
    let staged: Staged = response
        .json()
        .await
        .with_context(|| format!("POST {index_url}: not an index report"))?;
    let interactive = std::io::stderr().is_terminal();
    for pending in &staged.pending_layers {
        if pending.action != "upload" {
            continue;
        }
        let Some(target) = &pending.upload else {
            bail!(
                "the server asked for layer {} without saying where to upload it",
                pending.hash
            );
        };
        let layer = opened
            .layers
            .iter()
            .find(|l| l.digest.to_string() == pending.hash)
            .with_context(|| {
                format!(
                    "the server asked for layer {}, which is not in the image",
                    pending.hash
                )
            })?
            .clone();
        client
            .upload(opened.clone(), layer, target, interactive)
            .await?;
    }
    let hash = opened.manifest.hash.to_string();
    let state_url = format!("{index_url}/{hash}");
    let deadline = Instant::now() + remote.timeout;
    let mut wait = Duration::from_millis(200);
    let mut state = staged.state;
    let mut err = staged.err;
    loop {
        match state.as_str() {
            "IndexFinished" => break,
            "IndexError" => bail!("the server could not index the image: {err}"),
            _ => {}
        }
        if Instant::now() >= deadline {
            bail!(
                "the index report of {hash} is still {state} after {}s (--timeout)",
                remote.timeout.as_secs()
            );
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
        let response = client
            .send(client.http.get(&state_url), "GET", &state_url)
            .await?;
        let polled: Staged = response
            .json()
            .await
            .with_context(|| format!("GET {state_url}: not an index report"))?;
        state = polled.state;
        err = polled.err;
    }
    let report_url = format!("{}/matcher/api/v1/vulnerability_report/{hash}", client.base);
    let report: VulnerabilityReport = client
        .send(client.http.get(&report_url), "GET", &report_url)
        .await?
        .json()
        .await
        .with_context(|| format!("GET {report_url}: not a vulnerability report"))?;
    if policy.fail_on.is_some()
        && let Some(w) = report
            .warnings
            .iter()
            .find(|w| w.code == ReportWarning::NO_FEEDS_LOADED)
    {
        bail!(
            "cannot apply --fail-on: {} (the server has no feeds loaded)",
            w.message
        );
    }
    let name = opened
        .name
        .clone()
        .unwrap_or_else(|| image.display().to_string());
    let mut notes = opened.notes.clone();
    crate::scan::finish(report, name, &mut notes, &policy, args)
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// Sends with the bearer token; a non-2xx answer becomes an error naming the request and the server's
    /// message.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ApiError>(&body)
            .map(|e| e.message)
            .unwrap_or_else(|_| body.chars().take(200).collect());
        let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
            " (give --token or --psk, or LUCID_TOKEN / LUCID_PSK)"
        } else {
            ""
        };
        bail!("{method} {url}: {status}: {}{hint}", message.trim())
    }

    /// Streams one layer blob to its upload URL, with a progress bar on a terminal. The bearer token goes
    /// only to the server itself, never to another host (a presigned URL carries its own authorization).
    async fn upload(
        &self,
        image: Arc<Image>,
        layer: ImageLayer,
        target: &Upload,
        interactive: bool,
    ) -> anyhow::Result<()> {
        let method = reqwest::Method::from_bytes(target.method.as_bytes())
            .with_context(|| format!("upload method {:?}", target.method))?;
        let bar = ProgressBar::with_draw_target(
            Some(layer.size),
            crate::scan::progress_target(interactive),
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let hex = layer.digest.hex();
        bar.set_prefix(format!("upload {}", hex.get(..12).unwrap_or(hex)));
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(8);
        let reading = layer.clone();
        let counter = bar.clone();
        tokio::task::spawn_blocking(move || {
            let mut reader = match image.open_layer(&reading) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            };
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        counter.inc(n as u64);
                        let chunk = bytes::Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                        if tx.blocking_send(Ok(chunk)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let mut request = self
            .http
            .request(method.clone(), &target.url)
            .header(reqwest::header::CONTENT_LENGTH, layer.size)
            .body(reqwest::Body::wrap_stream(stream));
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let same_server = reqwest::Url::parse(&target.url)
            .ok()
            .zip(reqwest::Url::parse(&self.base).ok())
            .is_some_and(|(a, b)| a.origin() == b.origin());
        let result = if same_server {
            self.send(request, method.as_str(), &target.url).await
        } else {
            let unauthenticated = Client {
                http: self.http.clone(),
                base: self.base.clone(),
                token: None,
            };
            unauthenticated
                .send(request, method.as_str(), &target.url)
                .await
        };
        bar.finish_and_clear();
        result
            .map(|_| ())
            .with_context(|| format!("uploading layer {}", layer.digest))
    }
}
