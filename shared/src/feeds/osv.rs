//! The OSV format (<https://ossf.github.io/osv-schema/>, schema 1.6), as served by osv.dev per ecosystem
//! (`<Ecosystem>/all.zip`) and as kept in advisory repositories (the Go vulnerability database and RustSec
//! as JSON, PyPI's advisory database as YAML).
//!
//! Each OSV record becomes one [`Vulnerability`] per affected package of a language ecosystem Lucid knows
//! (updater `osv/<OSV ecosystem name>`, as in Clair). OS ecosystems (`Debian:12`, `Alpine:v3.19`, …) are
//! skipped: their distributions have their own feeds. Withdrawn records produce nothing.
//!
//! Ranges: `SEMVER` and `ECOSYSTEM` ranges become [`AffectedRange`] intervals, walking the events in the
//! order the record gives them (`introduced` opens an interval, `fixed` or `last_affected` closes it;
//! `introduced: "0"` means "from the first version"; `limit` caps the range's intervals). `GIT` ranges name
//! commits, which no installed package carries, so they are ignored; the `versions` list, which OSV
//! enumerates from them, is kept. An affected package with nothing to match on (only `GIT` ranges and no
//! versions) produces no record rather than one that would match every version.
//!
//! Severity: the first parsable CVSS v3 vector's base score (computed by the RustSec `cvss` crate), else a
//! CVSS v4 or v2 vector's score, mapped with [`Severity::from_cvss_score`]; without any vector, GHSA's
//! `database_specific.severity` (`LOW`/`MODERATE`/`HIGH`/`CRITICAL`). The vendor `severity` string is the
//! vector used, or the GHSA word.

use std::cmp::Ordering;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::FeedError;
use crate::ecosystems;
use crate::model::{AffectedRange, Ecosystem, Severity, Vulnerability};

/// The feed name used in errors.
pub const FEED: &str = "osv";

/// Largest zip entry read, uncompressed; OSV records are a few KiB, the largest known a few MiB.
pub const MAX_RECORD_BYTES: u64 = 32 * 1024 * 1024;

/// Deepest folder nesting followed when walking an advisory checkout.
const MAX_DIRECTORY_DEPTH: usize = 16;

/// Treats JSON `null` like a missing field (some exporters write `"aliases": null`).
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// The parts of an OSV record Lucid uses; unknown fields are ignored, known ones are type-checked.
#[derive(Debug, Deserialize)]
struct OsvRecord {
    id: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    severity: Vec<OsvSeverity>,
    #[serde(default, deserialize_with = "null_as_default")]
    affected: Vec<OsvAffected>,
    #[serde(default, deserialize_with = "null_as_default")]
    references: Vec<OsvReference>,
    #[serde(default)]
    database_specific: Option<DatabaseSpecific>,
}

#[derive(Debug, Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Debug, Default, Deserialize)]
struct DatabaseSpecific {
    /// GHSA's qualitative severity.
    #[serde(default)]
    severity: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct OsvAffected {
    package: Option<OsvPackage>,
    #[serde(default, deserialize_with = "null_as_default")]
    ranges: Vec<OsvRange>,
    #[serde(default, deserialize_with = "null_as_default")]
    versions: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Debug, Deserialize)]
struct OsvRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "null_as_default")]
    events: Vec<OsvEvent>,
}

/// One event; OSV requires exactly one of the four fields.
#[derive(Debug, Deserialize)]
struct OsvEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OsvReference {
    url: String,
}

/// Parses one OSV record in JSON into its vulnerabilities (none when withdrawn or when no affected
/// package belongs to a language ecosystem Lucid knows).
pub fn parse_record(bytes: &[u8]) -> Result<Vec<Vulnerability>, FeedError> {
    let record: OsvRecord = serde_json::from_slice(bytes)
        .map_err(|e| FeedError::malformed(FEED, format!("OSV JSON: {e}")))?;
    convert(record)
}

/// Parses one OSV record in YAML (the PyPI advisory database's format).
pub fn parse_yaml_record(bytes: &[u8]) -> Result<Vec<Vulnerability>, FeedError> {
    let record: OsvRecord = serde_norway::from_slice(bytes)
        .map_err(|e| FeedError::malformed(FEED, format!("OSV YAML: {e}")))?;
    convert(record)
}

/// Parses an osv.dev per-ecosystem export (`<Ecosystem>/all.zip`: one `<ID>.json` per record). A bad
/// record fails the whole archive, naming the entry, so a broken export never half-replaces good data.
pub fn parse_zip(reader: impl Read + Seek) -> Result<Vec<Vulnerability>, FeedError> {
    let mut archive = zip::ZipArchive::new(reader)
        .map_err(|e| FeedError::malformed(FEED, format!("OSV zip: {e}")))?;
    let mut vulnerabilities = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| FeedError::malformed(FEED, format!("OSV zip entry {index}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| FeedError::malformed(FEED, format!("OSV zip entry {index}: {e}")))?
            .into_owned();
        if !entry.is_file() || !name.ends_with(".json") {
            continue;
        }
        if entry.size() > MAX_RECORD_BYTES {
            return Err(FeedError::malformed(
                FEED,
                format!(
                    "OSV zip entry {name}: {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit",
                    entry.size()
                ),
            ));
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| FeedError::malformed(FEED, format!("OSV zip entry {name}: {e}")))?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(FeedError::malformed(
                FEED,
                format!("OSV zip entry {name}: exceeds the {MAX_RECORD_BYTES}-byte limit"),
            ));
        }
        let parsed = parse_record(&bytes).map_err(|e| prefix_error(e, &name))?;
        vulnerabilities.extend(parsed);
    }
    Ok(vulnerabilities)
}

