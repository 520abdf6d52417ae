//! Streams one layer blob (gzip, zstd or plain tar) exactly once, verifies its digest and hands the files
//! the scanners claim to them.
//!
//! The reader is synchronous: the indexer runs it inside `spawn_blocking` on an S3 body bridged with
//! `SyncIoBridge`, so nothing is spooled to disk (Clair spools the tar to a temp file; a Lambda has little
//! disk, and scanners here only need the files they claim).
//!
//! # Memory bound
//!
//! Peak memory does not grow with the layer size. It is at most, roughly:
//!
//! - the decompressor state: 32 KiB for gzip, `2^zstd_max_window_log` bytes for zstd (128 MiB at the
//!   default 27, which is zstd's own default limit; layers compressed at ordinary levels use ≤ 8 MiB),
//! - one 64 KiB read buffer,
//! - the tar headers of one entry, extension headers included (`max_header_bytes`),
//! - one claimed file (`max_claimed_file_bytes`, or the scanner's smaller `max_file_size`): the buffer is
//!   reused from file to file,
//! - what the scanners append to [`LayerContents`], which is proportional to the claimed bytes
//!   (`max_total_claimed_bytes`), and at most [`MAX_WARNINGS`] warnings.
//!
//! Unclaimed entries are streamed to a sink without buffering.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use sha2::Digest as _;

use crate::model::{Digest, DigestAlgorithm, LayerContents};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

/// Name used in [`ScanError::scanner`] for warnings raised by the reader itself (not by a scanner).
pub const READER_NAME: &str = "layer-reader";

/// At most this many warnings are kept per layer; the rest are counted in one final warning so a hostile
/// layer with millions of bad paths cannot grow memory.
pub const MAX_WARNINGS: usize = 1000;

/// Size of the buffer between the blob and the decompressor.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Caps that keep a hostile or broken layer from exhausting memory or time. Every cap that is hit fails
/// the layer with [`LayerError::LimitExceeded`], except the per-file cap, which skips the file with a
/// warning (one oversized file should not hide the rest of the layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerLimits {
    /// Decompressed (tar) bytes: the decompression-bomb cap. Default 32 GiB, above any real image layer.
    pub max_uncompressed_bytes: u64,
    /// Highest decompressed/compressed ratio once more than [`ratio_grace_bytes`](Self::ratio_grace_bytes)
    /// have been decompressed. Default 1100: gzip cannot exceed ~1032:1, so only zstd bombs (which reach
    /// millions to one) and gzip of pure zeros come near it.
    pub max_compression_ratio: u64,
    /// Decompressed bytes allowed before the ratio is checked, so small highly compressible layers (a few
    /// config files) are never rejected. Default 64 MiB.
    pub ratio_grace_bytes: u64,
    /// Tar entries (headers), extension headers included. Default 2,000,000.
    pub max_entries: u64,
    /// Bytes of one entry's path, as stored (PAX/GNU long names included). Default 4096 (Linux PATH_MAX).
    pub max_path_len: usize,
    /// Bytes of tar headers read for one entry, including PAX and GNU long-name extension data, which the
    /// tar crate buffers whole. Default 1 MiB.
    pub max_header_bytes: u64,
    /// Bytes read for one claimed file, whatever the scanner allows. Default 64 MiB.
    pub max_claimed_file_bytes: u64,
    /// Bytes read for all claimed files of the layer together. Default 512 MiB.
    pub max_total_claimed_bytes: u64,
    /// Largest zstd window (log2 bytes) accepted; bigger windows need that much memory. Default 27.
    pub zstd_max_window_log: u32,
}

impl Default for LayerLimits {
    fn default() -> Self {
        LayerLimits {
            max_uncompressed_bytes: 32 << 30,
            max_compression_ratio: 1100,
            ratio_grace_bytes: 64 << 20,
            max_entries: 2_000_000,
            max_path_len: 4096,
            max_header_bytes: 1 << 20,
            max_claimed_file_bytes: 64 << 20,
            max_total_claimed_bytes: 512 << 20,
            zstd_max_window_log: 27,
        }
    }
}

/// The compression of a layer blob, sniffed from its first bytes (the media type is not trusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// Gzip starts `1f 8b`, a zstd frame `28 b5 2f fd`; anything else is read as plain tar.
    pub fn sniff(first_bytes: &[u8]) -> Compression {
        if first_bytes.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "uncompressed",
        })
    }
}

