//! Red Hat's VEX directory as a feed (source `rhel`): the published archive plus incremental changes,
//! online, and the same layout in a local folder.
//!
//! Red Hat publishes one CSAF VEX document per CVE under `https://security.access.redhat.com/data/csaf/v2/vex/`
//! (`<year>/cve-<year>-<n>.json`), and alongside them:
//!
//! - `archive_latest.txt`: the name of the latest full archive, `csaf_vex_YYYY-MM-DD.tar.zst` (zstd tar of
//!   every document, laid out as `<year>/cve-….json`);
//! - `changes.csv`: `"path","timestamp"` of every document changed since that archive, newest first;
//! - `deletions.csv`: the same for documents withdrawn.
//!
//! **First run** (or whenever the previous state cannot be trusted as a base): stream the archive (zstd and
//! tar decoded as the bytes arrive, one document parsed at a time; only records are kept), then apply the
//! changes and deletions dated on or after the archive's date. **Later runs**: one conditional GET of
//! `changes.csv` (ETag / Last-Modified); a 304 ends the run with nothing written. Otherwise the documents
//! changed or deleted at or after the previous high-water timestamp are applied to the previous update
//! operation's records: the live records of those documents are replaced by the re-parsed ones (each record
//! names its document: a VEX document's records carry its CVE id as `name`), so the committed operation is
//! still the source's full record set, as the store model requires. When the changed documents produce the
//! same records as before, nothing is written either.
//!
//! When Red Hat has published a newer archive dated after the previous high-water mark, `changes.csv` no
//! longer reaches back far enough: the run reloads from the new archive.
//!
//! Fingerprint (`feed_status`): `archive=…`, `high-water=…` (newest `changes.csv` timestamp applied),
//! `etag=`/`last-modified=` of `changes.csv`, and `operation=` the reference of the live operation the state
//! describes; an incremental run only starts from that exact operation (after an import, a deleted
//! operation or any other change of the live data, the run reloads the archive).
//!
//! Offline (`lucid update --from DIR`): a folder holding a `csaf_vex_*.tar.zst` archive, optionally a
//! `deletions.csv` next to it and loose documents (which replace the archive's copy of the same CVE) loads
//! as the same `rhel` source.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use futures::{StreamExt as _, TryStreamExt as _};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

use super::vex::parse_vex;
use crate::error_chain;
use crate::feeds::FeedError;
use crate::feeds::store::{FeedStore, UpdateOperation};
use crate::model::Vulnerability;

/// Red Hat's VEX directory.
pub const DEFAULT_BASE_URL: &str = "https://security.access.redhat.com/data/csaf/v2/vex/";
/// The file naming the latest archive.
pub const LATEST_FILE: &str = "archive_latest.txt";
/// Documents changed since the archive.
pub const CHANGES_FILE: &str = "changes.csv";
/// Documents deleted since the archive.
pub const DELETIONS_FILE: &str = "deletions.csv";
/// One document's size limit (the largest real ones are tens of MB).
const MAX_DOCUMENT_BYTES: u64 = 256 << 20;
/// `archive_latest.txt`, `changes.csv` and `deletions.csv` are at most a few MB.
const METADATA_LIMIT: u64 = 64 << 20;
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Changed documents fetched at once.
const FETCH_CONCURRENCY: usize = 6;

/// Records by document key (see [`document_key`]).
pub type Documents = BTreeMap<String, Vec<Vulnerability>>;

/// The document a path names, as the CVE id its records carry: `2023/cve-2023-38545.json` →
/// `CVE-2023-38545`. `None` for paths that are not JSON documents.
pub fn document_key(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next()?;
    let lower = name.to_ascii_lowercase();
    let stem = lower.strip_suffix(".json")?;
    (!stem.is_empty()).then(|| stem.to_ascii_uppercase())
}

