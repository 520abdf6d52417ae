//! Feed sources: where a feed's data comes from (a URL, or local files for air-gapped use), how it is
//! fetched with a fingerprint so unchanged data costs one request, and which parser reads it.
//!
//! Every source has the same small surface — [`FeedSource::fetch`] then [`FeedSource::parse`] — and the
//! parsers themselves live with their ecosystem (`ecosystems/alpine/secdb.rs`, `feeds/osv.rs`, …).
//! [`FeedFormat`] is the registry: adding a feed format is one variant and one `parse` arm.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use super::FeedError;
use crate::ecosystems::{alpine, amazon, debian, oracle, photon, rhel, suse, ubuntu};
use crate::error_chain;
use crate::feeds::enrichment::{self, Enrichment};
use crate::feeds::{osv, oval};
use crate::model::Vulnerability;

/// The parser a source's data needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedFormat {
    /// One Alpine secdb JSON document (`v3.19/main.json`).
    AlpineSecdb,
    /// A rolling apk distribution's secdb (`security.json` of Wolfi, Chainguard): `did` names it.
    RollingSecdb { did: String },
    /// One Ubuntu OVAL file (plain or `.bz2`) for a series.
    UbuntuOval { series: String },
    /// One Debian OVAL file (plain or `.bz2`) for a release codename.
    DebianOval { codename: String },
    /// The Debian security tracker's JSON export.
    DebianTracker,
    /// An osv.dev per-ecosystem export (`all.zip`).
    OsvZip,
    /// OSV records as individual `.json`/`.yaml` files (a checkout of an advisory repository).
    OsvFiles,
    /// Red Hat CSAF VEX documents, one per file, and `csaf_vex_*.tar.zst` archives of them (with a
    /// `deletions.csv`); online, the VEX directory ([`Origin::RedHatVex`]).
    RhelVex,
    /// One Red Hat OVAL file (plain or `.bz2`) for a RHEL major release.
    RhelOval { major: String },
    /// A yum repository's `updateinfo.xml` (plain or gzip): Amazon Linux's ALAS advisories.
    AmazonUpdateinfo,
    /// Oracle Linux ELSA OVAL (plain or `.bz2`): per release, per year or all-in-one, one parser.
    OracleOval,
    /// One SUSE product's OVAL (plain or gzip): `product` is the distribution (`sles`/`15`,
    /// `opensuse-leap`/`15.6`) its records are filed under.
    SuseOval {
        product: crate::model::DistributionSelector,
    },
    /// Photon OS CVE metadata JSON (plain or gzip) for one release (`5.0`).
    PhotonCveMetadata { release: String },
    /// Enrichment: an NVD CVE JSON 2.0 feed (plain or gzip).
    Nvd,
    /// Enrichment: CISA's KEV catalog JSON.
    Kev,
    /// Enrichment: FIRST's EPSS scores CSV (plain or gzip).
    Epss,
}

/// Parsed records of one update operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Records {
    Vulnerabilities(Vec<Vulnerability>),
    Enrichments(Vec<Enrichment>),
}