/// Why a layer could not be indexed.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer digest mismatch: expected {expected}, blob hashes to {actual}")]
    DigestMismatch { expected: Digest, actual: String },
    #[error("reading the layer blob failed after {blob_bytes} bytes: {source}")]
    Read { blob_bytes: u64, source: io::Error },
    #[error("{compression} stream is truncated: the blob ends after {blob_bytes} bytes")]
    TruncatedCompression {
        compression: Compression,
        blob_bytes: u64,
    },
    #[error("{compression} stream is corrupt (blob byte ~{blob_bytes}): {reason}")]
    CorruptCompression {
        compression: Compression,
        blob_bytes: u64,
        reason: String,
    },
    #[error(
        "tar archive is truncated: entry {entry} {path:?} declares {declared} bytes, only {read} present"
    )]
    TruncatedEntry {
        entry: u64,
        path: String,
        declared: u64,
        read: u64,
    },
    #[error(
        "tar archive is truncated inside the headers of entry {entry} (at tar byte {tar_bytes})"
    )]
    TruncatedHeader { entry: u64, tar_bytes: u64 },
    #[error("not a tar archive: {reason}")]
    NotTar { reason: String },
    #[error("bad tar header for entry {entry} (at tar byte ~{tar_bytes}): {reason}")]
    BadTarHeader {
        entry: u64,
        tar_bytes: u64,
        reason: String,
    },
    #[error("layer exceeds the limit on {what} ({limit})")]
    LimitExceeded { what: &'static str, limit: u64 },
    #[error("scanner failed the layer: {0}")]
    ScannerFailed(ScanError),
}

/// What reading one layer produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayerScan {
    /// Packages, distributions and repositories the scanners found, and the layer's whiteouts.
    pub contents: LayerContents,
    /// Bytes of the blob as stored (compressed), all of which were hashed.
    pub blob_bytes: u64,
    /// Bytes of the decompressed tar stream.
    pub tar_bytes: u64,
    /// Tar entries seen (after extension headers were folded into their entry).
    pub entries: u64,
    /// Problems that did not fail the layer: unreadable metadata files, skipped paths, oversized files.
    pub warnings: Vec<ScanError>,
}

/// Reads a layer blob to its end, verifying `expected`, and runs `scanners` on the files they claim.
///
/// The tar is iterated once. Paths are normalized (no leading `./` or `/`); entries whose path has a `..`
/// component are skipped and reported. Whiteout markers are recorded in
/// [`LayerContents::whiteouts`]. Symlinks are never followed and hard links are not resolved (resolving
/// would mean keeping every claimed file's bytes; a claimed path that is a hard link is reported).
///
/// The digest is checked only after the whole blob was read, including whatever follows the tar
/// end-of-archive marker, so the result is never returned for bytes other than the ones named.
pub fn read_layer(
    blob: impl Read,
    expected: &Digest,
    scanners: &[&dyn PackageScanner],
    limits: &LayerLimits,
) -> Result<LayerScan, LayerError> {
    let mut blob = blob;
    let progress = Rc::new(Progress::new(expected.algorithm()));
    let mut scan = LayerScan::default();
    let outcome = read_tar(&mut blob, &progress, scanners, limits, &mut scan);
    // A failure while parsing is reported as such; otherwise the blob must hash to what the client named.
    outcome?;
    // Drain anything after the compressed stream so the digest covers the whole blob.
    let mut rest = HashingReader {
        inner: &mut blob,
        progress: Rc::clone(&progress),
    };
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        return Err(progress.take_failure().unwrap_or(LayerError::Read {
            blob_bytes: progress.blob_bytes.get(),
            source: e,
        }));
    }
    let actual = progress.finish_digest();
    if actual != expected.to_string() {
        return Err(LayerError::DigestMismatch {
            expected: expected.clone(),
            actual,
        });
    }
    scan.blob_bytes = progress.blob_bytes.get();
    scan.tar_bytes = progress.tar_bytes.get();
    super::settle_contents(&mut scan.contents);
    Ok(scan)
}

/// The hash of the blob, for whichever algorithm the expected digest names.
enum BlobHasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// State shared by the reader chain (blob → hashing → buffer → decompressor → counting → tar) and the
/// entry loop. The tar crate owns the chain, so the counters and the first failure live here, behind an
/// `Rc`, instead of being threaded through `io::Error`s (which the tar crate rewraps).
struct Progress {
    hasher: RefCell<BlobHasher>,
    blob_bytes: Cell<u64>,
    blob_eof: Cell<bool>,
    tar_bytes: Cell<u64>,
    /// Bytes the tar crate may still read before the current `next()` returns; `None` outside `next()`.
    header_budget: Cell<Option<u64>>,
    /// The first precise failure seen inside the chain; it wins over the tar crate's rewrapped error.
    failure: RefCell<Option<LayerError>>,
}

