//! Photon OS CVE metadata (`https://packages.broadcom.com/photon/photon_cve_metadata/cve_data_photon<release>.json`,
//! formerly under `packages.vmware.com`) → [`Vulnerability`] records (updater `photon`).
//!
//! The file is a JSON array of `{cve_id, pkg, cve_score, aff_ver, res_ver[, status]}`: one entry per (CVE,
//! package) of one Photon release, `res_ver` the `version-release` that fixes it or `NA` when no fix exists
//! yet. Each entry becomes one record named by the CVE, for the source package `pkg` (Photon names its
//! specs, and every subpackage built from a spec — `openssl-libs` of `openssl` — carries that name in its
//! `SOURCERPM`), fixed in `res_ver` or unfixed (every version affected) for `NA`. Entries with
//! `status: "Not Affected"` produce no record.
//!
//! Why this and not Photon's OVAL (`photon_oval_definitions/com.vmware.phsa-photon<N>.xml`, claircore's
//! source): the CVE metadata is the per-release data Photon's security team maintains and the one Trivy and
//! Grype read; it lists unfixed CVEs (OVAL patch definitions only describe released fixes); it is a few
//! MB of flat JSON per release rather than a large XML document; and the OVAL's `CVE` references carry
//! ids like `CVE:00001:CVE-2019-16168` rather than CVE ids.
//!
//! Severity mapping: the file carries only a CVSS base score (`cve_score`), mapped with FIRST's
//! qualitative bands ([`Severity::from_cvss_score`]); the vendor severity string is the score itself.
//!
//! | `cve_score` | normalized |
//! |---|---|
//! | 9.0 – 10.0 | Critical |
//! | 7.0 – 8.9 | High |
//! | 4.0 – 6.9 | Medium |
//! | 0.1 – 3.9 | Low |
//! | 0.0 | Negligible |
//! | missing, not a number | Unknown |

use std::collections::BTreeSet;
use std::io::Read;

use serde::Deserialize;

use crate::feeds::FeedError;
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};

/// The updater name of records from Photon's CVE metadata, and Photon's os-release `ID`.
pub const UPDATER: &str = "photon";

/// One entry of a `cve_data_photon<release>.json` file. Unknown fields are ignored; missing or `null`
/// fields are empty.
#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    cve_id: Option<String>,
    #[serde(default)]
    pkg: Option<String>,
    /// A number in the published files; tolerated as a string too.
    #[serde(default)]
    cve_score: Option<serde_json::Value>,
    #[serde(default)]
    aff_ver: Option<String>,
    #[serde(default)]
    res_ver: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

/// The release a file name stands for: `cve_data_photon5.0.json[.gz]` → `5.0`.
pub fn release_of_file_name(name: &str) -> Option<&str> {
    let release = name
        .strip_prefix("cve_data_photon")?
        .strip_suffix(".json.gz")
        .or_else(|| name.strip_prefix("cve_data_photon")?.strip_suffix(".json"))?;
    let valid = release.split('.').count() == 2
        && release
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    valid.then_some(release)
}

/// A string field, trimmed; empty when missing or `null`.
fn text(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or_default().trim()
}

