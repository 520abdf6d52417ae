//! The scanner interface: how an ecosystem finds what is installed in a layer.
//!
//! The layer reader streams a layer's tar once. For every regular file it asks each scanner whether it
//! [`claims`](PackageScanner::claims) the entry; a claimed file is read (up to the scanner's size cap) and
//! handed to [`scan`](PackageScanner::scan), which appends what it found to the layer's [`LayerContents`].
//! Scanners are pure: no I/O, no global state, never panic on input; bad input is a [`ScanError`].
//!
//! Each scanner has a name and a version; the sorted list of `name@version` of the registered set, hashed,
//! is the `index_state` (as in Clair): when any scanner changes its version, clients know to re-index.

use crate::model::LayerContents;

/// What a scanner may look at before deciding to claim a tar entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryInfo<'a> {
    /// Normalized path inside the layer: relative, `/`-separated, no leading `./` or `/`, no `..`.
    pub path: &'a str,
    /// Size in bytes of the file as stored in the tar.
    pub size: u64,
    /// Unix permission bits.
    pub mode: u32,
}

impl EntryInfo<'_> {
    /// True when any execute bit is set.
    pub fn is_executable(&self) -> bool {
        self.mode & 0o111 != 0
    }

    /// The final path component.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// Why a scanner could not make sense of a file. The layer reader records it; whether it fails the layer is
/// the reader's decision (a garbage package database does; one unreadable `METADATA` among hundreds is
/// logged and skipped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scanner}: {path}: {reason}")]
pub struct ScanError {
    pub scanner: &'static str,
    pub path: String,
    pub reason: String,
}

impl ScanError {
    pub fn new(scanner: &'static str, path: &str, reason: impl Into<String>) -> ScanError {
        ScanError {
            scanner,
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Default cap on the bytes read for one claimed file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 64 * 1024 * 1024;

/// A scanner for one kind of package database (or the distribution files).
pub trait PackageScanner: Send + Sync {
    /// Stable name, e.g. `dpkg`, `python`, `os-release`.
    fn name(&self) -> &'static str;

    /// Bump whenever the scanner's output for the same input may change.
    fn version(&self) -> &'static str;

    /// Whether this scanner wants the file. Called for every regular file in every layer: keep it cheap.
    fn claims(&self, entry: &EntryInfo<'_>) -> bool;

    /// Largest file this scanner reads; a claimed file over the cap is skipped and reported.
    fn max_file_size(&self) -> u64 {
        DEFAULT_MAX_FILE_SIZE
    }

    /// Parses one claimed file and appends what it found.
    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError>;

    /// Whether an error from this scanner should fail the whole layer (true for OS package databases, whose
    /// loss would hide every OS package; false for per-package metadata files).
    fn error_fails_layer(&self) -> bool {
        false
    }
}

/// The index state of a scanner set, as Clair reports it at `GET /indexer/api/v1/index_state`: the
/// lowercase hex sha256 of the scanners' `name@version` lines, sorted bytewise, each line ending in `\n`
/// (duplicates kept). Sorting makes it independent of registration order; any name or version change
/// changes it, which tells clients that stored index reports are stale and images must be re-indexed.
pub fn index_state(scanners: &[&dyn PackageScanner]) -> String {
    use sha2::Digest as _;
    let mut lines: Vec<String> = scanners
        .iter()
        .map(|s| format!("{}@{}\n", s.name(), s.version()))
        .collect();
    lines.sort_unstable();
    let mut hasher = sha2::Sha256::new();
    for line in &lines {
        hasher.update(line.as_bytes());
    }
    hex::encode(hasher.finalize())
}