impl Progress {
    fn new(algorithm: DigestAlgorithm) -> Progress {
        let hasher = match algorithm {
            DigestAlgorithm::Sha256 => BlobHasher::Sha256(sha2::Sha256::new()),
            DigestAlgorithm::Sha512 => BlobHasher::Sha512(sha2::Sha512::new()),
        };
        Progress {
            hasher: RefCell::new(hasher),
            blob_bytes: Cell::new(0),
            blob_eof: Cell::new(false),
            tar_bytes: Cell::new(0),
            header_budget: Cell::new(None),
            failure: RefCell::new(None),
        }
    }

    /// Records `failure` unless an earlier one is already recorded, and returns an `io::Error` to unwind
    /// the reader chain with.
    fn fail(&self, failure: LayerError) -> io::Error {
        let message = failure.to_string();
        let mut slot = self.failure.borrow_mut();
        if slot.is_none() {
            *slot = Some(failure);
        }
        io::Error::other(message)
    }

    fn take_failure(&self) -> Option<LayerError> {
        self.failure.borrow_mut().take()
    }

    /// The blob's digest in `algorithm:hex` form, comparable with `Digest::to_string`.
    fn finish_digest(&self) -> String {
        let hasher = self.hasher.replace(BlobHasher::Sha256(sha2::Sha256::new()));
        match hasher {
            BlobHasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            BlobHasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        }
    }
}

/// Hashes and counts the blob bytes as they are read from the source.
struct HashingReader<R> {
    inner: R,
    progress: Rc<Progress>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                return Err(self.progress.fail(LayerError::Read {
                    blob_bytes: self.progress.blob_bytes.get(),
                    source: e,
                }));
            }
        };
        let read = buf.get(..n).unwrap_or_default();
        match &mut *self.progress.hasher.borrow_mut() {
            BlobHasher::Sha256(h) => h.update(read),
            BlobHasher::Sha512(h) => h.update(read),
        }
        let p = &self.progress;
        p.blob_bytes
            .set(p.blob_bytes.get().saturating_add(n as u64));
        if n == 0 && !buf.is_empty() {
            p.blob_eof.set(true);
        }
        Ok(n)
    }
}

/// The decompressor picked by [`Compression::sniff`].
enum Decompressor<R: BufRead> {
    /// Boxed: the inflate state is large and the enum lives on the stack of the reader chain.
    Gzip(Box<flate2::bufread::MultiGzDecoder<R>>),
    Zstd(zstd::stream::read::Decoder<'static, R>),
    Plain(R),
}

impl<R: BufRead> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::Gzip(d) => d.read(buf),
            Decompressor::Zstd(d) => d.read(buf),
            Decompressor::Plain(r) => r.read(buf),
        }
    }
}

/// Counts decompressed bytes, enforces the bomb limits and the per-entry header budget, and turns
/// decompressor errors into precise [`LayerError`]s.
struct CountingReader<R> {
    inner: R,
    compression: Compression,
    progress: Rc<Progress>,
    limits: LayerLimits,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let p = &self.progress;
        // Never read past the header budget: a huge PAX header must fail, not be buffered.
        let window = match p.header_budget.get() {
            Some(0) => {
                return Err(p.fail(LayerError::LimitExceeded {
                    what: "tar header bytes per entry",
                    limit: self.limits.max_header_bytes,
                }));
            }
            Some(budget) => usize::try_from(budget).unwrap_or(usize::MAX).min(buf.len()),
            None => buf.len(),
        };
        let target = buf.get_mut(..window).unwrap_or_default();
        let n = match self.inner.read(target) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                if let Some(earlier) = p.take_failure() {
                    return Err(p.fail(earlier));
                }
                let failure = if p.blob_eof.get() || e.kind() == io::ErrorKind::UnexpectedEof {
                    LayerError::TruncatedCompression {
                        compression: self.compression,
                        blob_bytes: p.blob_bytes.get(),
                    }
                } else {
                    LayerError::CorruptCompression {
                        compression: self.compression,
                        blob_bytes: p.blob_bytes.get(),
                        reason: e.to_string(),
                    }
                };
                return Err(p.fail(failure));
            }
        };
        if let Some(budget) = p.header_budget.get() {
            p.header_budget.set(Some(budget.saturating_sub(n as u64)));
        }
        let total = p.tar_bytes.get().saturating_add(n as u64);
        p.tar_bytes.set(total);
        if total > self.limits.max_uncompressed_bytes {
            return Err(p.fail(LayerError::LimitExceeded {
                what: "uncompressed bytes",
                limit: self.limits.max_uncompressed_bytes,
            }));
        }
        if total > self.limits.ratio_grace_bytes
            && total / p.blob_bytes.get().max(1) > self.limits.max_compression_ratio
        {
            return Err(p.fail(LayerError::LimitExceeded {
                what: "compression ratio",
                limit: self.limits.max_compression_ratio,
            }));
        }
        Ok(n)
    }
}

