//! Export and import of the whole normalized feed database as one streamed file, for air-gapped
//! installations (`lucid export-feeds FILE` on a connected machine, `lucid import-feeds FILE` on the
//! isolated one).
//!
//! Format: zstd-compressed JSON lines. The first line is `{"format": "lucid-feeds", "version": 1, …}`;
//! then, per updater, a header `{"updater": …, "kind": "vulnerability"|"enrichment", "fingerprint": …,
//! "records": N}` followed by exactly N record lines (`model::Vulnerability` or `Enrichment` JSON).
//! Import checks the whole file before committing anything, then commits one update operation per updater
//! (unchanged updaters write nothing), so a corrupt file changes nothing.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

use super::FeedError;
use super::enrichment::Enrichment;
use super::store::{CommitOutcome, FeedStore};
use crate::model::Vulnerability;

const FORMAT: &str = "lucid-feeds";
const VERSION: u32 = 1;
const FEED: &str = "feed archive";

#[derive(Serialize, Deserialize)]
struct FileHeader {
    format: String,
    version: u32,
    #[serde(default)]
    exported_at: String,
}

#[derive(Serialize, Deserialize)]
struct UpdaterHeader {
    updater: String,
    kind: String,
    #[serde(default)]
    fingerprint: String,
    records: usize,
}

/// Counts of an export or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArchiveStats {
    pub updaters: usize,
    pub records: usize,
    /// Import only: updaters whose data differed and became a new operation.
    pub committed: usize,
}

fn store_error(e: impl std::fmt::Display) -> FeedError {
    FeedError::Store {
        feed: FEED.to_owned(),
        reason: e.to_string(),
    }
}

fn write_line(out: &mut impl Write, value: &impl Serialize) -> Result<(), FeedError> {
    serde_json::to_writer(&mut *out, value).map_err(store_error)?;
    out.write_all(b"\n").map_err(store_error)
}

/// Writes every updater's live records to `out`.
pub async fn export(store: &FeedStore, out: impl Write) -> Result<ArchiveStats, FeedError> {
    let mut encoder = zstd::Encoder::new(out, 9).map_err(store_error)?;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    write_line(
        &mut encoder,
        &FileHeader {
            format: FORMAT.to_owned(),
            version: VERSION,
            exported_at: now,
        },
    )?;
    let mut stats = ArchiveStats::default();
    for (updater, operation) in store.latest_operations().await.map_err(store_error)? {
        let records = store
            .operation_records(&operation)
            .await
            .map_err(store_error)?;
        write_line(
            &mut encoder,
            &UpdaterHeader {
                updater,
                kind: operation.kind.clone(),
                fingerprint: operation.fingerprint.clone(),
                records: records.len(),
            },
        )?;
        for record in &records {
            write_line(&mut encoder, record)?;
        }
        stats.updaters += 1;
        stats.records += records.len();
    }
    encoder
        .finish()
        .map_err(store_error)?
        .flush()
        .map_err(store_error)?;
    Ok(stats)
}

/// One updater's section, parsed.
enum Section {
    Vulnerabilities(Vec<Vulnerability>),
    Enrichments(Vec<Enrichment>),
}

/// Reads an archive one updater section at a time.
struct SectionReader<R: Read> {
    lines: std::iter::Enumerate<std::io::Lines<BufReader<zstd::Decoder<'static, BufReader<R>>>>>,
}

impl<R: Read> SectionReader<R> {
    fn new(input: R) -> Result<SectionReader<R>, FeedError> {
        let decoder = zstd::Decoder::new(input)
            .map_err(|e| FeedError::malformed(FEED, format!("not zstd: {e}")))?;
        let mut reader = SectionReader {
            lines: BufReader::new(decoder).lines().enumerate(),
        };
        let (_, first) = reader
            .next_line()?
            .ok_or_else(|| FeedError::malformed(FEED, "empty file"))?;
        let header: FileHeader = serde_json::from_str(&first)
            .map_err(|e| FeedError::malformed(FEED, format!("line 1: {e}")))?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(FeedError::malformed(
                FEED,
                format!(
                    "not a {FORMAT} v{VERSION} file ({} v{})",
                    header.format, header.version
                ),
            ));
        }
        Ok(reader)
    }

    fn next_line(&mut self) -> Result<Option<(usize, String)>, FeedError> {
        match self.lines.next() {
            Some((n, Ok(line))) => Ok(Some((n + 1, line))),
            Some((n, Err(e))) => Err(FeedError::malformed(FEED, format!("line {}: {e}", n + 1))),
            None => Ok(None),
        }
    }

    fn records<T: serde::de::DeserializeOwned>(
        &mut self,
        header: &UpdaterHeader,
    ) -> Result<Vec<T>, FeedError> {
        let mut records = Vec::with_capacity(header.records.min(1 << 20));
        for _ in 0..header.records {
            let (n, line) = self.next_line()?.ok_or_else(|| {
                FeedError::malformed(FEED, format!("ends inside {}'s records", header.updater))
            })?;
            records.push(serde_json::from_str(&line).map_err(|e| {
                FeedError::malformed(FEED, format!("line {n} ({}): {e}", header.updater))
            })?);
        }
        Ok(records)
    }

    fn next_section(&mut self) -> Result<Option<(UpdaterHeader, Section)>, FeedError> {
        let (n, line) = loop {
            match self.next_line()? {
                None => return Ok(None),
                Some((_, line)) if line.trim().is_empty() => continue,
                Some(found) => break found,
            }
        };
        let header: UpdaterHeader = serde_json::from_str(&line)
            .map_err(|e| FeedError::malformed(FEED, format!("line {n}: {e}")))?;
        let section = match header.kind.as_str() {
            "vulnerability" => Section::Vulnerabilities(self.records(&header)?),
            "enrichment" => Section::Enrichments(self.records(&header)?),
            other => {
                return Err(FeedError::malformed(
                    FEED,
                    format!("line {n}: unknown kind {other:?}"),
                ));
            }
        };
        Ok(Some((header, section)))
    }
}

