//! The Debian security tracker's JSON export (`https://security-tracker.debian.org/tracker/data/json`)
//! → [`Vulnerability`] records (updater `debian`), as Clair's `debian` updater reads it.
//!
//! Shape: `{source package: {CVE or TEMP id: {description, scope, debianbug, releases: {codename: {status,
//! repositories, fixed_version, urgency, nodsa}}}}}`. One record per (source package, id, release):
//!
//! | `status` / `fixed_version` | record |
//! |---|---|
//! | `resolved`, `fixed_version` = `0` | none: the release never shipped the vulnerable code |
//! | `not-affected` (any version) | none |
//! | `resolved`, `fixed_version` = V | fixed in V (`ranges: [{fixed: V}]`) |
//! | `open`, `undetermined`, or no `fixed_version` | affected, no fix (no ranges) |

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use serde::Deserialize;

use super::normalize_urgency;
use super::oval::TRACKER_URL as TRACKER_URL_PREFIX;
use crate::feeds::FeedError;
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Vulnerability};

/// The updater name of records from the security tracker.
pub const UPDATER: &str = "debian";

#[derive(Debug, Deserialize)]
struct TrackerIssue {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    releases: BTreeMap<String, TrackerRelease>,
}

#[derive(Debug, Deserialize)]
struct TrackerRelease {
    #[serde(default)]
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
}