/// Builds the reader chain and walks the tar; fills `scan` except the byte counts.
fn read_tar<R: Read>(
    blob: &mut R,
    progress: &Rc<Progress>,
    scanners: &[&dyn PackageScanner],
    limits: &LayerLimits,
    scan: &mut LayerScan,
) -> Result<(), LayerError> {
    let mut hashing = HashingReader {
        inner: blob,
        progress: Rc::clone(progress),
    };
    // Sniff from the first bytes without losing them: read up to 4 bytes (short reads are legal), then
    // chain them back in front of the rest.
    let mut magic = [0u8; 4];
    let mut magic_len = 0;
    while magic_len < magic.len() {
        let slot = magic.get_mut(magic_len..).unwrap_or_default();
        match hashing.read(slot) {
            Ok(0) => break,
            Ok(n) => magic_len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(progress.take_failure().unwrap_or(LayerError::Read {
                    blob_bytes: 0,
                    source: e,
                }));
            }
        }
    }
    let magic = magic.get(..magic_len).unwrap_or_default();
    let compression = Compression::sniff(magic);
    let buffered =
        BufReader::with_capacity(READ_BUFFER_BYTES, io::Cursor::new(magic).chain(hashing));
    let decompressor = match compression {
        Compression::Gzip => {
            Decompressor::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| {
                LayerError::CorruptCompression {
                    compression,
                    blob_bytes: progress.blob_bytes.get(),
                    reason: e.to_string(),
                }
            })?;
            decoder
                .window_log_max(limits.zstd_max_window_log)
                .map_err(|e| LayerError::CorruptCompression {
                    compression,
                    blob_bytes: progress.blob_bytes.get(),
                    reason: e.to_string(),
                })?;
            Decompressor::Zstd(decoder)
        }
        Compression::None => Decompressor::Plain(buffered),
    };
    let counting = CountingReader {
        inner: decompressor,
        compression,
        progress: Rc::clone(progress),
        limits: limits.clone(),
    };
    let mut archive = tar::Archive::new(counting);
    walk_entries(&mut archive, progress, scanners, limits, scan)?;
    // Read the decompressed stream to its end: past the end-of-archive marker there may be padding, and
    // the gzip/zstd checksums are only verified at the end of the stream.
    let mut rest = archive.into_inner();
    if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
        return Err(progress
            .take_failure()
            .unwrap_or(LayerError::CorruptCompression {
                compression,
                blob_bytes: progress.blob_bytes.get(),
                reason: e.to_string(),
            }));
    }
    if progress.tar_bytes.get() == 0 {
        return Err(LayerError::NotTar {
            reason: "the layer is empty (no tar end-of-archive marker)".to_owned(),
        });
    }
    Ok(())
}