/// The date of an archive named `csaf_vex_YYYY-MM-DD.tar.zst`.
pub fn archive_date(name: &str) -> Option<Date> {
    let date = name.strip_prefix("csaf_vex_")?.strip_suffix(".tar.zst")?;
    Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Whether a file name is a VEX archive.
pub fn is_archive_name(name: &str) -> bool {
    archive_date(name).is_some()
}

/// One line of `changes.csv` or `deletions.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the VEX directory: `2023/cve-2023-38545.json`.
    pub path: String,
    pub timestamp: OffsetDateTime,
}

/// Parses `changes.csv` / `deletions.csv` (`"path","timestamp"` per line; quotes optional). Paths must be
/// relative JSON document paths: they are joined to the directory's URL.
pub fn parse_entries(text: &str, file: &str, feed: &str) -> Result<Vec<Entry>, FeedError> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad =
            |why: &str| FeedError::malformed(feed, format!("{file} line {}: {why}", number + 1));
        let (path, timestamp) = line
            .split_once(',')
            .ok_or_else(|| bad("expected \"path\",\"timestamp\""))?;
        let unquote = |s: &str| s.trim().trim_matches('"').to_owned();
        let (path, timestamp) = (unquote(path), unquote(timestamp));
        // A header line, should Red Hat add one.
        if number == 0 && path.eq_ignore_ascii_case("path") {
            continue;
        }
        let safe = !path.starts_with('/')
            && !path.contains("..")
            && !path.contains("://")
            && !path.contains(['?', '#', '\\'])
            && document_key(&path).is_some();
        if !safe {
            return Err(bad(&format!("{path:?} is not a document path")));
        }
        let timestamp = OffsetDateTime::parse(&timestamp, &Rfc3339)
            .map_err(|e| bad(&format!("timestamp {timestamp:?}: {e}")))?;
        entries.push(Entry { path, timestamp });
    }
    Ok(entries)
}

/// What to do per document given the changes and deletions at or after `since`: the newest event wins,
/// `Some(path)` to fetch, `None` to delete.
fn pending(
    changes: &[Entry],
    deletions: &[Entry],
    since: OffsetDateTime,
) -> BTreeMap<String, Option<String>> {
    let mut newest: BTreeMap<String, (OffsetDateTime, Option<String>)> = BTreeMap::new();
    let events = deletions
        .iter()
        .map(|e| (e, false))
        .chain(changes.iter().map(|e| (e, true)));
    for (entry, is_change) in events {
        if entry.timestamp < since {
            continue;
        }
        let Some(key) = document_key(&entry.path) else {
            continue;
        };
        let action = is_change.then(|| entry.path.clone());
        match newest.get(&key) {
            // Changes come after deletions in `events`, so an equal timestamp favours the change.
            Some((at, _)) if *at > entry.timestamp => {}
            _ => {
                newest.insert(key, (entry.timestamp, action));
            }
        }
    }
    newest.into_iter().map(|(k, (_, a))| (k, a)).collect()
}

/// Stores a document's records, warning when a record does not carry the document's CVE id (incremental
/// runs find a document's records by that name).
fn insert_document(documents: &mut Documents, key: String, records: Vec<Vulnerability>) {
    if let Some(other) = records.iter().find(|r| !r.name.eq_ignore_ascii_case(&key)) {
        tracing::warn!(document = %key, record = %other.name, "VEX record named differently from its document");
    }
    documents.insert(key, records);
}

/// Every record, in document order.
pub fn flatten(documents: Documents) -> Vec<Vulnerability> {
    documents.into_values().flatten().collect()
}