impl Records {
    pub fn len(&self) -> usize {
        match self {
            Records::Vulnerabilities(r) => r.len(),
            Records::Enrichments(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FeedFormat {
    /// Whether records are grouped into one update operation per OSV ecosystem (`osv/PyPI`, …) rather than
    /// one per source: a folder of OSV records usually mixes ecosystems.
    fn splits_by_record_updater(&self) -> bool {
        matches!(self, FeedFormat::OsvZip | FeedFormat::OsvFiles)
    }

    /// Whether the format carries enrichments (keyed by CVE) rather than vulnerability records.
    pub fn is_enrichment(&self) -> bool {
        matches!(self, FeedFormat::Nvd | FeedFormat::Kev | FeedFormat::Epss)
    }

    /// Parses enrichment `files`; an error for vulnerability formats.
    pub fn parse_enrichments(
        &self,
        source: &str,
        files: &[PathBuf],
    ) -> Result<Vec<Enrichment>, FeedError> {
        let mut records = Vec::new();
        for path in files {
            let file = File::open(path)
                .map_err(|e| FeedError::malformed(source, format!("{}: {e}", path.display())))?;
            let input = decompressed(file, source)?;
            let parsed = match self {
                FeedFormat::Nvd => enrichment::parse_nvd(input),
                FeedFormat::Kev => enrichment::parse_kev(input),
                FeedFormat::Epss => enrichment::parse_epss(input),
                other => {
                    return Err(FeedError::malformed(
                        source,
                        format!("{other:?} is not an enrichment format"),
                    ));
                }
            };
            records.extend(parsed?);
        }
        Ok(records)
    }

    /// Parses `files` (a download or local files) into records. Any bad file fails the whole source, so a
    /// broken feed never half-replaces good data.
    pub fn parse(&self, source: &str, files: &[PathBuf]) -> Result<Vec<Vulnerability>, FeedError> {
        if *self == FeedFormat::RhelVex {
            // Archives, deletions and loose documents combine (later copies replace earlier ones).
            return rhel::vex_feed::parse_files(source, files);
        }
        let open = |path: &Path| {
            File::open(path)
                .map_err(|e| FeedError::malformed(source, format!("{}: {e}", path.display())))
        };
        let prefix = |e: FeedError, path: &Path| match e {
            FeedError::Malformed { feed, reason } => FeedError::Malformed {
                feed,
                reason: format!("{}: {reason}", path.display()),
            },
            other => other,
        };
        let mut records = Vec::new();
        for path in files {
            let parsed = match self {
                FeedFormat::AlpineSecdb => {
                    let mut bytes = Vec::new();
                    open(path)?
                        .read_to_end(&mut bytes)
                        .map_err(|e| FeedError::malformed(source, e))?;
                    alpine::secdb::parse_alpine_secdb(&bytes)
                }
                FeedFormat::RollingSecdb { did } => {
                    let mut bytes = Vec::new();
                    open(path)?
                        .read_to_end(&mut bytes)
                        .map_err(|e| FeedError::malformed(source, e))?;
                    let distribution = alpine::secdb::SecdbDistribution {
                        updater: did.clone(),
                        did: did.clone(),
                        release: String::new(),
                        link_prefix: "https://images.chainguard.dev/security/".to_owned(),
                    };
                    alpine::secdb::parse_secdb(&bytes, &distribution)
                }
                FeedFormat::UbuntuOval { series } => {
                    ubuntu::oval::parse_oval(decompressed(open(path)?, source)?, series)
                }
                FeedFormat::DebianOval { codename } => {
                    debian::oval::parse_oval(decompressed(open(path)?, source)?, codename)
                }
                FeedFormat::RhelOval { major } => {
                    rhel::oval::parse_oval(decompressed(open(path)?, source)?, major)
                }
                FeedFormat::AmazonUpdateinfo => {
                    amazon::updateinfo::parse_updateinfo(decompressed(open(path)?, source)?)
                }
                FeedFormat::OracleOval => {
                    oracle::elsa::parse_elsa(decompressed(open(path)?, source)?)
                }
                FeedFormat::SuseOval { product } => {
                    suse::oval::parse_oval(decompressed(open(path)?, source)?, product)
                }
                FeedFormat::PhotonCveMetadata { release } => {
                    photon::cve_metadata::parse_cve_metadata(
                        decompressed(open(path)?, source)?,
                        release,
                    )
                }
                FeedFormat::DebianTracker => debian::tracker::parse_tracker_json(open(path)?),
                FeedFormat::OsvZip => osv::parse_zip(BufReader::new(open(path)?)),
                FeedFormat::OsvFiles => {
                    let mut bytes = Vec::new();
                    open(path)?
                        .read_to_end(&mut bytes)
                        .map_err(|e| FeedError::malformed(source, e))?;
                    let is_yaml = path.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml")
                    });
                    if is_yaml {
                        osv::parse_yaml_record(&bytes)
                    } else {
                        osv::parse_record(&bytes)
                    }
                }
                FeedFormat::RhelVex => {
                    rhel::vex_feed::parse_files(source, std::slice::from_ref(path))
                }
                FeedFormat::Nvd | FeedFormat::Kev | FeedFormat::Epss => {
                    return Err(FeedError::malformed(
                        source,
                        format!("{self:?} carries enrichments, not vulnerabilities"),
                    ));
                }
            };
            records.extend(parsed.map_err(|e| prefix(e, path))?);
        }
        Ok(records)
    }
}

/// A reader over a file that may be bzip2- or gzip-compressed (feeds are published both ways), sniffed
/// from its first bytes.
fn decompressed(mut file: File, source: &str) -> Result<Box<dyn Read>, FeedError> {
    let mut magic = [0u8; 3];
    let n = file
        .read(&mut magic)
        .map_err(|e| FeedError::malformed(source, e))?;
    file.rewind().map_err(|e| FeedError::malformed(source, e))?;
    if n == 3 && &magic == b"BZh" {
        Ok(Box::new(oval::bz2_decoder(BufReader::new(file))))
    } else if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(
            file,
        ))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// Where a source's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Downloaded with a conditional GET.
    Url(String),
    /// Local files (air-gapped: `lucid update --from DIR`).
    Files(Vec<PathBuf>),
    /// A yum repository's `updateinfo`, found through the repository's `mirror.list` (when the URL ends
    /// so) or base URL, then its `repodata/repomd.xml`. The repomd checksum is the fingerprint, so an
    /// unchanged feed costs the two small metadata requests.
    YumRepository(String),
    /// Red Hat's VEX directory (`…/csaf/v2/vex/`): a full archive, then incremental `changes.csv` runs
    /// against the live records (`ecosystems/rhel/vex_feed.rs`; the updater runs it, not [`FeedSource::fetch`]).
    RedHatVex(String),
}

/// One feed source: a stable name (the run lock, status row and, for most formats, the updater name of
/// its operations), where its data lives and how to parse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    pub name: String,
    pub origin: Origin,
    pub format: FeedFormat,
}

