//! Local scans (`lucid scan IMAGE`): index an image on disk in process with the same [`Indexer`] code path
//! the indexer function runs (layers already indexed under the current scanner set are not read again),
//! then apply the CI policy ([`policy`]) to the vulnerability report.

pub mod policy;

use std::io::Read;
use std::path::Path;

use crate::image::{Image, ImageError, ImageLayer};
use crate::indexer::{IndexError, Indexer, LayerOutcome};
use crate::layer::rootfs::RootfsError;
use crate::model::{Digest, IndexReport, IndexState};

/// Why a local scan failed. Displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    Rootfs(#[from] RootfsError),
    #[error("indexing {manifest} failed: {reason}")]
    IndexFailed { manifest: Digest, reason: String },
    #[error("indexing {manifest} did not finish (state {state})")]
    Incomplete { manifest: Digest, state: String },
    #[error("the scan was interrupted: {0}")]
    Interrupted(String),
}

/// Hooks for progress display; every method has a silent default.
pub trait ScanObserver: Send + Sync {
    /// Wraps the reader of a layer about to be indexed (e.g. to count bytes for a progress bar).
    fn layer_reader(
        &self,
        _index: usize,
        _total: usize,
        _layer: &ImageLayer,
        reader: Box<dyn Read + Send>,
    ) -> Box<dyn Read + Send> {
        reader
    }

    /// A layer was handled.
    fn layer_done(&self, _index: usize, _layer: &ImageLayer, _outcome: &LayerOutcome) {}
}

/// An observer that shows nothing.
pub struct Quiet;

impl ScanObserver for Quiet {}

/// Indexes an opened image: records its manifest, indexes each layer not yet indexed from the image's
/// own blobs, and returns the manifest's IndexReport.
pub async fn index_image(
    indexer: &Indexer,
    image: &Image,
    observer: &dyn ScanObserver,
) -> Result<IndexReport, ScanError> {
    use tracing::Instrument as _;
    let span = tracing::info_span!("index_image", manifest = %image.manifest.hash);
    index_image_inner(indexer, image, observer)
        .instrument(span)
        .await
}

async fn index_image_inner(
    indexer: &Indexer,
    image: &Image,
    observer: &dyn ScanObserver,
) -> Result<IndexReport, ScanError> {
    let manifest = &image.manifest;
    let registration = indexer.submit_manifest(manifest).await?;
    let total = image.layers.len();
    let mut seen = std::collections::HashSet::new();
    for (index, layer) in image.layers.iter().enumerate() {
        if !seen.insert(layer.digest.clone()) {
            continue;
        }
        let outcome = if registration.layers_to_scan.contains(&layer.digest) {
            let reader = image.open_layer(layer)?;
            let reader = observer.layer_reader(index, total, layer, reader);
            indexer
                .index_layer_from_reader(&layer.digest, reader)
                .await?
        } else {
            LayerOutcome::AlreadyIndexed
        };
        observer.layer_done(index, layer, &outcome);
        if let LayerOutcome::Failed(reason) = outcome {
            return Err(ScanError::IndexFailed {
                manifest: manifest.hash.clone(),
                reason: format!("layer {}: {reason}", layer.digest),
            });
        }
    }
    let report =
        indexer
            .index_report(&manifest.hash)
            .await?
            .ok_or_else(|| ScanError::Incomplete {
                manifest: manifest.hash.clone(),
                state: "unknown".into(),
            })?;
    match IndexState::parse(&report.state) {
        Some(IndexState::IndexFinished) => Ok(report),
        Some(IndexState::IndexError) => Err(ScanError::IndexFailed {
            manifest: manifest.hash.clone(),
            reason: report.err,
        }),
        _ => Err(ScanError::Incomplete {
            manifest: manifest.hash.clone(),
            state: report.state,
        }),
    }
}

/// Indexes an unpacked root filesystem with the same scanners (no database needed). The report is named by
/// the directory's path, since a directory has no content digest.
pub async fn index_rootfs(root: &Path) -> Result<(IndexReport, u64), ScanError> {
    let root = root.canonicalize().map_err(|e| {
        ScanError::Rootfs(RootfsError::Io {
            path: root.display().to_string(),
            source: e,
        })
    })?;
    let scan_root = root.clone();
    let scan = tokio::task::spawn_blocking(move || {
        let scanners = crate::ecosystems::default_scanners();
        let refs: Vec<&dyn crate::scanner::PackageScanner> =
            scanners.iter().map(|s| s.as_ref()).collect();
        crate::layer::rootfs::scan_directory(
            &scan_root,
            &refs,
            &crate::layer::LayerLimits::default(),
        )
    })
    .await
    .map_err(|e| ScanError::Interrupted(e.to_string()))??;
    // One line for the user (a root filesystem often holds a few huge binaries), each file at debug level.
    for w in &scan.warnings {
        tracing::debug!("{w}");
    }
    if !scan.warnings.is_empty() {
        tracing::warn!(
            "{} file(s) of {} were skipped (larger than the per-file cap, or unreadable); \
             LUCID_LOG=debug lists them",
            scan.warnings.len(),
            root.display()
        );
    }
    let id = Digest::sha256_of(format!("rootfs:{}", root.display()).as_bytes());
    let report = crate::layer::coalesce(&id, &[(id.clone(), scan.contents)]);
    Ok((report, scan.files))
}