/// The CVSS score of an entry, if it has a finite one in 0–10.
fn score(entry: &Entry) -> Option<f64> {
    let score = match entry.cve_score.as_ref()? {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (score.is_finite() && (0.0..=10.0).contains(&score)).then_some(score)
}

/// Parses one release's (uncompressed) CVE metadata into records for Photon `release` (`5.0`).
pub fn parse_cve_metadata(
    input: impl Read,
    release: &str,
) -> Result<Vec<Vulnerability>, FeedError> {
    let entries: Vec<Entry> =
        serde_json::from_reader(std::io::BufReader::new(input)).map_err(|e| {
            FeedError::malformed(UPDATER, format!("cve_data_photon{release}.json: {e}"))
        })?;
    let mut records = Vec::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut skipped = 0usize;
    for entry in &entries {
        let (cve, package) = (text(&entry.cve_id), text(&entry.pkg));
        if cve.is_empty()
            || package.is_empty()
            || text(&entry.status).eq_ignore_ascii_case("not affected")
        {
            skipped += 1;
            continue;
        }
        let fixed = match text(&entry.res_ver) {
            "" | "NA" | "N/A" => None,
            version => Some(version.to_owned()),
        };
        let key = (
            cve.to_owned(),
            package.to_owned(),
            fixed.clone().unwrap_or_default(),
        );
        if !seen.insert(key) {
            continue;
        }
        let score = score(entry);
        records.push(Vulnerability {
            updater: UPDATER.to_owned(),
            name: cve.to_owned(),
            aliases: Vec::new(),
            description: text(&entry.aff_ver).to_owned(),
            issued: None,
            links: vec![format!("https://nvd.nist.gov/vuln/detail/{cve}")],
            severity: score.map(|s| format!("{s:.1}")).unwrap_or_default(),
            normalized_severity: score.map_or(Severity::Unknown, Severity::from_cvss_score),
            ecosystem: Some(Ecosystem::Rpm),
            package_name: package.to_owned(),
            package_is_source: true,
            distribution: Some(DistributionSelector {
                did: UPDATER.to_owned(),
                release: release.to_owned(),
            }),
            module: String::new(),
            arch: String::new(),
            ranges: fixed
                .iter()
                .map(|version| AffectedRange {
                    fixed: Some(version.clone()),
                    ..AffectedRange::default()
                })
                .collect(),
            versions: Vec::new(),
            fixed_in_version: fixed.unwrap_or_default(),
        });
    }
    if skipped > 0 {
        tracing::debug!(
            skipped,
            release,
            "Photon: not-affected or incomplete entries skipped"
        );
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHOTON5: &[u8] = include_bytes!("testdata/cve_data_photon5.0.json");

    #[test]
    fn entries_become_source_package_records() {
        let records = parse_cve_metadata(PHOTON5, "5.0").unwrap();
        let summary: Vec<(&str, &str, &str, Severity)> = records
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.package_name.as_str(),
                    r.fixed_in_version.as_str(),
                    r.normalized_severity,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("CVE-2023-38545", "curl", "8.4.0-1.ph5", Severity::Critical),
                ("CVE-2023-38546", "curl", "8.4.0-1.ph5", Severity::Low),
                ("CVE-2023-4911", "glibc", "2.36-5.ph5", Severity::High),
                ("CVE-2023-5678", "openssl", "3.0.12-2.ph5", Severity::Medium),
                // CVE-2024-3094 is "Not Affected": no record. No fix yet: every version affected.
                ("CVE-2023-52425", "expat", "", Severity::High),
                (
                    "CVE-2023-0466",
                    "openssl",
                    "3.0.8-3.ph5",
                    Severity::Negligible
                ),
            ]
        );
        let curl = &records[0];
        assert!(curl.package_is_source);
        assert_eq!(curl.severity, "9.8");
        assert_eq!(
            curl.distribution,
            Some(DistributionSelector {
                did: "photon".into(),
                release: "5.0".into()
            })
        );
        assert_eq!(curl.ranges[0].fixed.as_deref(), Some("8.4.0-1.ph5"));
        assert!(records[4].ranges.is_empty(), "unfixed: no range bound");
        assert_eq!(
            curl.links,
            ["https://nvd.nist.gov/vuln/detail/CVE-2023-38545"]
        );
    }

    #[test]
    fn scores_file_names_and_bad_input() {
        let records = parse_cve_metadata(
            &br#"[{"cve_id":"CVE-1","pkg":"a","cve_score":"7.5","res_ver":"1-1.ph5"},
                  {"cve_id":"CVE-2","pkg":"b","cve_score":null,"res_ver":"1-1.ph5"},
                  {"cve_id":"CVE-3","pkg":"c","cve_score":42,"res_ver":"1-1.ph5"},
                  {"cve_id":"","pkg":"d"},{"pkg":"e"},
                  {"cve_id":"CVE-4","pkg":"f","res_ver":null,"aff_ver":null,"status":null},
                  {"cve_id":"CVE-1","pkg":"a","cve_score":7.5,"res_ver":"1-1.ph5","extra":true}]"#
                [..],
            "5.0",
        )
        .unwrap();
        let severities: Vec<(&str, Severity)> = records
            .iter()
            .map(|r| (r.severity.as_str(), r.normalized_severity))
            .collect();
        assert_eq!(
            severities,
            [
                ("7.5", Severity::High),
                ("", Severity::Unknown),
                ("", Severity::Unknown),
                ("", Severity::Unknown)
            ]
        );
        assert_eq!(records[3].name, "CVE-4");
        assert_eq!(records[3].fixed_in_version, "", "null res_ver: no fix");
        assert_eq!(release_of_file_name("cve_data_photon5.0.json"), Some("5.0"));
        assert_eq!(
            release_of_file_name("cve_data_photon4.0.json.gz"),
            Some("4.0")
        );
        assert_eq!(release_of_file_name("cve_data_photon5.json"), None);
        assert_eq!(release_of_file_name("cve_data_photonx.0.json"), None);
        assert_eq!(release_of_file_name("photon_versions.json"), None);
        assert!(parse_cve_metadata(&PHOTON5[..PHOTON5.len() / 2], "5.0").is_err());
        assert!(parse_cve_metadata(&b"{\"branches\":[]}"[..], "5.0").is_err());
        assert!(parse_cve_metadata(&b"<xml/>"[..], "5.0").is_err());
        assert_eq!(parse_cve_metadata(&b"[]"[..], "5.0").unwrap(), Vec::new());
    }
}