/// The tar loop: one pass over the entries.
fn walk_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    progress: &Rc<Progress>,
    scanners: &[&dyn PackageScanner],
    limits: &LayerLimits,
    scan: &mut LayerScan,
) -> Result<(), LayerError> {
    let mut entries = archive.entries().map_err(|e| tar_failure(e, progress, 0))?;
    let mut claimants: Vec<&dyn PackageScanner> = Vec::with_capacity(scanners.len());
    let mut file_buffer: Vec<u8> = Vec::new();
    let mut claimed_total: u64 = 0;
    let mut dropped_warnings: u64 = 0;
    let mut warn = |warnings: &mut Vec<ScanError>, w: ScanError| {
        if warnings.len() < MAX_WARNINGS {
            warnings.push(w);
        } else {
            dropped_warnings += 1;
        }
    };
    loop {
        progress.header_budget.set(Some(limits.max_header_bytes));
        let next = entries.next();
        progress.header_budget.set(None);
        let mut entry = match next {
            None => break,
            Some(Ok(entry)) => entry,
            Some(Err(e)) => return Err(tar_failure(e, progress, scan.entries)),
        };
        scan.entries += 1;
        if scan.entries > limits.max_entries {
            return Err(LayerError::LimitExceeded {
                what: "tar entries",
                limit: limits.max_entries,
            });
        }
        let raw_path = entry.path_bytes();
        if raw_path.len() > limits.max_path_len {
            return Err(LayerError::LimitExceeded {
                what: "path length",
                limit: limits.max_path_len as u64,
            });
        }
        let path = match normalize_path(&raw_path) {
            Ok(path) => path,
            Err(reason) => {
                let shown = String::from_utf8_lossy(&raw_path).into_owned();
                warn(
                    &mut scan.warnings,
                    ScanError::new(READER_NAME, &shown, reason),
                );
                drain_entry(&mut entry, progress, scan.entries, &shown)?;
                continue;
            }
        };
        drop(raw_path);
        let entry_type = entry.header().entry_type();
        if path.is_empty() {
            // `./` is in most layers and means nothing; anything else naming the root is odd.
            if !entry_type.is_dir() {
                warn(
                    &mut scan.warnings,
                    ScanError::new(READER_NAME, "", "entry names the layer root: skipped"),
                );
            }
            drain_entry(&mut entry, progress, scan.entries, &path)?;
            continue;
        }
        if let Some(hidden) = whiteout_target(&path) {
            if let Some(hidden) = hidden {
                scan.contents.whiteouts.push(hidden);
            }
            drain_entry(&mut entry, progress, scan.entries, &path)?;
            continue;
        }
        let size = entry.size();
        let info = EntryInfo {
            path: &path,
            size,
            mode: entry.header().mode().unwrap_or(0),
        };
        claimants.clear();
        if matches!(
            entry_type,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::Link
        ) {
            claimants.extend(scanners.iter().copied().filter(|s| s.claims(&info)));
        }
        if claimants.is_empty() {
            drain_entry(&mut entry, progress, scan.entries, &path)?;
            continue;
        }
        if entry_type == tar::EntryType::Link {
            warn(
                &mut scan.warnings,
                ScanError::new(
                    READER_NAME,
                    &path,
                    "claimed path is a hard link; hard links are not resolved",
                ),
            );
            drain_entry(&mut entry, progress, scan.entries, &path)?;
            continue;
        }
        // Scanners whose cap the file exceeds are told so and skipped; the others get the bytes.
        claimants.retain(|s| {
            let cap = s.max_file_size().min(limits.max_claimed_file_bytes);
            let fits = size <= cap;
            if !fits {
                warn(
                    &mut scan.warnings,
                    ScanError::new(
                        s.name(),
                        &path,
                        format!("file is {size} bytes, over the {cap}-byte cap: skipped"),
                    ),
                );
            }
            fits
        });
        if claimants.is_empty() {
            drain_entry(&mut entry, progress, scan.entries, &path)?;
            continue;
        }
        claimed_total = claimed_total.saturating_add(size);
        if claimed_total > limits.max_total_claimed_bytes {
            return Err(LayerError::LimitExceeded {
                what: "total claimed file bytes",
                limit: limits.max_total_claimed_bytes,
            });
        }
        file_buffer.clear();
        let read = (&mut entry)
            .take(size)
            .read_to_end(&mut file_buffer)
            .map_err(|e| read_failure(e, progress, scan.entries, &path, size))?;
        if (read as u64) < size {
            return Err(LayerError::TruncatedEntry {
                entry: scan.entries,
                path,
                declared: size,
                read: read as u64,
            });
        }
        for scanner in &claimants {
            if let Err(e) = scanner.scan(&info, &file_buffer, &mut scan.contents) {
                if scanner.error_fails_layer() {
                    return Err(LayerError::ScannerFailed(e));
                }
                warn(&mut scan.warnings, e);
            }
        }
    }
    if dropped_warnings > 0 {
        scan.warnings.push(ScanError::new(
            READER_NAME,
            "",
            format!("{dropped_warnings} more warnings were dropped"),
        ));
    }
    Ok(())
}