/// A fetch's result.
#[derive(Debug)]
pub enum Fetch {
    /// The data has the previous fingerprint: nothing to do.
    Unchanged,
    /// New data, to parse. A download lives in a temporary file deleted on drop.
    Changed {
        fingerprint: String,
        files: Vec<PathBuf>,
        _download: Option<tempfile::TempPath>,
    },
}

/// How downloads behave.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Attempts after the first for retryable failures (timeouts, 429, 5xx), with exponential backoff.
    pub retries: u32,
    /// Delay before the first retry; doubles each time, plus jitter.
    pub backoff: Duration,
    /// Limit on one download's size, against a hostile or broken mirror.
    pub max_bytes: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retries: 2,
            backoff: Duration::from_secs(2),
            max_bytes: 2 << 30,
        }
    }
}

/// The parts of a fingerprint: validators for the conditional request, and the sha256 of the body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Fingerprint {
    etag: String,
    last_modified: String,
    sha256: String,
}

impl Fingerprint {
    fn parse(text: &str) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for part in text.split('\n') {
            if let Some(v) = part.strip_prefix("etag=") {
                fp.etag = v.to_owned();
            } else if let Some(v) = part.strip_prefix("last-modified=") {
                fp.last_modified = v.to_owned();
            } else if let Some(v) = part.strip_prefix("sha256=") {
                fp.sha256 = v.to_owned();
            }
        }
        fp
    }

    fn render(&self) -> String {
        format!(
            "etag={}\nlast-modified={}\nsha256={}",
            self.etag, self.last_modified, self.sha256
        )
    }
}