/// Reads a `csaf_vex_*.tar.zst` archive one document at a time into `documents` (a document read later
/// replaces an earlier one of the same CVE). Returns the number of documents read; an archive without any
/// is malformed, as is any document that fails to parse.
pub fn read_archive(
    input: impl Read,
    feed: &str,
    documents: &mut Documents,
) -> Result<usize, FeedError> {
    let malformed = |what: String| FeedError::malformed(feed, format!("VEX archive: {what}"));
    let mut input = BufReader::new(input);
    let head = input.fill_buf().map_err(|e| malformed(error_chain(&e)))?;
    if !head.starts_with(&ZSTD_MAGIC) {
        return Err(malformed(
            "not zstd (an error page or a truncated download?)".to_owned(),
        ));
    }
    let decoder =
        zstd::Decoder::with_buffer(input).map_err(|e| malformed(format!("not zstd: {e}")))?;
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(|e| malformed(error_chain(&e)))?;
    let mut count = 0;
    let mut buffer = Vec::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| malformed(error_chain(&e)))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| malformed(error_chain(&e)))?
            .to_string_lossy()
            .into_owned();
        let Some(key) = document_key(&path) else {
            continue;
        };
        if entry.size() > MAX_DOCUMENT_BYTES {
            return Err(malformed(format!(
                "{path}: {} bytes exceeds the {MAX_DOCUMENT_BYTES}-byte limit",
                entry.size()
            )));
        }
        buffer.clear();
        (&mut entry)
            .take(MAX_DOCUMENT_BYTES)
            .read_to_end(&mut buffer)
            .map_err(|e| malformed(format!("{path}: {}", error_chain(&e))))?;
        let records = parse_vex(&buffer).map_err(|e| in_document(e, &path))?;
        insert_document(documents, key, records);
        count += 1;
    }
    if count == 0 {
        return Err(malformed("no VEX documents in the archive".to_owned()));
    }
    Ok(count)
}

/// Prefixes a parse error with the document's path.
fn in_document(error: FeedError, path: &str) -> FeedError {
    match error {
        FeedError::Malformed { feed, reason } => FeedError::Malformed {
            feed,
            reason: format!("{path}: {reason}"),
        },
        other => other,
    }
}

/// Parses a folder's VEX files: `csaf_vex_*.tar.zst` archives (oldest first), then the `deletions.csv`
/// entries dated on or after the newest archive's date, then loose documents (each replacing the archive's
/// copy of its CVE).
pub fn parse_files(feed: &str, files: &[PathBuf]) -> Result<Vec<Vulnerability>, FeedError> {
    let file_name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let open = |path: &Path| {
        File::open(path).map_err(|e| FeedError::malformed(feed, format!("{}: {e}", path.display())))
    };
    let mut archives: Vec<&PathBuf> = files
        .iter()
        .filter(|p| is_archive_name(&file_name(p)))
        .collect();
    archives.sort_by_key(|p| archive_date(&file_name(p)));
    let mut documents = Documents::new();
    for path in &archives {
        read_archive(BufReader::new(open(path)?), feed, &mut documents)
            .map_err(|e| in_document(e, &path.display().to_string()))?;
    }
    if let Some(newest) = archives.last().and_then(|p| archive_date(&file_name(p))) {
        let since = newest.midnight().assume_utc();
        for path in files
            .iter()
            .filter(|p| file_name(p).eq_ignore_ascii_case(DELETIONS_FILE))
        {
            let mut text = String::new();
            open(path)?
                .read_to_string(&mut text)
                .map_err(|e| FeedError::malformed(feed, format!("{}: {e}", path.display())))?;
            let deletions = parse_entries(&text, DELETIONS_FILE, feed)?;
            for (key, action) in pending(&[], &deletions, since) {
                if action.is_none() {
                    documents.remove(&key);
                }
            }
        }
    }
    for path in files {
        let name = file_name(path);
        if is_archive_name(&name) || name.eq_ignore_ascii_case(DELETIONS_FILE) {
            continue;
        }
        let mut bytes = Vec::new();
        open(path)?
            .read_to_end(&mut bytes)
            .map_err(|e| FeedError::malformed(feed, format!("{}: {e}", path.display())))?;
        let records = parse_vex(&bytes).map_err(|e| in_document(e, &path.display().to_string()))?;
        let key = document_key(&name).unwrap_or_else(|| path.display().to_string());
        insert_document(&mut documents, key, records);
    }
    Ok(flatten(documents))
}

/// The state an online run leaves, recorded as the source's `feed_status` fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VexFingerprint {
    /// The archive the data descends from.
    pub archive: String,
    /// The newest `changes.csv` timestamp applied.
    pub high_water: Option<OffsetDateTime>,
    /// `changes.csv` validators for the next conditional request.
    pub etag: String,
    pub last_modified: String,
    /// The live operation whose records this state describes (empty until committed).
    pub operation: String,
}

