//! Clair v4's report shapes: `IndexReport` (what is in an image) and `VulnerabilityReport` (what affects it).
//!
//! Maps are keyed by string ids, as in Clair, so reports are wire-compatible with Clair clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Digest, Distribution, Package, Repository, Severity};

/// Where an image is in indexing (Clair's state names, so clients that poll on them keep working).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IndexState {
    /// The manifest is recorded; its layers are being fetched or uploaded.
    FetchLayers,
    /// Every layer is present; some are still being scanned.
    ScanLayers,
    /// All layers scanned; the report was assembled.
    IndexFinished,
    /// A layer failed; `err` says which and why.
    IndexError,
}

impl IndexState {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexState::FetchLayers => "FetchLayers",
            IndexState::ScanLayers => "ScanLayers",
            IndexState::IndexFinished => "IndexFinished",
            IndexState::IndexError => "IndexError",
        }
    }

    pub fn parse(s: &str) -> Option<IndexState> {
        [
            IndexState::FetchLayers,
            IndexState::ScanLayers,
            IndexState::IndexFinished,
            IndexState::IndexError,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// True once the state can no longer change without new input.
    pub fn is_terminal(self) -> bool {
        matches!(self, IndexState::IndexFinished | IndexState::IndexError)
    }
}

/// A package as Clair serializes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReportPackage {
    pub id: String,
    pub name: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<ReportPackage>>,
    #[serde(default)]
    pub normalized_version: String,
    #[serde(default)]
    pub module: String,
    #[serde(default)]
    pub arch: String,
    #[serde(default)]
    pub cpe: String,
    /// Lucid extension: the ecosystem (`dpkg`, `pypi`, …); Clair clients ignore unknown fields.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ecosystem: String,
}

impl ReportPackage {
    /// Builds the wire form of a scanned package.
    pub fn from_package(id: String, p: &Package) -> ReportPackage {
        ReportPackage {
            id: id.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
            kind: p.kind.as_str().to_owned(),
            source: p.source.as_ref().map(|s| {
                Box::new(ReportPackage {
                    id: format!("{id}-src"),
                    name: s.name.clone(),
                    version: s.version.clone(),
                    kind: "source".to_owned(),
                    ..Default::default()
                })
            }),
            normalized_version: String::new(),
            module: p.module.clone(),
            arch: p.arch.clone(),
            cpe: p.cpe.clone(),
            ecosystem: p
                .ecosystem
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// A distribution as Clair serializes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReportDistribution {
    pub id: String,
    pub did: String,
    pub name: String,
    pub version: String,
    pub version_code_name: String,
    pub version_id: String,
    pub arch: String,
    pub cpe: String,
    pub pretty_name: String,
}

impl ReportDistribution {
    pub fn from_distribution(id: String, d: &Distribution) -> ReportDistribution {
        ReportDistribution {
            id,
            did: d.did.clone(),
            name: d.name.clone(),
            version: d.version.clone(),
            version_code_name: d.version_code_name.clone(),
            version_id: d.version_id.clone(),
            arch: d.arch.clone(),
            cpe: d.cpe.clone(),
            pretty_name: d.pretty_name.clone(),
        }
    }
}

/// A repository as Clair serializes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReportRepository {
    pub id: String,
    pub name: String,
    pub key: String,
    pub uri: String,
    pub cpe: String,
}

impl ReportRepository {
    pub fn from_repository(id: String, r: &Repository) -> ReportRepository {
        ReportRepository {
            id,
            name: r.name.clone(),
            key: r.key.clone(),
            uri: r.uri.clone(),
            cpe: r.cpe.clone(),
        }
    }
}

/// Where a package was found: its database, the layer that introduced it, its distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Environment {
    pub package_db: String,
    pub introduced_in: String,
    pub distribution_id: String,
    #[serde(default)]
    pub repository_ids: Vec<String>,
}

/// Clair's IndexReport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexReport {
    pub manifest_hash: Digest,
    pub state: String,
    #[serde(default)]
    pub packages: BTreeMap<String, ReportPackage>,
    #[serde(default)]
    pub distributions: BTreeMap<String, ReportDistribution>,
    #[serde(default)]
    pub repository: BTreeMap<String, ReportRepository>,
    #[serde(default)]
    pub environments: BTreeMap<String, Vec<Environment>>,
    pub success: bool,
    pub err: String,
}

