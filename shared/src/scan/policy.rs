//! The CI gate: which findings count, and whether the scan fails.
//!
//! - `--ignore-unfixed`: findings without a fixed version are dropped.
//! - An ignore file (YAML or TOML) lists `{id, package?, reason, expires?}` entries; `id` is the
//!   vulnerability name (`CVE-…`, `GHSA-…`, `DSA-…`) or its report id, `package` narrows it to one package
//!   (binary or source name). An entry whose `expires` date (`YYYY-MM-DD`, valid through that day) has passed
//!   no longer applies and is reported as expired.
//! - `--fail-on SEVERITY`: the scan fails (exit 1) when a remaining finding is at or above it.
//!
//! Dropped findings are removed from the report, so every output format shows what the gate judged.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use time::Date;

use crate::model::{Severity, VulnerabilityReport};

/// Why an ignore file could not be used. Displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("ignore file {path}: {reason}")]
    IgnoreFile { path: String, reason: String },
}

/// One entry of an ignore file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreEntry {
    pub id: String,
    pub package: Option<String>,
    pub reason: String,
    pub expires: Option<Date>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawFile {
    List(Vec<RawEntry>),
    Table { ignore: Vec<RawEntry> },
}

const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// TOML dates are not strings; turn every TOML value into the JSON value it reads as.
fn toml_to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => J::from(f),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// Reads an ignore file: TOML when the name ends in `.toml`, YAML otherwise (JSON is YAML too).
///
/// ```yaml
/// ignore:
///   - id: CVE-2023-4911
///     package: glibc
///     reason: setuid binaries are removed from the image
///     expires: 2026-12-31
/// ```
pub fn load_ignore_file(path: &Path) -> Result<Vec<IgnoreEntry>, PolicyError> {
    let fail = |reason: String| PolicyError::IgnoreFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let is_toml = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let value: serde_json::Value = if is_toml {
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| fail(one_line(&e.to_string())))?;
        toml_to_json(toml::Value::Table(table))
    } else {
        serde_norway::from_str(&text).map_err(|e| fail(one_line(&e.to_string())))?
    };
    let raw: RawFile = serde_json::from_value(value).map_err(|_| {
        fail("expected a list of entries, or `ignore:` with a list, each {id, package?, reason, expires?}".into())
    })?;
    let raw = match raw {
        RawFile::List(l) | RawFile::Table { ignore: l } => l,
    };
    raw.into_iter()
        .enumerate()
        .map(|(n, e)| {
            let at = format!("entry {} ({})", n + 1, e.id);
            let reason = e
                .reason
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| fail(format!("{at} has no reason")))?;
            let expires = match e.expires {
                None => None,
                Some(s) => {
                    // TOML offset date-times are accepted for their date.
                    let day = s.get(..10).unwrap_or(&s);
                    Some(Date::parse(day, DATE).map_err(|_| {
                        fail(format!("{at}: expires {s:?} is not a date (YYYY-MM-DD)"))
                    })?)
                }
            };
            Ok(IgnoreEntry {
                id: e.id,
                package: e.package,
                reason,
                expires,
            })
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the gate is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub fail_on: Option<Severity>,
    pub ignore_unfixed: bool,
    pub ignores: Vec<IgnoreEntry>,
}

/// A finding removed by an ignore entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    pub vulnerability: String,
    pub package: String,
    pub reason: String,
}

/// What the gate decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub ignored: Vec<Ignored>,
    /// Ignore entries past their expiry date (they were not applied).
    pub expired: Vec<IgnoreEntry>,
    /// Findings dropped because no fixed version exists.
    pub unfixed_dropped: usize,
    /// Remaining findings at or above `fail_on`.
    pub failing: usize,
    /// Remaining findings per severity.
    pub counts: BTreeMap<Severity, usize>,
}

impl Verdict {
    /// Whether the scan fails the build.
    pub fn fails(&self) -> bool {
        self.failing > 0
    }
}

/// Applies `policy` to `report` as of `today`, removing dropped findings from it.
pub fn apply(report: &mut VulnerabilityReport, policy: &Policy, today: Date) -> Verdict {
    let mut verdict = Verdict::default();
    let (active, expired): (Vec<&IgnoreEntry>, Vec<&IgnoreEntry>) = policy
        .ignores
        .iter()
        .partition(|e| e.expires.is_none_or(|d| d >= today));
    verdict.expired = expired.into_iter().cloned().collect();
    let packages = report.packages.clone();
    for (package_id, vulns) in report.package_vulnerabilities.iter_mut() {
        let package = packages.get(package_id);
        let package_name = package.map(|p| p.name.as_str()).unwrap_or_default();
        let source_name = package
            .and_then(|p| p.source.as_ref())
            .map(|s| s.name.as_str())
            .unwrap_or_default();
        vulns.retain(|vid| {
            let Some(v) = report.vulnerabilities.get(vid) else {
                return false;
            };
            if policy.ignore_unfixed && v.fixed_in_version.trim().is_empty() {
                verdict.unfixed_dropped += 1;
                return false;
            }
            let hit = active.iter().find(|e| {
                (e.id.eq_ignore_ascii_case(&v.name) || e.id == v.id)
                    && e.package
                        .as_deref()
                        .is_none_or(|p| p == package_name || p == source_name)
            });
            if let Some(e) = hit {
                verdict.ignored.push(Ignored {
                    vulnerability: v.name.clone(),
                    package: package_name.to_owned(),
                    reason: e.reason.clone(),
                });
                return false;
            }
            *verdict.counts.entry(v.normalized_severity).or_default() += 1;
            if policy.fail_on.is_some_and(|f| v.normalized_severity >= f) {
                verdict.failing += 1;
            }
            true
        });
    }
    report.package_vulnerabilities.retain(|_, v| !v.is_empty());
    let referenced: std::collections::BTreeSet<String> = report
        .package_vulnerabilities
        .values()
        .flatten()
        .cloned()
        .collect();
    report
        .vulnerabilities
        .retain(|id, _| referenced.contains(id));
    verdict
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