impl VexFingerprint {
    /// Reads a rendered fingerprint; anything else (another format, a snapshot's label) gives an empty one,
    /// which means "no usable base".
    pub fn parse(text: &str) -> VexFingerprint {
        let mut fp = VexFingerprint::default();
        for line in text.split('\n') {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "archive" => fp.archive = value.to_owned(),
                "high-water" => fp.high_water = OffsetDateTime::parse(value, &Rfc3339).ok(),
                "etag" => fp.etag = value.to_owned(),
                "last-modified" => fp.last_modified = value.to_owned(),
                "operation" => fp.operation = value.to_owned(),
                _ => {}
            }
        }
        fp
    }

    pub fn render(&self) -> String {
        let high_water = self
            .high_water
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        let mut text = format!(
            "archive={}\nhigh-water={high_water}\netag={}\nlast-modified={}",
            self.archive, self.etag, self.last_modified
        );
        if !self.operation.is_empty() {
            text.push_str(&format!("\noperation={}", self.operation));
        }
        text
    }
}

/// The outcome of fetching the online source against its previous state.
#[derive(Debug)]
pub enum VexUpdate {
    /// `changes.csv` answered 304: nothing to do, the fingerprint stays.
    NotModified,
    /// Fetched, but the records are those of `base`: record `fingerprint` (with `base` as its operation).
    Same {
        fingerprint: VexFingerprint,
        base: UpdateOperation,
    },
    /// The full new record set, to commit.
    Records {
        fingerprint: VexFingerprint,
        records: Vec<Vulnerability>,
        /// How it was built, for the log: `archive` or `incremental`.
        mode: &'static str,
        /// Documents read from the archive plus documents fetched or deleted.
        documents: usize,
    },
}

/// The online VEX directory, fetched for one run.
pub struct VexDirectory<'a> {
    pub http: &'a reqwest::Client,
    /// The directory's URL (`…/csaf/v2/vex/`).
    pub base_url: &'a str,
    /// Source name, for errors.
    pub feed: &'a str,
    /// Limit on the archive's compressed size.
    pub max_bytes: u64,
}

fn fetch_error(feed: &str, reason: String, retryable: bool) -> FeedError {
    FeedError::Fetch {
        feed: feed.to_owned(),
        reason,
        retryable,
    }
}

/// A response's validators.
struct Validators {
    etag: String,
    last_modified: String,
}