/// Parses every OSV record (`*.json`, `*.yaml`, `*.yml`) under `root`, in path order, skipping hidden
/// files and folders (such as PyPI's `.id-allocator`) and symbolic links.
pub fn parse_directory(root: &Path) -> Result<Vec<Vulnerability>, FeedError> {
    let mut files = Vec::new();
    collect_record_files(root, 0, &mut files)?;
    files.sort();
    let mut vulnerabilities = Vec::new();
    for path in files {
        let display = path.display().to_string();
        let metadata = std::fs::metadata(&path)
            .map_err(|e| FeedError::malformed(FEED, format!("{display}: {e}")))?;
        if metadata.len() > MAX_RECORD_BYTES {
            return Err(FeedError::malformed(
                FEED,
                format!("{display}: exceeds the {MAX_RECORD_BYTES}-byte limit"),
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| FeedError::malformed(FEED, format!("{display}: {e}")))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        let parsed = if is_json {
            parse_record(&bytes)
        } else {
            parse_yaml_record(&bytes)
        };
        vulnerabilities.extend(parsed.map_err(|e| prefix_error(e, &display))?);
    }
    Ok(vulnerabilities)
}

fn collect_record_files(
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
) -> Result<(), FeedError> {
    if depth > MAX_DIRECTORY_DEPTH {
        return Err(FeedError::malformed(
            FEED,
            format!(
                "{}: folders nested deeper than {MAX_DIRECTORY_DEPTH}",
                dir.display()
            ),
        ));
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| FeedError::malformed(FEED, format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| FeedError::malformed(FEED, format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let file_type = entry
            .file_type()
            .map_err(|e| FeedError::malformed(FEED, format!("{}: {e}", path.display())))?;
        if file_type.is_dir() {
            collect_record_files(&path, depth + 1, files)?;
        } else if file_type.is_file()
            && path
                .extension()
                .is_some_and(|e| e == "json" || e == "yaml" || e == "yml")
        {
            files.push(path);
        }
    }
    Ok(())
}

/// Adds where the bad record came from to a parse error.
fn prefix_error(error: FeedError, location: &str) -> FeedError {
    match error {
        FeedError::Malformed { feed, reason } => FeedError::Malformed {
            feed,
            reason: format!("{location}: {reason}"),
        },
        other => other,
    }
}

/// An OSV timestamp; the Go database's `0001-01-01T00:00:00Z` placeholder means "unknown".
fn parse_timestamp(
    id: &str,
    field: &str,
    value: &str,
) -> Result<Option<OffsetDateTime>, FeedError> {
    let parsed = OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        FeedError::malformed(
            FEED,
            format!("{id}: {field} {:?} is not RFC 3339: {e}", truncate(value)),
        )
    })?;
    Ok((parsed.year() > 1).then_some(parsed))
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The record's severity: (vendor string, normalized), see the module documentation.
fn severity_of(record: &OsvRecord) -> (String, Severity) {
    let scored = |wanted: &str| {
        record
            .severity
            .iter()
            .filter(|s| s.kind == wanted)
            .find_map(|s| {
                cvss_base_score(&s.score)
                    .map(|score| (s.score.clone(), Severity::from_cvss_score(score)))
            })
    };
    if let Some(found) = scored("CVSS_V3")
        .or_else(|| scored("CVSS_V4"))
        .or_else(|| scored("CVSS_V2"))
    {
        return found;
    }
    let ghsa = record
        .database_specific
        .as_ref()
        .and_then(|d| d.severity.as_ref())
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let normalized = match ghsa.to_ascii_uppercase().as_str() {
        "LOW" => Severity::Low,
        "MODERATE" | "MEDIUM" => Severity::Medium,
        "HIGH" => Severity::High,
        "CRITICAL" => Severity::Critical,
        _ => Severity::Unknown,
    };
    (ghsa.to_owned(), normalized)
}

/// The base score of a CVSS vector (v3.0, v3.1, v4.0 or v2), `None` when the vector does not parse.
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    match cvss::Cvss::from_str(vector).ok()? {
        cvss::Cvss::CvssV30(v) | cvss::Cvss::CvssV31(v) => Some(v.base_score().value()),
        other => Some(other.score()),
    }
}

/// Converts a record's events into intervals, in the order the record gives them.
fn intervals(
    ecosystem: Ecosystem,
    id: &str,
    events: &[OsvEvent],
) -> Result<Vec<AffectedRange>, FeedError> {
    let mut result = Vec::new();
    // `Some(None)`: an interval is open from the first version; `Some(Some(v))`: open from v.
    let mut open: Option<Option<String>> = None;
    let mut limits = Vec::new();
    for event in events {
        let set = [
            &event.introduced,
            &event.fixed,
            &event.last_affected,
            &event.limit,
        ]
        .iter()
        .filter(|f| f.is_some())
        .count();
        if set != 1 {
            return Err(FeedError::malformed(
                FEED,
                format!(
                    "{id}: a range event must have exactly one of introduced/fixed/last_affected/limit"
                ),
            ));
        }
        if let Some(introduced) = &event.introduced {
            if let Some(previous) = open.take() {
                // Two `introduced` in a row: the earlier interval simply stays open.
                result.push(AffectedRange {
                    introduced: previous,
                    ..AffectedRange::default()
                });
            }
            open = Some((introduced != "0").then(|| introduced.clone()));
        } else if let Some(fixed) = &event.fixed {
            result.push(AffectedRange {
                introduced: open.take().flatten(),
                fixed: Some(fixed.clone()),
                last_affected: None,
            });
        } else if let Some(last) = &event.last_affected {
            result.push(AffectedRange {
                introduced: open.take().flatten(),
                fixed: None,
                last_affected: Some(last.clone()),
            });
        } else if let Some(limit) = &event.limit {
            limits.push(limit.clone());
        }
    }
    if let Some(previous) = open {
        result.push(AffectedRange {
            introduced: previous,
            ..AffectedRange::default()
        });
    }
    // `limit`: versions at or above the limit are outside this range. With several limits, being below any
    // one of them is enough (OSV's evaluation), so the largest one bounds.
    let compare = |a: &str, b: &str| compare_versions(ecosystem, a, b);
    if let Some(limit) = limits.into_iter().max_by(|a, b| compare(a, b)) {
        for interval in &mut result {
            let beyond_limit = match (&interval.fixed, &interval.last_affected) {
                (Some(fixed), _) => compare(fixed, &limit) == Ordering::Greater,
                (None, Some(last)) => compare(last, &limit) != Ordering::Less,
                (None, None) => true,
            };
            if beyond_limit {
                interval.fixed = Some(limit.clone());
                interval.last_affected = None;
            }
        }
    }
    Ok(result)
}

fn convert(record: OsvRecord) -> Result<Vec<Vulnerability>, FeedError> {
    let id = record.id.trim().to_owned();
    if id.is_empty() {
        return Err(FeedError::malformed(FEED, "OSV record has an empty id"));
    }
    if let Some(withdrawn) = &record.withdrawn {
        // Validate, then drop: a withdrawn advisory must not match anything.
        parse_timestamp(&id, "withdrawn", withdrawn)?;
        return Ok(Vec::new());
    }
    let issued = match &record.published {
        Some(published) => parse_timestamp(&id, "published", published)?,
        None => None,
    };
    let (severity, normalized_severity) = severity_of(&record);
    let description = record
        .details
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .or(record.summary.as_deref())
        .unwrap_or_default()
        .trim()
        .to_owned();
    let mut links: Vec<String> = Vec::new();
    for reference in &record.references {
        if !links.contains(&reference.url) {
            links.push(reference.url.clone());
        }
    }
    let mut vulnerabilities = Vec::new();
    for affected in &record.affected {
        let Some(package) = &affected.package else {
            continue;
        };
        let Some(ecosystem) = Ecosystem::from_str(&package.ecosystem)
            .ok()
            .filter(|e| !e.is_os())
        else {
            continue;
        };
        if package.name.trim().is_empty() {
            return Err(FeedError::malformed(
                FEED,
                format!("{id}: affected package without a name"),
            ));
        }
        let mut ranges = Vec::new();
        let mut fixed_in_version = String::new();
        let mut has_version_ranges = false;
        for range in &affected.ranges {
            if range.kind != "SEMVER" && range.kind != "ECOSYSTEM" {
                continue;
            }
            has_version_ranges = true;
            if fixed_in_version.is_empty()
                && let Some(fixed) = range.events.iter().find_map(|e| e.fixed.as_ref())
            {
                fixed_in_version = fixed.clone();
            }
            ranges.extend(intervals(ecosystem, &id, &range.events)?);
        }
        if !has_version_ranges && affected.versions.is_empty() {
            // Only GIT ranges (or nothing): no installed version can be placed; never "affects all".
            continue;
        }
        if has_version_ranges && ranges.is_empty() && affected.versions.is_empty() {
            // Ranges present but without events describe no version at all.
            continue;
        }
        vulnerabilities.push(Vulnerability {
            updater: format!("osv/{}", ecosystem.osv_name().unwrap_or(ecosystem.as_str())),
            name: id.clone(),
            description: description.clone(),
            issued,
            links: links.clone(),
            severity: severity.clone(),
            normalized_severity,
            ecosystem: Some(ecosystem),
            package_name: package.name.clone(),
            package_is_source: false,
            distribution: None,
            module: String::new(),
            arch: String::new(),
            ranges,
            versions: affected.versions.clone(),
            fixed_in_version,
            aliases: record.aliases.clone(),
        });
    }
    Ok(vulnerabilities)
}

/// Compares two versions with the ecosystem's comparator (see [`ecosystems::compare_versions`]).
pub fn compare_versions(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    ecosystems::compare_versions(ecosystem, a, b)
}

/// Whether `version` of the record's package is affected, with OSV's semantics: listed in `versions`, or
/// inside any interval (`introduced` ≤ v, and v < `fixed` or v ≤ `last_affected`). A record with neither
/// ranges nor versions affects every version. Unparsable versions follow the comparator's fallback (they
/// sort first, so they fall inside intervals that start at the first version: reported, not hidden).
pub fn affects(ecosystem: Ecosystem, record: &Vulnerability, version: &str) -> bool {
    affects_listed(ecosystem, &record.ranges, &record.versions, version, |v| {
        record.versions.iter().any(|listed| listed == v)
    })
}

/// [`affects`] over a record's `ranges` and `versions`, with the membership test of `versions` supplied by
/// the caller (`listed(version)`): the matcher keeps its cached candidates' versions sorted and
/// binary-searches them, where [`affects`] scans (OSV records can list hundreds of versions).
pub fn affects_listed(
    ecosystem: Ecosystem,
    ranges: &[crate::model::AffectedRange],
    versions: &[String],
    version: &str,
    listed: impl FnOnce(&str) -> bool,
) -> bool {
    if !versions.is_empty() && listed(version) {
        return true;
    }
    if ranges.is_empty() {
        return versions.is_empty();
    }
    in_ranges(ecosystem, ranges, version)
}

/// Whether `version` falls inside any of `ranges` (`introduced` ≤ v, and v < `fixed` or v ≤
/// `last_affected`): [`affects`] without the listed versions. A pure function of the version's text, so a
/// listed version inside a range adds nothing to the record's `versions` (the feed store leaves those out
/// of the matcher's probe).
pub fn in_ranges(
    ecosystem: Ecosystem,
    ranges: &[crate::model::AffectedRange],
    version: &str,
) -> bool {
    let compare = |a: &str, b: &str| compare_versions(ecosystem, a, b);
    ranges.iter().any(|range| {
        let after_start = range
            .introduced
            .as_deref()
            .is_none_or(|introduced| compare(version, introduced) != Ordering::Less);
        let before_end = match (&range.fixed, &range.last_affected) {
            (Some(fixed), _) => compare(version, fixed) == Ordering::Less,
            (None, Some(last)) => compare(version, last) != Ordering::Greater,
            (None, None) => true,
        };
        after_start && before_end
    })
}

/// A bound on the versions a record can affect, as an order key ([`ecosystems::version_order_key`]): every
/// version [`affects_listed`] finds affected by `ranges` and `versions` has a key below it. `None` when the
/// record has no such bound (no ranges: unfixed; a range without an end) or the ecosystem has no order
/// key. Stored beside the record (`vulnerability.version_bound`), so the matcher's candidate query skips
/// records fixed at or below an installed version.
///
/// `introduced` is left out (the bound only has to hold above); listed `versions` make the record
/// unbounded (the feed store passes only those no range covers, which distribution feeds never have).
pub fn version_bound(
    ecosystem: Ecosystem,
    ranges: &[AffectedRange],
    versions: &[&str],
) -> Option<Vec<u8>> {
    if ranges.is_empty() || !versions.is_empty() {
        return None;
    }
    let mut bound: Option<Vec<u8>> = None;
    for range in ranges {
        let end = match (&range.fixed, &range.last_affected) {
            // Affected below the fix.
            (Some(fixed), _) => ecosystems::version_order_key(ecosystem, fixed)?,
            // Affected up to and including the last affected version: its key then a 0xFF byte is above the
            // key of every version at or below it (equal keys are its prefix; lesser ones differ earlier).
            (None, Some(last)) => {
                let mut key = ecosystems::version_order_key(ecosystem, last)?;
                key.push(0xFF);
                key
            }
            (None, None) => return None,
        };
        if bound.as_ref().is_none_or(|b| *b < end) {
            bound = Some(end);
        }
    }
    bound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(
        introduced: Option<&str>,
        fixed: Option<&str>,
        last_affected: Option<&str>,
    ) -> AffectedRange {
        AffectedRange {
            introduced: introduced.map(str::to_owned),
            fixed: fixed.map(str::to_owned),
            last_affected: last_affected.map(str::to_owned),
        }
    }

    /// The bound stored beside a record: the greatest end of its ranges, or none (every version may be
    /// affected) when a range is open, a version is listed outside the ranges, or an end has no key, as a
    /// feed's malformed fix has none.
    #[test]
    fn version_bounds_are_the_greatest_end_or_none() {
        let key = |v: &str| ecosystems::version_order_key(Ecosystem::Npm, v).unwrap();
        let npm = |ranges: &[AffectedRange], versions: &[&str]| {
            version_bound(Ecosystem::Npm, ranges, versions)
        };
        let fixed = [
            range(Some("0"), Some("1.2.3"), None),
            range(Some("2.0.0"), Some("2.0.5"), None),
        ];
        assert_eq!(npm(&fixed, &[]), Some(key("2.0.5")));
        // Up to and including the last affected version: every version at or below it keys below the bound.
        let last = npm(&[range(Some("0"), None, Some("1.4.0"))], &[]).unwrap();
        assert!(key("1.4.0") < last && key("1.4.0-rc.1") < last && key("1.4.1") > last);
        for (ranges, versions) in [
            // Open: introduced and never fixed.
            (vec![range(Some("1.0.0"), None, None)], vec![]),
            // A listed version no range covers.
            (fixed.to_vec(), vec!["3.0.0"]),
            // Unfixed: no ranges at all.
            (vec![], vec![]),
            // A malformed fix in a feed: no key, so no bound (the record is read for every version).
            (
                vec![
                    range(Some("0"), Some("1.2.3"), None),
                    range(Some("2.0.0"), Some("not a version"), None),
                ],
                vec![],
            ),
        ] {
            assert_eq!(npm(&ranges, &versions), None, "{ranges:?} {versions:?}");
        }
        // An ecosystem's own key: dpkg's fix keys as dpkg orders it.
        assert_eq!(
            version_bound(Ecosystem::Dpkg, &[range(None, Some("1:2.0-1"), None)], &[]),
            ecosystems::dpkg::version::order_key("1:2.0-1")
        );
    }

    fn one(records: Vec<Vulnerability>) -> Vulnerability {
        assert_eq!(records.len(), 1, "{records:#?}");
        records.into_iter().next().unwrap()
    }

    fn by_package<'a>(records: &'a [Vulnerability], name: &str) -> &'a Vulnerability {
        records.iter().find(|r| r.package_name == name).unwrap()
    }

    fn assert_hits(ecosystem: Ecosystem, record: &Vulnerability, hits: &[&str], misses: &[&str]) {
        for v in hits {
            assert!(
                affects(ecosystem, record, v),
                "{} should affect {} {v}",
                record.name,
                record.package_name
            );
        }
        for v in misses {
            assert!(
                !affects(ecosystem, record, v),
                "{} should not affect {} {v}",
                record.name,
                record.package_name
            );
        }
    }

    #[test]
    fn go_stdlib_two_intervals_and_toolchain_versions() {
        let record =
            one(parse_record(include_bytes!("testdata/osv/go/GO-2023-1570.json")).unwrap());
        assert_eq!(record.updater, "osv/Go");
        assert_eq!(record.name, "GO-2023-1570");
        assert_eq!(record.package_name, "stdlib");
        assert_eq!(record.ecosystem, Some(Ecosystem::Go));
        assert_eq!(record.aliases, vec!["CVE-2022-41724"]);
        assert_eq!(
            record.ranges,
            vec![
                range(None, Some("1.19.6"), None),
                range(Some("1.20.0-0"), Some("1.20.1"), None)
            ]
        );
        assert_eq!(record.fixed_in_version, "1.19.6");
        assert_eq!(
            record.issued, None,
            "the 0001-01-01 placeholder means unknown"
        );
        assert_eq!(record.normalized_severity, Severity::Unknown);
        assert!(
            record
                .links
                .contains(&"https://go.dev/issue/58001".to_owned())
        );
        assert_eq!(record.description, "Large handshake records may cause panics in crypto/tls.\n\nBoth clients and servers may send large TLS handshake records which cause servers and clients, respectively, to panic when attempting to construct responses.\n\nThis affects all TLS 1.3 clients, TLS 1.2 clients which explicitly enable session resumption (by setting Config.ClientSessionCache to a non-nil value), and TLS 1.3 servers which request client certificates (by setting Config.ClientAuth >= RequestClientCert).".to_owned());
        assert_hits(
            Ecosystem::Go,
            &record,
            &[
                "go1.19.5",
                "go1.18",
                "1.19.5",
                "go1.20rc1",
                "go1.20",
                "go1.20.0",
            ],
            &["go1.19.6", "go1.19.10", "go1.20.1", "go1.21.0", "v1.20.1"],
        );
    }

    #[test]
    fn go_module_with_incompatible_fix_and_pseudo_versions() {
        let record =
            one(parse_record(include_bytes!("testdata/osv/go/GO-2021-0072.json")).unwrap());
        assert_eq!(record.package_name, "github.com/docker/distribution");
        assert_eq!(
            record.ranges,
            vec![range(None, Some("2.7.0-rc.0+incompatible"), None)]
        );
        assert_eq!(
            record.aliases,
            vec!["CVE-2017-11468", "GHSA-h62f-wm92-2cmw"]
        );
        assert_eq!(
            record.issued.map(|t| t.unix_timestamp()),
            Some(1_618_430_692)
        );
        assert_hits(
            Ecosystem::Go,
            &record,
            &[
                "v2.6.2+incompatible",
                "v0.0.0-20180327202408-83389a148052",
                "v2.7.0-beta.1+incompatible",
            ],
            &[
                "v2.7.0-rc.0+incompatible",
                "v2.7.0+incompatible",
                "v2.7.1+incompatible",
                "v3.0.0",
            ],
        );
    }

    #[test]
    fn go_introduced_zero_only_affects_everything() {
        let records = parse_record(include_bytes!("testdata/osv/go/GO-2023-2385.json")).unwrap();
        let names: Vec<&str> = records.iter().map(|r| r.package_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "github.com/pubnub/go",
                "github.com/pubnub/go/v5",
                "github.com/pubnub/go/v6",
                "github.com/pubnub/go/v7"
            ]
        );
        let v5 = by_package(&records, "github.com/pubnub/go/v5");
        assert_eq!(v5.ranges, vec![range(None, None, None)]);
        assert_eq!(v5.fixed_in_version, "");
        assert_hits(Ecosystem::Go, v5, &["v5.0.0", "v5.99.0"], &[]);
        let v7 = by_package(&records, "github.com/pubnub/go/v7");
        assert_eq!(v7.ranges, vec![range(None, Some("7.2.0"), None)]);
        assert_hits(
            Ecosystem::Go,
            v7,
            &["v7.1.2", "v7.0.0"],
            &["v7.2.0", "v7.3.0"],
        );
    }

    #[test]
    fn rustsec_many_intervals_and_cvss_scores() {
        let time = one(parse_record(include_bytes!(
            "testdata/osv/crates.io/RUSTSEC-2020-0071.json"
        ))
        .unwrap());
        assert_eq!(time.updater, "osv/crates.io");
        assert_eq!(time.ecosystem, Some(Ecosystem::Cargo));
        assert_eq!(time.ranges.len(), 8);
        assert_eq!(time.ranges[0], range(Some("0.0.0-0"), Some("0.2.0"), None));
        assert_eq!(time.ranges[7], range(Some("0.2.7-0"), Some("0.2.23"), None));
        assert_eq!(time.fixed_in_version, "0.2.0");
        assert_eq!(
            time.severity,
            "CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
        );
        assert_eq!(time.normalized_severity, Severity::Medium); // base score 6.2
        assert_hits(
            Ecosystem::Cargo,
            &time,
            &["0.1.43", "0.2.7", "0.2.22", "0.2.1-beta"],
            &["0.2.0", "0.2.1", "0.2.6", "0.2.23", "0.3.0"],
        );

        let smallvec = one(parse_record(include_bytes!(
            "testdata/osv/crates.io/RUSTSEC-2018-0003.json"
        ))
        .unwrap());
        assert_eq!(
            smallvec.ranges,
            vec![
                range(Some("0.3.2"), Some("0.3.4"), None),
                range(Some("0.4.0-0"), Some("0.4.5"), None),
                range(Some("0.5.0-0"), Some("0.5.1"), None),
                range(Some("0.6.0-0"), Some("0.6.3"), None),
            ]
        );
        assert_eq!(smallvec.normalized_severity, Severity::Critical); // CVSS 3.0 base score 9.8
        assert_hits(
            Ecosystem::Cargo,
            &smallvec,
            &["0.3.2", "0.3.3", "0.4.4", "0.6.2"],
            &["0.3.1", "0.3.4", "0.5.1", "0.6.3", "1.0.0"],
        );
    }

    #[test]
    fn withdrawn_records_produce_nothing() {
        assert!(
            parse_record(include_bytes!(
                "testdata/osv/crates.io/RUSTSEC-2020-0053.json"
            ))
            .unwrap()
            .is_empty()
        );
        assert!(
            parse_yaml_record(include_bytes!("testdata/osv/PyPI/PYSEC-2022-42969.yaml"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn pypi_yaml_ignores_git_ranges_and_keeps_versions() {
        let record =
            one(parse_yaml_record(include_bytes!("testdata/osv/PyPI/PYSEC-2023-74.yaml")).unwrap());
        assert_eq!(record.updater, "osv/PyPI");
        assert_eq!(record.package_name, "requests");
        assert_eq!(
            record.ranges,
            vec![range(Some("2.3.0"), Some("2.31.0"), None)]
        );
        assert_eq!(record.fixed_in_version, "2.31.0");
        assert_eq!(record.versions.len(), 66);
        assert_eq!(
            record.aliases,
            vec!["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"]
        );
        assert_eq!(
            record.links.len(),
            4,
            "duplicate reference URLs are kept once"
        );
        assert_hits(
            Ecosystem::PyPI,
            &record,
            &["2.3.0", "2.30.0", "2.31.0rc1", "2.28.2"],
            &["2.2.1", "2.31.0", "2.32.3", "1.0"],
        );
    }

    #[test]
    fn pypi_last_affected_and_cvss_v3_preferred_over_v4() {
        let record = one(parse_yaml_record(include_bytes!(
            "testdata/osv/PyPI/PYSEC-2026-1356.yaml"
        ))
        .unwrap());
        assert_eq!(record.ranges, vec![range(None, None, Some("0.1.4"))]);
        assert_eq!(record.fixed_in_version, "");
        assert_eq!(
            record.severity,
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"
        );
        assert_eq!(record.normalized_severity, Severity::Medium); // base score 6.1
        assert_hits(
            Ecosystem::PyPI,
            &record,
            &["0.1.0", "0.1.4", "0.1.4.dev1"],
            &["0.1.4.post1", "0.1.5", "1.0"],
        );
    }

    #[test]
    fn ghsa_npm_records_one_per_package() {
        let records =
            parse_record(include_bytes!("testdata/osv/npm/GHSA-p6mc-m468-83gw.json")).unwrap();
        assert_eq!(records.len(), 2);
        let lodash = by_package(&records, "lodash");
        assert_eq!(lodash.updater, "osv/npm");
        assert_eq!(lodash.ranges, vec![range(None, Some("4.17.20"), None)]);
        assert_eq!(
            lodash.severity,
            "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"
        );
        assert_eq!(lodash.normalized_severity, Severity::High); // base score 7.4
        assert_hits(
            Ecosystem::Npm,
            lodash,
            &["4.17.19", "4.17.15", "3.10.1"],
            &["4.17.20", "4.17.21"],
        );

        // The SOURCE.md negative control: lodash < 4.17.12 must not match 4.17.15.
        let records =
            parse_record(include_bytes!("testdata/osv/npm/GHSA-jf85-cpcp-j695.json")).unwrap();
        let lodash = by_package(&records, "lodash");
        assert_eq!(lodash.normalized_severity, Severity::Critical); // base score 9.1
        assert_hits(
            Ecosystem::Npm,
            lodash,
            &["4.17.11"],
            &["4.17.15", "4.17.12"],
        );
        assert_eq!(
            by_package(&records, "lodash.defaultsdeep").fixed_in_version,
            "4.6.1"
        );

        let records =
            parse_record(include_bytes!("testdata/osv/npm/GHSA-29mw-wpgm-hmr9.json")).unwrap();
        assert_eq!(records.len(), 4);
        let trimend = by_package(&records, "lodash.trimend");
        assert_eq!(trimend.ranges, vec![range(None, None, Some("4.5.1"))]);
        assert_eq!(trimend.normalized_severity, Severity::Medium); // base score 5.3
        assert_hits(
            Ecosystem::Npm,
            trimend,
            &["4.5.1", "4.0.0"],
            &["4.5.2", "5.0.0"],
        );
    }

    #[test]
    fn ghsa_partial_npm_version_and_duplicate_package_entries() {
        let records =
            parse_record(include_bytes!("testdata/osv/npm/GHSA-r683-j2x4-v87g.json")).unwrap();
        assert_eq!(
            records.len(),
            2,
            "one record per affected entry, even for the same package"
        );
        assert_eq!(
            records[0].ranges,
            vec![range(Some("1.0"), Some("3.1.1"), None)]
        );
        assert_eq!(records[1].ranges, vec![range(None, Some("2.6.7"), None)]);
        assert_eq!(records[0].normalized_severity, Severity::High); // CVSS 3.0 base score 8.8
        assert_hits(
            Ecosystem::Npm,
            &records[0],
            &["1.0.0", "2.6.7", "3.1.0"],
            &["0.9.0", "3.1.1", "3.2.0"],
        );
        assert_hits(
            Ecosystem::Npm,
            &records[1],
            &["0.9.0", "2.6.6"],
            &["2.6.7", "3.0.0"],
        );
    }

    #[test]
    fn ghsa_severity_word_when_no_vector() {
        let json = br#"{"id":"GHSA-test","affected":[{"package":{"ecosystem":"npm","name":"x"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}],
            "database_specific":{"severity":"MODERATE"}}"#;
        let record = one(parse_record(json).unwrap());
        assert_eq!(record.severity, "MODERATE");
        assert_eq!(record.normalized_severity, Severity::Medium);
    }

    #[test]
    fn limit_caps_open_intervals() {
        let json = br#"{"id":"OSV-limit","affected":[{"package":{"ecosystem":"PyPI","name":"x"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"introduced":"3.0"},{"fixed":"3.5"},{"limit":"3.2"}]}]}]}"#;
        let record = one(parse_record(json).unwrap());
        assert_eq!(
            record.ranges,
            vec![
                range(Some("1.0"), Some("3.2"), None),
                range(Some("3.0"), Some("3.2"), None)
            ]
        );
        assert_hits(
            Ecosystem::PyPI,
            &record,
            &["1.0", "3.1.9"],
            &["0.9", "3.2", "3.4"],
        );
    }

    #[test]
    fn git_only_and_os_ecosystems_produce_nothing() {
        let json = br#"{"id":"OSV-git","affected":[
            {"package":{"ecosystem":"PyPI","name":"x"},"ranges":[{"type":"GIT","repo":"r","events":[{"introduced":"0"},{"fixed":"abc"}]}]},
            {"package":{"ecosystem":"Debian:12","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1"}]}]},
            {"package":{"ecosystem":"GitHub Actions","name":"a/b"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}
        ]}"#;
        assert!(parse_record(json).unwrap().is_empty());
    }

    #[test]
    fn yaml_unquoted_versions_keep_their_text() {
        let yaml = b"id: PYSEC-test\naffected:\n- package:\n    name: x\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: 0\n    - fixed: 1.10\n  versions:\n  - 1.0\n";
        let record = one(parse_yaml_record(yaml).unwrap());
        assert_eq!(record.ranges, vec![range(None, Some("1.10"), None)]);
        assert_eq!(record.versions, vec!["1.0"]);
    }

    #[test]
    fn broken_input_is_a_clear_error() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "OSV JSON"),
            (b"\x00\xffgarbage", "OSV JSON"),
            (br#"{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},"#, "OSV JSON"),
            (br#"{"id":"X","affected":"lodash"}"#, "invalid type"),
            (br#"{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":5}]}]}]}"#, "invalid type"),
            (br#"{"id":42}"#, "invalid type"),
            (br#"{"id":"X","affected":[{"package":{"ecosystem":"npm","name":"x"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1"}]}]}]}"#, "exactly one"),
            (br#"{"id":"X","published":"yesterday"}"#, "RFC 3339"),
            (br#"{"id":"  "}"#, "empty id"),
        ];
        for (input, expected) in cases {
            let error = parse_record(input).unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, FeedError::Malformed { .. }), "{message}");
            assert!(
                message.contains(expected),
                "{message:?} should mention {expected:?}"
            );
        }
        assert!(
            parse_yaml_record(b"id: [unclosed")
                .unwrap_err()
                .to_string()
                .contains("OSV YAML")
        );
        assert!(parse_yaml_record(b"- just\n- a list\n").is_err());
    }

    #[test]
    fn huge_values_do_not_panic() {
        let huge = "9".repeat(1_000_000);
        let json = format!(
            r#"{{"id":"X","affected":[{{"package":{{"ecosystem":"Maven","name":"g:a"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{huge}"}}]}}]}}]}}"#
        );
        let record = one(parse_record(json.as_bytes()).unwrap());
        assert!(affects(Ecosystem::Maven, &record, "1.0"));
        assert!(!affects(Ecosystem::Maven, &record, &format!("{huge}0")));
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_record(deep.as_bytes()).is_err());
    }

    #[test]
    fn no_ranges_no_versions_affects_all_but_versions_only_is_exact() {
        let all = Vulnerability::default();
        assert!(affects(Ecosystem::Npm, &all, "1.0.0"));
        let listed = Vulnerability {
            versions: vec!["1.0.0".to_owned()],
            ..Vulnerability::default()
        };
        assert!(affects(Ecosystem::Npm, &listed, "1.0.0"));
        assert!(!affects(Ecosystem::Npm, &listed, "1.0.1"));
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in files {
            writer.start_file(*name, options).unwrap();
            std::io::Write::write_all(&mut writer, bytes).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn parses_an_all_zip_export() {
        let archive = zip_of(&[
            (
                "GHSA-p6mc-m468-83gw.json",
                include_bytes!("testdata/osv/npm/GHSA-p6mc-m468-83gw.json"),
            ),
            (
                "GHSA-jf85-cpcp-j695.json",
                include_bytes!("testdata/osv/npm/GHSA-jf85-cpcp-j695.json"),
            ),
            ("README.txt", b"not a record"),
        ]);
        let records = parse_zip(std::io::Cursor::new(archive)).unwrap();
        assert_eq!(records.len(), 6);
        assert!(records.iter().all(|r| r.updater == "osv/npm"));

        let broken = zip_of(&[("BAD-1.json", b"{\"id\": ")]);
        let message = parse_zip(std::io::Cursor::new(broken))
            .unwrap_err()
            .to_string();
        assert!(message.contains("BAD-1.json"), "{message}");
        let garbage =
            parse_zip(std::io::Cursor::new(b"PK\x03\x04 truncated".to_vec())).unwrap_err();
        assert!(garbage.to_string().contains("OSV zip"), "{garbage}");
    }

    #[test]
    fn walks_an_offline_folder_of_json_and_yaml() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/feeds/testdata/osv");
        let records = parse_directory(&root).unwrap();
        // 3 crates.io (one withdrawn → 2), 3 Go (1 + 1 + 4), 3 PyPI (one withdrawn → 2), 4 npm (2 + 4 + 4 + 2).
        assert_eq!(records.len(), 2 + 6 + 2 + 12);
        let names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names.first(),
            Some(&"PYSEC-2023-74"),
            "path order: PyPI/ sorts first"
        );
        assert!(!names.contains(&"RUSTSEC-2020-0053"));
        assert!(parse_directory(&root.join("missing")).is_err());
    }
}