impl IndexReport {
    /// An empty report in the given state.
    pub fn new(manifest_hash: Digest, state: IndexState) -> IndexReport {
        IndexReport {
            manifest_hash,
            state: state.as_str().to_owned(),
            packages: BTreeMap::new(),
            distributions: BTreeMap::new(),
            repository: BTreeMap::new(),
            environments: BTreeMap::new(),
            success: state == IndexState::IndexFinished,
            err: String::new(),
        }
    }
}

/// One vulnerability as it appears in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReportVulnerability {
    pub id: String,
    pub updater: String,
    pub name: String,
    pub description: String,
    pub issued: String,
    /// Space-separated URLs, as in Clair.
    pub links: String,
    pub severity: String,
    pub normalized_severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<ReportPackage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<ReportDistribution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<ReportRepository>,
    pub fixed_in_version: String,
}

/// Clair's VulnerabilityReport, plus two Lucid extensions that Clair clients ignore: `feeds` (how fresh the
/// advisory data behind the report is) and `warnings` (why the report may be incomplete: above all, that no
/// feed has loaded yet, so an empty `vulnerabilities` map must not be read as "clean").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityReport {
    pub manifest_hash: Digest,
    pub packages: BTreeMap<String, ReportPackage>,
    pub distributions: BTreeMap<String, ReportDistribution>,
    pub repository: BTreeMap<String, ReportRepository>,
    pub environments: BTreeMap<String, Vec<Environment>>,
    /// Shared with the matcher's cache (a record is the same in every report that has it), so a report
    /// costs no copy of each record; serialized as the record itself.
    pub vulnerabilities: BTreeMap<String, std::sync::Arc<ReportVulnerability>>,
    /// Package id → ids of the vulnerabilities affecting it, most severe first.
    pub package_vulnerabilities: BTreeMap<String, Vec<String>>,
    /// Enrichment type (`message/vnd.clair.map.vulnerability; enricher=<source>`) → `[{vulnerability id:
    /// [enrichment record, …]}]`, Clair's layout.
    #[serde(default)]
    pub enrichments: BTreeMap<String, Vec<serde_json::Value>>,
    /// Lucid extension: every feed that covers a package ecosystem or distribution of this image, by
    /// updater name, with when it was last updated.
    #[serde(default)]
    pub feeds: BTreeMap<String, FeedFreshness>,
    /// Lucid extension: reasons the report may miss vulnerabilities (no feed loaded, a distribution no
    /// feed covers). Empty when every package was checked against loaded data.
    #[serde(default)]
    pub warnings: Vec<ReportWarning>,
}

/// How fresh one feed's data is (Lucid extension of the vulnerability report). Times are RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FeedFreshness {
    /// When the data now in use became live (the latest update operation's switch); `None` if the feed
    /// has never loaded.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// The last run of the feed's updater, successful or not.
    #[serde(default)]
    pub last_attempt: Option<String>,
    /// The last successful run (data unchanged or new).
    #[serde(default)]
    pub last_success: Option<String>,
    /// Why the last run failed; empty when it succeeded.
    #[serde(default)]
    pub last_error: String,
    /// Records in the data now in use.
    #[serde(default)]
    pub record_count: i64,
    /// Set (`YYYY-MM-DD`) when the data in use is the offline snapshot shipped with Lucid, loaded because
    /// the live feed was unreachable on a first run: the date of that snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// Why a vulnerability report may be incomplete (Lucid extension). `code` is stable and machine-readable;
/// `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportWarning {
    pub code: String,
    pub message: String,
}

impl ReportWarning {
    /// No vulnerability feed has loaded yet: nothing was checked.
    pub const NO_FEEDS_LOADED: &'static str = "no_feeds_loaded";
    /// Some packages belong to an ecosystem or distribution release no loaded feed covers.
    pub const FEED_NOT_LOADED: &'static str = "feed_not_loaded";
    /// Some OS packages are on a distribution (or release) Lucid has no matching rule for.
    pub const UNSUPPORTED_DISTRIBUTION: &'static str = "unsupported_distribution";
    /// A feed covering this image failed its last update; its older data was used.
    pub const FEED_UPDATE_FAILED: &'static str = "feed_update_failed";
    /// Some feeds covering this image hold the offline snapshot shipped with Lucid, not live data.
    pub const FEED_SNAPSHOT: &'static str = "feed_snapshot";

    pub fn new(code: &str, message: impl Into<String>) -> ReportWarning {
        ReportWarning {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}