impl VexDirectory<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url.trim_end_matches('/'), path)
    }

    /// GET `path`, any status.
    async fn send(
        &self,
        path: &str,
        conditional: Option<(&str, &str)>,
    ) -> Result<reqwest::Response, FeedError> {
        let url = self.url(path);
        let mut request = self.http.get(&url);
        if let Some((etag, last_modified)) = conditional {
            if !etag.is_empty() {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if !last_modified.is_empty() {
                request = request.header(reqwest::header::IF_MODIFIED_SINCE, last_modified);
            }
        }
        request
            .send()
            .await
            .map_err(|e| fetch_error(self.feed, format!("GET {url}: {}", error_chain(&e)), true))
    }

    /// GET `path`; `None` on 304 (when `conditional` validators are sent); other statuses than success
    /// are errors (retryable: 429 and 5xx).
    async fn get(
        &self,
        path: &str,
        conditional: Option<(&str, &str)>,
    ) -> Result<Option<reqwest::Response>, FeedError> {
        let response = self.send(path, conditional).await?;
        let url = self.url(path);
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED && conditional.is_some() {
            return Ok(None);
        }
        if !status.is_success() {
            let retryable =
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(fetch_error(
                self.feed,
                format!("GET {url}: HTTP {status}"),
                retryable,
            ));
        }
        Ok(Some(response))
    }

    async fn body(
        &self,
        mut response: reqwest::Response,
        limit: u64,
    ) -> Result<(Vec<u8>, Validators), FeedError> {
        let url = response.url().to_string();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let validators = Validators {
            etag: header(reqwest::header::ETAG),
            last_modified: header(reqwest::header::LAST_MODIFIED),
        };
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            fetch_error(
                self.feed,
                format!("GET {url}: body: {}", error_chain(&e)),
                true,
            )
        })? {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(fetch_error(
                    self.feed,
                    format!("GET {url}: body exceeds {limit} bytes"),
                    false,
                ));
            }
        }
        Ok((body, validators))
    }

    async fn text(&self, path: &str) -> Result<(String, Validators), FeedError> {
        let response = self
            .get(path, None)
            .await?
            .ok_or_else(|| fetch_error(self.feed, format!("GET {path}: unexpected 304"), false))?;
        let (body, validators) = self.body(response, METADATA_LIMIT).await?;
        let text = String::from_utf8(body)
            .map_err(|e| FeedError::malformed(self.feed, format!("{path}: {e}")))?;
        Ok((text, validators))
    }

    /// The latest archive's name, checked against Red Hat's naming.
    async fn latest_archive(&self) -> Result<(String, Date), FeedError> {
        let (text, _) = self.text(LATEST_FILE).await?;
        let name = text.trim().to_owned();
        let date = archive_date(&name).ok_or_else(|| {
            FeedError::malformed(
                self.feed,
                format!("{LATEST_FILE} names {name:?}, not csaf_vex_YYYY-MM-DD.tar.zst"),
            )
        })?;
        Ok((name, date))
    }

    /// Streams the archive into records, never holding more than one document's bytes.
    async fn stream_archive(&self, name: &str) -> Result<(Documents, usize), FeedError> {
        let url = self.url(name);
        let response = self
            .get(name, None)
            .await?
            .ok_or_else(|| fetch_error(self.feed, format!("GET {url}: unexpected 304"), false))?;
        let transport_failed = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let (flag, counter, limit) = (transport_failed.clone(), received.clone(), self.max_bytes);
        let stream = response
            .bytes_stream()
            .map_err(move |e| {
                flag.store(true, Ordering::SeqCst);
                std::io::Error::other(error_chain(&e))
            })
            .and_then(move |chunk| {
                let total =
                    counter.fetch_add(chunk.len() as u64, Ordering::SeqCst) + chunk.len() as u64;
                futures::future::ready(if total > limit {
                    Err(std::io::Error::other(format!("body exceeds {limit} bytes")))
                } else {
                    Ok(chunk)
                })
            });
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        let feed = self.feed.to_owned();
        let parsed = tokio::task::spawn_blocking(move || {
            let mut documents = Documents::new();
            read_archive(reader, &feed, &mut documents).map(|n| (documents, n))
        })
        .await
        .map_err(|e| FeedError::malformed(self.feed, format!("archive reader stopped: {e}")))?;
        match parsed {
            Err(e) if transport_failed.load(Ordering::SeqCst) => Err(fetch_error(
                self.feed,
                format!("GET {url}: body: {e}"),
                true,
            )),
            Err(_) if received.load(Ordering::SeqCst) > self.max_bytes => Err(fetch_error(
                self.feed,
                format!("GET {url}: body exceeds {} bytes", self.max_bytes),
                false,
            )),
            other => other,
        }
    }

    /// Fetches and parses documents (`key → path`); a document gone (404) comes back as `None`.
    async fn fetch_documents(
        &self,
        wanted: Vec<(String, String)>,
    ) -> Result<Vec<(String, Option<Vec<Vulnerability>>)>, FeedError> {
        futures::stream::iter(wanted)
            .map(|(key, path)| async move {
                let url = self.url(&path);
                let response = self.send(&path, None).await?;
                let status = response.status();
                if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
                    tracing::warn!(%url, "changed VEX document is gone: dropping it");
                    return Ok((key, None));
                }
                if !status.is_success() {
                    let retryable = status.is_server_error()
                        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                    return Err(fetch_error(
                        self.feed,
                        format!("GET {url}: HTTP {status}"),
                        retryable,
                    ));
                }
                let (body, _) = self.body(response, MAX_DOCUMENT_BYTES).await?;
                let records = tokio::task::spawn_blocking(move || parse_vex(&body))
                    .await
                    .map_err(|e| FeedError::malformed(self.feed, format!("parser stopped: {e}")))?
                    .map_err(|e| in_document(e, &path))?;
                Ok::<_, FeedError>((key, Some(records)))
            })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Applies the changes and deletions at or after `since` to `documents`. Returns how many documents
    /// were fetched or removed.
    async fn apply(
        &self,
        documents: &mut Documents,
        changes: &[Entry],
        deletions: &[Entry],
        since: OffsetDateTime,
    ) -> Result<usize, FeedError> {
        let pending = pending(changes, deletions, since);
        let count = pending.len();
        let mut wanted = Vec::new();
        for (key, action) in pending {
            match action {
                Some(path) => wanted.push((key, path)),
                None => {
                    documents.remove(&key);
                }
            }
        }
        for (key, records) in self.fetch_documents(wanted).await? {
            match records {
                Some(records) => insert_document(documents, key, records),
                None => {
                    documents.remove(&key);
                }
            }
        }
        Ok(count)
    }

    /// One run against the previous state: `previous` is the source's `feed_status` fingerprint, `live` the
    /// updater's live operation.
    pub async fn update(
        &self,
        store: &FeedStore,
        previous: &str,
        live: Option<UpdateOperation>,
    ) -> Result<VexUpdate, FeedError> {
        let previous = VexFingerprint::parse(previous);
        let base = match (live, previous.high_water) {
            (Some(op), Some(high_water))
                if !previous.archive.is_empty()
                    && op.reference.to_string() == previous.operation =>
            {
                Some((op, high_water))
            }
            _ => None,
        };
        let Some((base, high_water)) = base else {
            return self.full_load(None).await;
        };
        let conditional = (previous.etag.as_str(), previous.last_modified.as_str());
        let Some(response) = self.get(CHANGES_FILE, Some(conditional)).await? else {
            return Ok(VexUpdate::NotModified);
        };
        let (body, validators) = self.body(response, METADATA_LIMIT).await?;
        if !validators.etag.is_empty() && validators.etag == previous.etag {
            return Ok(VexUpdate::NotModified);
        }
        let changes_text = String::from_utf8(body)
            .map_err(|e| FeedError::malformed(self.feed, format!("{CHANGES_FILE}: {e}")))?;
        let changes = parse_entries(&changes_text, CHANGES_FILE, self.feed)?;
        // A newer archive dated after our high-water mark: changes.csv no longer covers the gap.
        let (latest_name, latest_date) = self.latest_archive().await?;
        if latest_name != previous.archive && latest_date.midnight().assume_utc() > high_water {
            tracing::info!(archive = %latest_name, "newer VEX archive than the last applied change: reloading");
            return self
                .full_load(Some((changes, validators, latest_name, latest_date)))
                .await;
        }
        let (deletions_text, _) = self.text(DELETIONS_FILE).await?;
        let deletions = parse_entries(&deletions_text, DELETIONS_FILE, self.feed)?;
        let fingerprint = VexFingerprint {
            archive: previous.archive.clone(),
            high_water: Some(
                changes
                    .iter()
                    .map(|e| e.timestamp)
                    .max()
                    .map_or(high_water, |newest| newest.max(high_water)),
            ),
            etag: validators.etag,
            last_modified: validators.last_modified,
            operation: String::new(),
        };
        // Documents at exactly the high-water second are fetched again: one may have been published in
        // that second after the previous run read changes.csv.
        let pending = pending(&changes, &deletions, high_water);
        if pending.is_empty() {
            return Ok(VexUpdate::Same { fingerprint, base });
        }
        let names: Vec<String> = pending.keys().cloned().collect();
        let mut touched = Documents::new();
        let count = self
            .apply(&mut touched, &changes, &deletions, high_water)
            .await?;
        let before = store
            .live_vulnerabilities(&base, Some(&names))
            .await
            .map_err(|e| store_error(self.feed, e))?;
        let after: Vec<Vulnerability> = touched.values().flatten().cloned().collect();
        if same_records(&before, &after) {
            return Ok(VexUpdate::Same { fingerprint, base });
        }
        let changed: BTreeSet<String> = names.into_iter().collect();
        let mut records: Vec<Vulnerability> = store
            .live_vulnerabilities(&base, None)
            .await
            .map_err(|e| store_error(self.feed, e))?
            .into_iter()
            .filter(|r| !changed.contains(&r.name.to_ascii_uppercase()))
            .collect();
        records.extend(flatten(touched));
        Ok(VexUpdate::Records {
            fingerprint,
            records,
            mode: "incremental",
            documents: count,
        })
    }

    /// Loads the archive, then the changes and deletions since its date. `prefetched`: a `changes.csv`
    /// already read, with the archive it belongs to.
    async fn full_load(
        &self,
        prefetched: Option<(Vec<Entry>, Validators, String, Date)>,
    ) -> Result<VexUpdate, FeedError> {
        let (name, date) = match &prefetched {
            Some((_, _, name, date)) => (name.clone(), *date),
            None => self.latest_archive().await?,
        };
        let since = date.midnight().assume_utc();
        tracing::info!(archive = %name, "loading the VEX archive");
        let (mut documents, read) = self.stream_archive(&name).await?;
        let (changes, validators) = match prefetched {
            Some((changes, validators, _, _)) => (changes, validators),
            None => {
                let (text, validators) = self.text(CHANGES_FILE).await?;
                (parse_entries(&text, CHANGES_FILE, self.feed)?, validators)
            }
        };
        let (deletions_text, _) = self.text(DELETIONS_FILE).await?;
        let deletions = parse_entries(&deletions_text, DELETIONS_FILE, self.feed)?;
        let applied = self
            .apply(&mut documents, &changes, &deletions, since)
            .await?;
        let high_water = changes
            .iter()
            .map(|e| e.timestamp)
            .max()
            .map_or(since, |newest| newest.max(since));
        Ok(VexUpdate::Records {
            fingerprint: VexFingerprint {
                archive: name,
                high_water: Some(high_water),
                etag: validators.etag,
                last_modified: validators.last_modified,
                operation: String::new(),
            },
            records: flatten(documents),
            mode: "archive",
            documents: read + applied,
        })
    }
}