impl FeedSource {
    /// Runs the parser over fetched files (blocking: call it from `spawn_blocking`) and groups the records
    /// into update operations: `(updater name, records)`.
    pub fn parse(&self, files: &[PathBuf]) -> Result<Vec<(String, Records)>, FeedError> {
        if self.format.is_enrichment() {
            let records = self.format.parse_enrichments(&self.name, files)?;
            return Ok(vec![(self.name.clone(), Records::Enrichments(records))]);
        }
        let records = self.format.parse(&self.name, files)?;
        if !self.format.splits_by_record_updater() {
            return Ok(vec![(self.name.clone(), Records::Vulnerabilities(records))]);
        }
        let mut grouped: BTreeMap<String, Vec<Vulnerability>> = BTreeMap::new();
        for record in records {
            grouped
                .entry(record.updater.clone())
                .or_default()
                .push(record);
        }
        Ok(grouped
            .into_iter()
            .map(|(updater, records)| (updater, Records::Vulnerabilities(records)))
            .collect())
    }

    /// Fetches the source's data unless it still has `previous` fingerprint. Local files are fingerprinted
    /// by their names and contents; downloads send `If-None-Match`/`If-Modified-Since` and are compared by
    /// sha256 too, for servers that ignore validators.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        previous: &str,
        options: &FetchOptions,
    ) -> Result<Fetch, FeedError> {
        match &self.origin {
            Origin::Files(files) => {
                let owned = files.clone();
                let name = self.name.clone();
                let sha256 = tokio::task::spawn_blocking(move || hash_files(&name, &owned))
                    .await
                    .map_err(|e| FeedError::malformed(&self.name, e))??;
                let fingerprint = Fingerprint {
                    sha256,
                    ..Fingerprint::default()
                }
                .render();
                if fingerprint == previous {
                    return Ok(Fetch::Unchanged);
                }
                Ok(Fetch::Changed {
                    fingerprint,
                    files: files.clone(),
                    _download: None,
                })
            }
            Origin::RedHatVex(url) => Err(FeedError::Fetch {
                feed: self.name.clone(),
                reason: format!("{url}: an incremental source, run by the feed updater"),
                retryable: false,
            }),
            Origin::Url(url) | Origin::YumRepository(url) => {
                let previous = Fingerprint::parse(previous);
                let mut attempt = 0;
                loop {
                    let result = if matches!(self.origin, Origin::YumRepository(_)) {
                        self.download_updateinfo(http, url, &previous, options)
                            .await
                    } else {
                        self.download(http, url, &previous, options).await
                    };
                    match result {
                        Err(FeedError::Fetch {
                            retryable: true, ..
                        }) if attempt < options.retries => {
                            let delay = options.backoff * 2u32.pow(attempt);
                            let jitter = Duration::from_millis(rand::random_range(0..500));
                            tracing::warn!(source = %self.name, attempt, "retrying feed download");
                            tokio::time::sleep(delay + jitter).await;
                            attempt += 1;
                        }
                        other => return other,
                    }
                }
            }
        }
    }

    /// Resolves a yum repository's updateinfo (mirror list → `repomd.xml` → location) and downloads it
    /// unless the repomd checksum equals the previous fingerprint's.
    async fn download_updateinfo(
        &self,
        http: &reqwest::Client,
        url: &str,
        previous: &Fingerprint,
        options: &FetchOptions,
    ) -> Result<Fetch, FeedError> {
        /// Mirror lists and `repomd.xml` are a few KiB; anything larger is not one.
        const METADATA_LIMIT: u64 = 1 << 20;
        let base = if url.ends_with("mirror.list") {
            let list = self.get_small(http, url, METADATA_LIMIT).await?;
            String::from_utf8_lossy(&list)
                .lines()
                .map(str::trim)
                .find(|line| line.starts_with("http://") || line.starts_with("https://"))
                .map(str::to_owned)
                .ok_or_else(|| {
                    FeedError::malformed(
                        &self.name,
                        format!("{url}: no repository URL in the mirror list"),
                    )
                })?
        } else {
            url.to_owned()
        };
        let base = base.trim_end_matches('/');
        let repomd_url = format!("{base}/repodata/repomd.xml");
        let repomd = self.get_small(http, &repomd_url, METADATA_LIMIT).await?;
        let entry = amazon::updateinfo::parse_repomd(&repomd)
            .map_err(|e| FeedError::malformed(&self.name, format!("{repomd_url}: {e}")))?
            .ok_or_else(|| {
                FeedError::malformed(
                    &self.name,
                    format!("{repomd_url}: the repository publishes no updateinfo"),
                )
            })?;
        if previous.sha256 == entry.checksum {
            return Ok(Fetch::Unchanged);
        }
        let location = format!("{base}/{}", entry.location.trim_start_matches('/'));
        match self
            .download(http, &location, &Fingerprint::default(), options)
            .await?
        {
            Fetch::Changed {
                files, _download, ..
            } => Ok(Fetch::Changed {
                fingerprint: Fingerprint {
                    sha256: entry.checksum,
                    ..Fingerprint::default()
                }
                .render(),
                files,
                _download,
            }),
            Fetch::Unchanged => Ok(Fetch::Unchanged),
        }
    }

    /// A small metadata document, whole.
    async fn get_small(
        &self,
        http: &reqwest::Client,
        url: &str,
        limit: u64,
    ) -> Result<Vec<u8>, FeedError> {
        let fetch_error = |reason: String, retryable: bool| FeedError::Fetch {
            feed: self.name.clone(),
            reason,
            retryable,
        };
        let mut response = http
            .get(url)
            .send()
            .await
            .map_err(|e| fetch_error(format!("GET {url}: {}", error_chain(&e)), true))?;
        let status = response.status();
        if !status.is_success() {
            let retryable =
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(fetch_error(format!("GET {url}: HTTP {status}"), retryable));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fetch_error(format!("GET {url}: body: {}", error_chain(&e)), true))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > limit {
                return Err(fetch_error(
                    format!("GET {url}: body exceeds {limit} bytes"),
                    false,
                ));
            }
        }
        Ok(body)
    }

    async fn download(
        &self,
        http: &reqwest::Client,
        url: &str,
        previous: &Fingerprint,
        options: &FetchOptions,
    ) -> Result<Fetch, FeedError> {
        let fetch_error = |reason: String, retryable: bool| FeedError::Fetch {
            feed: self.name.clone(),
            reason,
            retryable,
        };
        let mut request = http.get(url);
        if !previous.etag.is_empty() {
            request = request.header(reqwest::header::IF_NONE_MATCH, &previous.etag);
        }
        if !previous.last_modified.is_empty() {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, &previous.last_modified);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| fetch_error(format!("GET {url}: {}", error_chain(&e)), true))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetch::Unchanged);
        }
        if !status.is_success() {
            let retryable =
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(fetch_error(format!("GET {url}: HTTP {status}"), retryable));
        }
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let store_error = |e: std::io::Error| FeedError::Store {
            feed: self.name.clone(),
            reason: format!("temporary file: {e}"),
        };
        let mut file = tempfile::NamedTempFile::new().map_err(store_error)?;
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        loop {
            let chunk = response
                .chunk()
                .await
                .map_err(|e| fetch_error(format!("GET {url}: body: {}", error_chain(&e)), true))?;
            let Some(chunk) = chunk else { break };
            received += chunk.len() as u64;
            if received > options.max_bytes {
                return Err(fetch_error(
                    format!("GET {url}: body exceeds {} bytes", options.max_bytes),
                    false,
                ));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).map_err(store_error)?;
        }
        file.flush().map_err(store_error)?;
        let fingerprint = Fingerprint {
            etag,
            last_modified,
            sha256: hex::encode(hasher.finalize()),
        };
        if !previous.sha256.is_empty() && previous.sha256 == fingerprint.sha256 {
            return Ok(Fetch::Unchanged);
        }
        let path = file.into_temp_path();
        Ok(Fetch::Changed {
            fingerprint: fingerprint.render(),
            files: vec![path.to_path_buf()],
            _download: Some(path),
        })
    }
}

/// sha256 over the files' names and contents, in order.
fn hash_files(source: &str, files: &[PathBuf]) -> Result<String, FeedError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    for path in files {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        let mut file = File::open(path)
            .map_err(|e| FeedError::malformed(source, format!("{}: {e}", path.display())))?;
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| FeedError::malformed(source, format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