/// Reads the rest of an entry's data to a sink, failing if the tar ends before the declared size.
fn drain_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    progress: &Progress,
    index: u64,
    path: &str,
) -> Result<(), LayerError> {
    let declared = entry.size();
    let read = io::copy(entry, &mut io::sink())
        .map_err(|e| read_failure(e, progress, index, path, declared))?;
    if read < declared {
        return Err(LayerError::TruncatedEntry {
            entry: index,
            path: path.to_owned(),
            declared,
            read,
        });
    }
    Ok(())
}

/// Maps an error from reading entry data: the chain's recorded failure if any, else a truncation.
fn read_failure(
    e: io::Error,
    progress: &Progress,
    index: u64,
    path: &str,
    size: u64,
) -> LayerError {
    progress.take_failure().unwrap_or_else(|| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            LayerError::TruncatedEntry {
                entry: index,
                path: path.to_owned(),
                declared: size,
                read: 0,
            }
        } else {
            LayerError::BadTarHeader {
                entry: index,
                tar_bytes: progress.tar_bytes.get(),
                reason: e.to_string(),
            }
        }
    })
}

/// Maps an error from the tar crate's header parsing. A failure recorded by the chain (I/O, corrupt
/// compression, limits) comes first; then a short read means truncation; then the first entry failing
/// means the data is not a tar at all.
fn tar_failure(e: io::Error, progress: &Progress, entries_seen: u64) -> LayerError {
    if let Some(failure) = progress.take_failure() {
        return failure;
    }
    let tar_bytes = progress.tar_bytes.get();
    // The tar crate reports a short header block as "failed to read entire block" and a short extension
    // payload as UnexpectedEof; either way the stream ended inside the headers. A stream whose length is
    // not a multiple of the 512-byte block is the tell.
    let message = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof
        || message.contains("failed to read entire block")
        || !tar_bytes.is_multiple_of(512)
    {
        return LayerError::TruncatedHeader {
            entry: entries_seen + 1,
            tar_bytes,
        };
    }
    // The tar crate quotes header bytes in its messages (paths, numeric fields): from a hostile layer those
    // are arbitrary, so the reason stored and shown is made printable first.
    let reason = printable(&message);
    if entries_seen == 0 {
        return LayerError::NotTar { reason };
    }
    LayerError::BadTarHeader {
        entry: entries_seen + 1,
        tar_bytes,
        reason,
    }
}

/// Longest failure reason kept from a parser's message, in characters.
const MAX_REASON_CHARS: usize = 200;

/// A message that may quote untrusted bytes, fit to store in PostgreSQL text and show in a terminal:
/// control characters (NUL included) and U+FFFD replacement characters escaped, at most
/// [`MAX_REASON_CHARS`] characters (then `…`).
pub fn printable(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_REASON_CHARS + 16));
    let mut count = 0;
    for c in message.chars() {
        let escaped = c.is_control() || c == char::REPLACEMENT_CHARACTER;
        let width = if escaped {
            c.escape_default().count()
        } else {
            1
        };
        if count + width > MAX_REASON_CHARS {
            out.push('…');
            break;
        }
        count += width;
        if escaped {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Normalizes a tar path: relative, `/`-separated, without empty, `.` or trailing components; the layer
/// root (`./`, `/`) becomes `""`. Paths with `..` and non-UTF-8 paths are refused with the reason.
pub fn normalize_path(raw: &[u8]) -> Result<String, &'static str> {
    let text = std::str::from_utf8(raw).map_err(|_| "path is not UTF-8: skipped")?;
    let mut normalized = String::with_capacity(text.len());
    for component in text.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err("path has a `..` component: skipped"),
            name => {
                if !normalized.is_empty() {
                    normalized.push('/');
                }
                normalized.push_str(name);
            }
        }
    }
    Ok(normalized)
}

/// For a whiteout marker path, what it hides: `Some(Some("a/b"))` for `a/.wh.b`, `Some(Some("a/"))` for
/// the opaque marker `a/.wh..wh..opq` (`""` at the root), `Some(None)` for other `.wh..wh.` AUFS
/// bookkeeping files (hard-link directories, not hiding anything). `None` when not a whiteout.
pub fn whiteout_target(path: &str) -> Option<Option<String>> {
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    };
    let hidden = name.strip_prefix(".wh.")?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    if hidden == ".wh..opq" {
        return Some(Some(prefix));
    }
    if hidden.starts_with(".wh.") || hidden.is_empty() {
        return Some(None);
    }
    Some(Some(format!("{prefix}{hidden}")))
}