fn store_error(feed: &str, e: impl std::fmt::Display) -> FeedError {
    FeedError::Store {
        feed: feed.to_owned(),
        reason: e.to_string(),
    }
}

/// Whether two record lists hold the same records (as multisets, by canonical JSON).
fn same_records(a: &[Vulnerability], b: &[Vulnerability]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let canonical = |records: &[Vulnerability]| {
        let mut out: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect();
        out.sort();
        out
    };
    canonical(a) == canonical(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = include_bytes!("testdata/cve-2023-38545.json");
    const SAMBA: &[u8] = include_bytes!("testdata/cve-2023-4154.json");

    /// A `csaf_vex_*.tar.zst` archive in Red Hat's layout.
    fn archive(documents: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, bytes) in documents {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        zstd::encode_all(&builder.into_inner().unwrap()[..], 3).unwrap()
    }

    #[test]
    fn names_and_entries() {
        assert_eq!(
            document_key("2023/cve-2023-38545.json").as_deref(),
            Some("CVE-2023-38545")
        );
        assert_eq!(document_key("2023/index.txt"), None);
        assert_eq!(
            archive_date("csaf_vex_2026-11-22.tar.zst"),
            Some(time::macros::date!(2026 - 11 - 22))
        );
        assert_eq!(archive_date("csaf_vex_2026-13-22.tar.zst"), None);
        assert_eq!(archive_date("csaf_vex_latest.tar.zst"), None);
        let entries = parse_entries(
            "\"2023/cve-2023-38545.json\",\"2026-11-28T10:00:00+00:00\"\n2023/cve-2023-4154.json,2026-11-27T09:00:00Z\n\n",
            CHANGES_FILE,
            "rhel",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].path, "2023/cve-2023-38545.json");
        assert_eq!(
            entries[1].timestamp,
            time::macros::datetime!(2026-11-27 09:00 UTC)
        );
        for bad in [
            "\"../etc/passwd.json\",\"2026-11-28T10:00:00+00:00\"",
            "\"https://evil/x.json\",\"2026-11-28T10:00:00+00:00\"",
            "\"2023/cve-2023-1.json\",\"yesterday\"",
            "just-one-field",
        ] {
            let err = parse_entries(bad, CHANGES_FILE, "rhel").unwrap_err();
            assert!(err.to_string().contains("changes.csv line 1"), "{err}");
        }
    }

    #[test]
    fn newest_event_per_document_wins() {
        let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
        let entry = |path: &str, t: &str| Entry {
            path: path.into(),
            timestamp: at(t),
        };
        let changes = [
            entry("2023/cve-2023-1.json", "2026-11-28T10:00:00Z"),
            entry("2023/cve-2023-2.json", "2026-11-27T10:00:00Z"),
            entry("2023/cve-2023-3.json", "2026-11-20T10:00:00Z"),
        ];
        let deletions = [
            entry("2023/cve-2023-1.json", "2026-11-27T10:00:00Z"),
            entry("2023/cve-2023-2.json", "2026-11-28T10:00:00Z"),
        ];
        let plan = pending(&changes, &deletions, at("2026-11-22T00:00:00Z"));
        assert_eq!(
            plan.into_iter().collect::<Vec<_>>(),
            vec![
                (
                    "CVE-2023-1".to_owned(),
                    Some("2023/cve-2023-1.json".to_owned())
                ),
                ("CVE-2023-2".to_owned(), None),
            ]
        );
    }

    #[test]
    fn archives_stream_documents_and_refuse_broken_input() {
        let bytes = archive(&[
            ("2023/cve-2023-38545.json", CURL),
            ("2023/cve-2023-4154.json", SAMBA),
            ("index.txt", b"not a document"),
        ]);
        let mut documents = Documents::new();
        assert_eq!(read_archive(&bytes[..], "rhel", &mut documents).unwrap(), 2);
        assert_eq!(documents["CVE-2023-38545"], parse_vex(CURL).unwrap());
        assert!(documents["CVE-2023-4154"].is_empty());

        let truncated = &bytes[..bytes.len() / 2];
        let err = read_archive(truncated, "rhel", &mut Documents::new()).unwrap_err();
        assert!(matches!(err, FeedError::Malformed { .. }), "{err}");
        let err = read_archive(&b"<html>"[..], "rhel", &mut Documents::new()).unwrap_err();
        assert!(err.to_string().contains("VEX archive"), "{err}");
        let broken = archive(&[("2023/cve-2023-38545.json", &CURL[..CURL.len() / 2])]);
        let err = read_archive(&broken[..], "rhel", &mut Documents::new()).unwrap_err();
        assert!(
            err.to_string().contains("2023/cve-2023-38545.json"),
            "{err}"
        );
        let empty = archive(&[("index.txt", b"x")]);
        let err = read_archive(&empty[..], "rhel", &mut Documents::new()).unwrap_err();
        assert!(err.to_string().contains("no VEX documents"), "{err}");
    }

    #[test]
    fn fingerprints_round_trip_and_foreign_ones_mean_no_base() {
        let fp = VexFingerprint {
            archive: "csaf_vex_2026-11-22.tar.zst".into(),
            high_water: Some(time::macros::datetime!(2026-11-28 10:00 UTC)),
            etag: "\"abc\"".into(),
            last_modified: String::new(),
            operation: "6f1c1d52-0000-4000-8000-000000000000".into(),
        };
        assert_eq!(VexFingerprint::parse(&fp.render()), fp);
        assert_eq!(
            VexFingerprint::parse("snapshot:2026-11-01:etag=x"),
            VexFingerprint::default()
        );
    }
}