/// Parses the tracker's JSON export. Output is ordered by source package, id, then release.
pub fn parse_tracker_json(input: impl Read) -> Result<Vec<Vulnerability>, FeedError> {
    let data: BTreeMap<String, BTreeMap<String, TrackerIssue>> =
        serde_json::from_reader(BufReader::new(input))
            .map_err(|e| FeedError::malformed(UPDATER, e))?;
    let mut vulnerabilities = Vec::new();
    for (source_package, issues) in &data {
        for (id, issue) in issues {
            for (codename, release) in &issue.releases {
                let fixed_version = release
                    .fixed_version
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("");
                if release.status == "not-affected" || fixed_version == "0" {
                    continue;
                }
                let fixed = (release.status == "resolved" && !fixed_version.is_empty())
                    .then(|| fixed_version.to_owned());
                let urgency = release.urgency.clone().unwrap_or_default();
                vulnerabilities.push(Vulnerability {
                    updater: UPDATER.to_owned(),
                    name: id.clone(),
                    description: issue.description.clone().unwrap_or_default(),
                    issued: None,
                    links: vec![format!("{TRACKER_URL_PREFIX}{id}")],
                    normalized_severity: normalize_urgency(&urgency),
                    severity: urgency,
                    ecosystem: Some(Ecosystem::Dpkg),
                    package_name: source_package.clone(),
                    package_is_source: true,
                    distribution: Some(DistributionSelector {
                        did: "debian".to_owned(),
                        release: codename.clone(),
                    }),
                    module: String::new(),
                    arch: String::new(),
                    ranges: fixed
                        .iter()
                        .map(|v| AffectedRange {
                            fixed: Some(v.clone()),
                            ..AffectedRange::default()
                        })
                        .collect(),
                    versions: Vec::new(),
                    fixed_in_version: fixed.unwrap_or_default(),
                    aliases: Vec::new(),
                });
            }
        }
    }
    Ok(vulnerabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    const SAMPLE: &[u8] = include_bytes!("testdata/tracker-sample.json");

    fn key(v: &Vulnerability) -> (String, String, String) {
        (
            v.package_name.clone(),
            v.name.clone(),
            v.distribution.as_ref().unwrap().release.clone(),
        )
    }

    #[test]
    fn sample_records() {
        let vulnerabilities = parse_tracker_json(SAMPLE).unwrap();
        let keys: Vec<_> = vulnerabilities.iter().map(key).collect();
        let expected: Vec<(String, String, String)> = [
            ("glibc", "CVE-2023-4911", "bookworm"),
            ("linux", "CVE-2024-26581", "bookworm"),
            ("openssl", "CVE-2022-3602", "bookworm"),
            ("openssl", "CVE-2023-0286", "bookworm"),
            ("openssl", "CVE-2023-0286", "bullseye"),
            ("openssl", "CVE-2023-0286", "sid"),
            ("tar", "CVE-2005-2541", "bookworm"),
            ("tar", "CVE-2005-2541", "trixie"),
            ("zlib", "TEMP-0000000-16D8E5", "bookworm"),
        ]
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
        // Not here: openssl CVE-2022-3602 bullseye and glibc CVE-2023-4911 bullseye (fixed_version "0"),
        // linux CVE-2024-26581 bullseye (status not-affected).
        assert_eq!(keys, expected);

        let glibc = &vulnerabilities[0];
        assert_eq!(glibc.updater, "debian");
        assert_eq!(glibc.fixed_in_version, "2.36-9+deb12u3");
        assert_eq!(
            glibc.ranges,
            vec![AffectedRange {
                fixed: Some("2.36-9+deb12u3".into()),
                ..Default::default()
            }]
        );
        assert_eq!(glibc.severity, "high");
        assert_eq!(glibc.normalized_severity, Severity::Critical);
        assert!(glibc.package_is_source);
        assert_eq!(glibc.ecosystem, Some(Ecosystem::Dpkg));
        assert_eq!(
            glibc.links,
            ["https://security-tracker.debian.org/tracker/CVE-2023-4911"]
        );
        assert!(
            glibc
                .description
                .starts_with("A buffer overflow was discovered")
        );
        assert_eq!(glibc.distribution.as_ref().unwrap().did, "debian");

        // undetermined: affected, no fix; `low**` is low.
        let linux = &vulnerabilities[1];
        assert_eq!(linux.fixed_in_version, "");
        assert!(linux.ranges.is_empty());
        assert_eq!(linux.normalized_severity, Severity::Medium);

        assert_eq!(vulnerabilities[4].fixed_in_version, "1.1.1n-0+deb11u4");
        assert_eq!(vulnerabilities[4].normalized_severity, Severity::Unknown);

        let tar = &vulnerabilities[6];
        assert_eq!((tar.fixed_in_version.as_str(), tar.ranges.len()), ("", 0));
        assert_eq!(tar.severity, "unimportant");
        assert_eq!(tar.normalized_severity, Severity::Low);

        assert_eq!(vulnerabilities[8].normalized_severity, Severity::High);
        assert_eq!(vulnerabilities[8].description, "");
    }

    #[test]
    fn empty_object_is_no_records() {
        assert!(parse_tracker_json(&b"{}"[..]).unwrap().is_empty());
        assert!(
            parse_tracker_json(&br#"{"pkg": {}}"#[..])
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_tracker_json(&br#"{"pkg": {"CVE-1": {}}}"#[..])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn broken_input_is_a_feed_error() {
        let truncated = &SAMPLE[..SAMPLE.len() / 2];
        let cases: [&[u8]; 7] = [
            truncated,
            b"",
            b"\x00\xff garbage",
            b"[1, 2, 3]",
            br#"{"openssl": {"CVE-1": {"releases": {"bookworm": {"status": 5}}}}}"#,
            br#"{"openssl": {"CVE-1": {"releases": ["bookworm"]}}}"#,
            br#"{"openssl": {"CVE-1": {"description": {"nested": true}}}}"#,
        ];
        for input in cases {
            let err = parse_tracker_json(input).unwrap_err();
            assert!(
                err.to_string().starts_with("debian: malformed data"),
                "{err}"
            );
        }
    }

    #[test]
    fn huge_values_do_not_panic() {
        let description = "x".repeat(5_000_000);
        let version = "9".repeat(10_000);
        let json = format!(
            r#"{{"p": {{"CVE-1": {{"description": "{description}", "releases": {{"bookworm": {{"status": "resolved", "fixed_version": "{version}", "urgency": "medium"}}}}}}}}}}"#
        );
        let vulnerabilities = parse_tracker_json(json.as_bytes()).unwrap();
        assert_eq!(vulnerabilities.len(), 1);
        assert_eq!(vulnerabilities[0].fixed_in_version.len(), 10_000);
        assert_eq!(vulnerabilities[0].description.len(), 5_000_000);
    }
}