/// Checks a whole archive without importing it (the first pass of [`import`]): the header, every section
/// header and every record line. Returns the counts it would import.
pub fn check(input: impl Read) -> Result<ArchiveStats, FeedError> {
    let mut reader = SectionReader::new(input)?;
    let mut stats = ArchiveStats::default();
    while let Some((header, _)) = reader.next_section()? {
        stats.updaters += 1;
        stats.records += header.records;
    }
    Ok(stats)
}

/// Imports an archive: checks all of it first (a corrupt file changes nothing), then commits each
/// updater's records as its new state, one section in memory at a time.
pub async fn import(store: &FeedStore, input: impl Read + Seek) -> Result<ArchiveStats, FeedError> {
    import_labelled(store, input, IMPORT_LABEL).await
}

/// `feed_status.fingerprint` prefix of data loaded by [`import`].
pub const IMPORT_LABEL: &str = "import";

/// `feed_status.fingerprint` prefix of data loaded from the offline snapshot shipped with Lucid, followed
/// by `<date>:` (see [`snapshot_label`] and [`snapshot_date`]).
pub const SNAPSHOT_LABEL: &str = "snapshot";

/// The label [`import_labelled`] takes for a snapshot dated `date` (`YYYY-MM-DD`).
pub fn snapshot_label(date: &str) -> String {
    format!("{SNAPSHOT_LABEL}:{date}")
}

/// The snapshot date recorded in a `feed_status` fingerprint, when the feed's data came from a snapshot.
pub fn snapshot_date(fingerprint: &str) -> Option<&str> {
    let rest = fingerprint
        .strip_prefix(SNAPSHOT_LABEL)?
        .strip_prefix(':')?;
    rest.split(':').next().filter(|d| !d.is_empty())
}

/// The file's own header: when it was exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// RFC 3339, as written by [`export`] (empty when the file does not say).
    pub exported_at: String,
}

/// Reads just the header of an archive (checks that it is one).
pub fn info(input: impl Read) -> Result<ArchiveInfo, FeedError> {
    let decoder = zstd::Decoder::new(input)
        .map_err(|e| FeedError::malformed(FEED, format!("not zstd: {e}")))?;
    let mut first = String::new();
    BufReader::new(decoder)
        .read_line(&mut first)
        .map_err(|e| FeedError::malformed(FEED, format!("line 1: {e}")))?;
    let header: FileHeader = serde_json::from_str(&first)
        .map_err(|e| FeedError::malformed(FEED, format!("line 1: {e}")))?;
    if header.format != FORMAT {
        return Err(FeedError::malformed(FEED, format!("not a {FORMAT} file")));
    }
    Ok(ArchiveInfo {
        exported_at: header.exported_at,
    })
}

/// [`import`], recording each updater's fingerprint as `<label>:<exported fingerprint>` in `feed_status`,
/// so that where the data came from stays visible (`lucid feeds status`, the reports' `feeds`).
pub async fn import_labelled(
    store: &FeedStore,
    mut input: impl Read + Seek,
    label: &str,
) -> Result<ArchiveStats, FeedError> {
    let mut check = SectionReader::new(&mut input)?;
    while check.next_section()?.is_some() {}
    drop(check);
    input
        .seek(SeekFrom::Start(0))
        .map_err(|e| FeedError::malformed(FEED, e))?;
    let mut reader = SectionReader::new(&mut input)?;
    let mut stats = ArchiveStats::default();
    while let Some((header, section)) = reader.next_section()? {
        let fingerprint = format!("{label}:{}", header.fingerprint);
        let outcome = match &section {
            Section::Vulnerabilities(records) => {
                store.commit(&header.updater, &fingerprint, records).await
            }
            Section::Enrichments(records) => {
                store
                    .commit_enrichments(&header.updater, &fingerprint, records)
                    .await
            }
        }
        .map_err(store_error)?;
        stats.updaters += 1;
        stats.records += header.records;
        if matches!(outcome, CommitOutcome::Committed { .. }) {
            stats.committed += 1;
        }
        store
            .record_attempt(&header.updater, Ok((&fingerprint, header.records as i64)))
            .await
            .map_err(store_error)?;
    }
    Ok(stats)
}
