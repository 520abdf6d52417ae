//! The secdb format: `{"distroversion": "v3.19", "reponame": "main", "packages": [{"pkg": {"name": "openssl",
//! "secfixes": {"3.1.4-r5": ["CVE-2024-0727"], "0": ["CVE-2022-1292"]}}}]}`.
//!
//! Alpine generates it from the `# secfixes:` comments of aports' APKBUILDs; Wolfi and Chainguard publish
//! the same shape. A `secfixes` key is the first package version that carries the fix, listed under the
//! origin (source) package name. The key `"0"` means "never affected in this distribution" (the upstream
//! bug does not apply to the build), so it yields no record, following the feed conventions in
//! `crate::feeds`.
//!
//! An entry is usually one id (`CVE-2024-0727`) but may name several (`CVE-2020-29568 XSA-349`, or two CVEs
//! and an XSA) and may carry a parenthesised note (`CVE-2018-14879 (tcpdump -V)`). Each CVE in an entry
//! becomes its own record with the entry's non-CVE ids (`XSA-349`) as aliases; an entry without a CVE
//! becomes one record named by its first id. Notes are dropped.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::feeds::FeedError;
use crate::model::{
    AffectedRange, Distribution, DistributionSelector, Ecosystem, Severity, Vulnerability,
};

/// The `secfixes` key that means "not affected".
const NOT_AFFECTED: &str = "0";

/// Which distribution a secdb document describes, and how its records are labelled. The document itself
/// does not say it reliably (Wolfi's has no `distroversion`), so the caller decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecdbDistribution {
    /// The updater name stored on every record (`alpine`, `wolfi`, `chainguard`).
    pub updater: String,
    /// os-release `ID` of the distribution (`alpine`, `wolfi`, `chainguard`).
    pub did: String,
    /// Release the records apply to (`3.19`, `edge`); empty for rolling distributions.
    pub release: String,
    /// Advisory page prefix; a record's link is the prefix followed by its id. Empty for no link.
    pub link_prefix: String,
}

impl SecdbDistribution {
    /// Alpine Linux release `release` (`3.19` or `edge`), linking to Alpine's security tracker as Clair does.
    pub fn alpine(release: &str) -> SecdbDistribution {
        SecdbDistribution {
            updater: "alpine".to_owned(),
            did: "alpine".to_owned(),
            release: release.to_owned(),
            link_prefix: "https://security.alpinelinux.org/vuln/".to_owned(),
        }
    }
}

/// Turns a secdb `distroversion` (`v3.19`, `edge`) into the release name Lucid uses (`3.19`, `edge`):
/// the same string os-release's `VERSION_ID` starts with, so the matcher can compare them.
pub fn alpine_release(distroversion: &str) -> Option<String> {
    let trimmed = distroversion.trim();
    if trimmed == "edge" {
        return Some("edge".to_owned());
    }
    let numbers = trimmed.strip_prefix('v')?;
    let (major, minor) = numbers.split_once('.')?;
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (is_number(major) && is_number(minor)).then(|| numbers.to_owned())
}

/// The secdb release an Alpine installation takes its fixes from: `edge` for edge (os-release
/// `PRETTY_NAME="Alpine Linux edge"`, `VERSION_ID=3.20_alpha…`), else `major.minor` of `VERSION_ID`
/// (`3.19.1` → `3.19`). `None` for other distributions or an unreadable version.
pub fn release_of_distribution(distribution: &Distribution) -> Option<String> {
    if distribution.did != "alpine" {
        return None;
    }
    if distribution.pretty_name.ends_with(" edge") || distribution.version_id.contains("_alpha") {
        return Some("edge".to_owned());
    }
    let mut parts = distribution.version_id.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (is_number(major) && is_number(minor)).then(|| format!("{major}.{minor}"))
}

#[derive(Debug, Deserialize)]
struct SecdbDocument {
    #[serde(default)]
    distroversion: Option<String>,
    packages: Vec<PackageEntry>,
}

#[derive(Debug, Deserialize)]
struct PackageEntry {
    pkg: PackageFixes,
}

#[derive(Debug, Deserialize)]
struct PackageFixes {
    name: String,
    /// Fixed version → ids. A `null` list (seen in old secdb releases) means no ids.
    #[serde(default)]
    secfixes: BTreeMap<String, Option<Vec<String>>>,
}

/// Whether a token of an entry is an advisory id (`CVE-2024-1`, `XSA-349`, `GNUTLS-SA-2020-03-31`) rather
/// than part of a note: an ASCII letter first and a `-` somewhere after it.
fn is_advisory_id(token: &str) -> bool {
    token.starts_with(|c: char| c.is_ascii_alphabetic())
        && token.contains('-')
        && !token.starts_with('(')
}

/// Splits one secfixes entry into (record name, aliases) pairs.
fn split_entry(entry: &str) -> Vec<(String, Vec<String>)> {
    let mut ids: Vec<String> = Vec::new();
    for token in entry.split_whitespace() {
        if token.starts_with('(') {
            // A note such as "(tcpdump -V)": drop it and the rest of the entry.
            break;
        }
        // `CVE_2019-2426` (openjdk7 in v3.7–v3.9) is a typo for `CVE-2019-2426`.
        let token = match token.strip_prefix("CVE_") {
            Some(rest) => format!("CVE-{rest}"),
            None => token.to_owned(),
        };
        if is_advisory_id(&token) && !ids.contains(&token) {
            ids.push(token);
        }
    }
    let cves: Vec<&String> = ids.iter().filter(|id| id.starts_with("CVE-")).collect();
    let names: Vec<&String> = if cves.is_empty() {
        ids.first().into_iter().collect()
    } else {
        cves
    };
    names
        .into_iter()
        .map(|name| {
            // Other CVEs of the entry are separate vulnerabilities fixed together, not aliases.
            let aliases = ids
                .iter()
                .filter(|id| *id != name && !id.starts_with("CVE-"))
                .cloned()
                .collect();
            (name.clone(), aliases)
        })
        .collect()
}

/// Parses a secdb document into one record per (id, package, fixed version).
///
/// Records come out sorted by package, then fixed version, then id, and are deduplicated: when one id is
/// listed twice for the same fix, its aliases are merged.
pub fn parse_secdb(
    json: &[u8],
    distribution: &SecdbDistribution,
) -> Result<Vec<Vulnerability>, FeedError> {
    let feed = format!("{} secdb", distribution.updater);
    let document: SecdbDocument =
        serde_json::from_slice(json).map_err(|e| FeedError::malformed(&feed, e))?;
    records_from(document, distribution, &feed)
}

/// Parses an Alpine secdb document, taking the release from its own `distroversion`.
pub fn parse_alpine_secdb(json: &[u8]) -> Result<Vec<Vulnerability>, FeedError> {
    let feed = "alpine secdb";
    let document: SecdbDocument =
        serde_json::from_slice(json).map_err(|e| FeedError::malformed(feed, e))?;
    let distroversion = document.distroversion.clone().unwrap_or_default();
    let release = alpine_release(&distroversion).ok_or_else(|| {
        FeedError::malformed(
            feed,
            format!(
                "distroversion {:?} is neither vX.Y nor edge",
                distroversion.chars().take(40).collect::<String>()
            ),
        )
    })?;
    records_from(document, &SecdbDistribution::alpine(&release), feed)
}

fn records_from(
    document: SecdbDocument,
    distribution: &SecdbDistribution,
    feed: &str,
) -> Result<Vec<Vulnerability>, FeedError> {
    // (package, fixed version, id) → aliases; the BTreeMap gives the documented order and the dedup.
    let mut fixes: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for (index, entry) in document.packages.into_iter().enumerate() {
        let package = entry.pkg.name.trim().to_owned();
        if package.is_empty() {
            return Err(FeedError::malformed(
                feed,
                format!("package #{index} has an empty name"),
            ));
        }
        for (fixed, ids) in entry.pkg.secfixes {
            let fixed = fixed.trim().to_owned();
            if fixed == NOT_AFFECTED {
                continue;
            }
            if fixed.is_empty() {
                return Err(FeedError::malformed(
                    feed,
                    format!("package {package:?} has an empty fixed version"),
                ));
            }
            for (name, aliases) in ids.iter().flatten().flat_map(|e| split_entry(e)) {
                let merged = fixes
                    .entry((package.clone(), fixed.clone(), name))
                    .or_default();
                for alias in aliases {
                    if !merged.contains(&alias) {
                        merged.push(alias);
                    }
                }
            }
        }
    }
    Ok(fixes
        .into_iter()
        .map(|((package, fixed, name), aliases)| Vulnerability {
            updater: distribution.updater.clone(),
            links: if distribution.link_prefix.is_empty() {
                Vec::new()
            } else {
                vec![format!("{}{name}", distribution.link_prefix)]
            },
            name,
            description: String::new(),
            issued: None,
            severity: String::new(),
            normalized_severity: Severity::Unknown,
            ecosystem: Some(Ecosystem::Apk),
            package_name: package,
            package_is_source: true,
            distribution: Some(DistributionSelector {
                did: distribution.did.clone(),
                release: distribution.release.clone(),
            }),
            module: String::new(),
            arch: String::new(),
            ranges: vec![AffectedRange {
                introduced: None,
                fixed: Some(fixed.clone()),
                last_affected: None,
            }],
            versions: Vec::new(),
            fixed_in_version: fixed,
            aliases,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3_19_MAIN: &[u8] = include_bytes!("testdata/v3.19-main.json");
    const V3_11_QUIRKS: &[u8] = include_bytes!("testdata/v3.11-quirks.json");

    fn find<'a>(records: &'a [Vulnerability], package: &str, name: &str) -> Vec<&'a Vulnerability> {
        records
            .iter()
            .filter(|v| v.package_name == package && v.name == name)
            .collect()
    }

    #[test]
    fn real_v3_19_main_counts() {
        let records = parse_alpine_secdb(V3_19_MAIN).unwrap();
        // Counted independently from the JSON: 2,537 (package, fix, id) triples over 252 packages with a
        // real fix (5 of the 257 list only "0" entries); 45 ids under "0" yield nothing.
        assert_eq!(records.len(), 2537);
        let mut packages: Vec<&str> = records.iter().map(|v| v.package_name.as_str()).collect();
        packages.dedup();
        assert_eq!(packages.len(), 252);
        assert!(records.iter().all(|v| v.updater == "alpine"
            && v.ecosystem == Some(Ecosystem::Apk)
            && v.package_is_source
            && v.normalized_severity == Severity::Unknown
            && v.distribution
                == Some(DistributionSelector {
                    did: "alpine".into(),
                    release: "3.19".into()
                })
            && v.ranges.len() == 1
            && v.ranges[0].fixed.as_deref() == Some(v.fixed_in_version.as_str())));
    }

    #[test]
    fn real_v3_19_expected_hits() {
        let records = parse_alpine_secdb(V3_19_MAIN).unwrap();
        let hit = find(&records, "openssl", "CVE-2024-0727");
        assert_eq!(hit.len(), 1);
        let v = hit[0];
        assert_eq!(v.fixed_in_version, "3.1.4-r5");
        assert_eq!(
            v.ranges,
            vec![AffectedRange {
                introduced: None,
                fixed: Some("3.1.4-r5".into()),
                last_affected: None
            }]
        );
        assert_eq!(
            v.links,
            vec!["https://security.alpinelinux.org/vuln/CVE-2024-0727".to_owned()]
        );
        assert!(v.aliases.is_empty());

        let zlib: Vec<(&str, &str)> = records
            .iter()
            .filter(|v| v.package_name == "zlib")
            .map(|v| (v.fixed_in_version.as_str(), v.name.as_str()))
            .collect();
        assert_eq!(
            zlib,
            [
                ("1.2.11-r4", "CVE-2018-25032"),
                ("1.2.12-r2", "CVE-2022-37434")
            ]
        );
        let musl: Vec<(&str, &str)> = records
            .iter()
            .filter(|v| v.package_name == "musl")
            .map(|v| (v.fixed_in_version.as_str(), v.name.as_str()))
            .collect();
        assert_eq!(
            musl,
            [
                ("1.1.15-r4", "CVE-2016-8859"),
                ("1.1.23-r2", "CVE-2019-14697"),
                ("1.2.2_pre2-r0", "CVE-2020-28928")
            ]
        );
        // A non-CVE id of its own.
        let alpine_id = find(&records, "busybox", "ALPINE-13661");
        assert_eq!(alpine_id.len(), 1);
        assert_eq!(alpine_id[0].fixed_in_version, "1.35.0-r7");
    }

    #[test]
    fn real_v3_19_not_affected_entries_yield_nothing() {
        let records = parse_alpine_secdb(V3_19_MAIN).unwrap();
        // Listed under "0" (never affected in Alpine).
        assert!(find(&records, "openssl", "CVE-2022-1292").is_empty());
        assert!(find(&records, "zlib", "CVE-2023-45853").is_empty());
        assert!(find(&records, "busybox", "CVE-2021-42373").is_empty());
        assert!(find(&records, "xen", "CVE-2020-29568").is_empty());
        assert!(records.iter().all(|v| v.fixed_in_version != "0"));
        // Not in the feed at all for this package.
        assert!(find(&records, "musl", "CVE-2024-0727").is_empty());
    }

    #[test]
    fn real_v3_19_multi_id_entries() {
        let records = parse_alpine_secdb(V3_19_MAIN).unwrap();
        let xsa = find(&records, "xen", "CVE-2018-5244");
        assert_eq!(xsa.len(), 1);
        assert_eq!(xsa[0].aliases, ["XSA-253"]);
        assert_eq!(xsa[0].fixed_in_version, "4.10.0-r1");
        // "CVE-2019-17349 CVE-2019-17350 XSA-295": two vulnerabilities fixed together.
        for cve in ["CVE-2019-17349", "CVE-2019-17350"] {
            let hit = find(&records, "xen", cve);
            assert_eq!(hit.len(), 1, "{cve}");
            assert_eq!(hit[0].aliases, ["XSA-295"]);
            assert_eq!(hit[0].fixed_in_version, "4.12.1-r0");
        }
        // An XSA without a CVE is a record of its own.
        assert_eq!(
            find(&records, "xen", "XSA-248")[0].fixed_in_version,
            "4.10.0-r1"
        );
        // The XSA is never a record name when the entry has a CVE.
        assert!(find(&records, "xen", "XSA-253").is_empty());
    }

    #[test]
    fn every_real_fixed_version_is_a_valid_apk_version() {
        let records = parse_alpine_secdb(V3_19_MAIN).unwrap();
        let invalid: Vec<&str> = records
            .iter()
            .map(|v| v.fixed_in_version.as_str())
            .filter(|v| !crate::ecosystems::apk::version::is_valid(v))
            .collect();
        assert!(invalid.is_empty(), "{invalid:?}");
    }

    #[test]
    fn real_quirky_ids() {
        let records = parse_alpine_secdb(V3_11_QUIRKS).unwrap();
        assert!(
            records
                .iter()
                .all(|v| v.distribution.as_ref().unwrap().release == "3.11")
        );
        let zabbix: Vec<&str> = records
            .iter()
            .filter(|v| v.package_name == "zabbix")
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(zabbix, ["ZBX-11023"]);
        let note = find(&records, "tcpdump", "CVE-2018-14879");
        assert_eq!(note.len(), 1);
        assert!(note[0].aliases.is_empty());
        assert_eq!(note[0].fixed_in_version, "4.9.3-r0");
        assert!(
            records
                .iter()
                .all(|v| !v.name.contains(' ') && !v.name.contains('('))
        );
        assert_eq!(find(&records, "cifs-utils", "CVE-2020-14342").len(), 1);
        // 41 + 1 + 27 + 1 tcpdump ids, 2 cifs-utils, 1 zabbix.
        assert_eq!(records.len(), 73);
    }

    #[test]
    fn wolfi_shape_with_caller_chosen_distribution() {
        // Hand-written in the shape of packages.wolfi.dev/os/security.json (no distroversion).
        let json =
            br#"{"apkurl":"{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
            "archs":["x86_64","aarch64"],"reponame":"os","urlprefix":"https://packages.wolfi.dev",
            "packages":[{"pkg":{"name":"glibc","secfixes":{"0":["CVE-2010-4756"],
            "2.38-r2":["CVE-2023-4911"],"2.39-r3":["CVE_2024-2961","GHSA-xxxx-yyyy-zzzz"]}}}]}"#;
        let wolfi = SecdbDistribution {
            updater: "wolfi".into(),
            did: "wolfi".into(),
            release: String::new(),
            link_prefix: String::new(),
        };
        let records = parse_secdb(json, &wolfi).unwrap();
        let summary: Vec<(&str, &str, &str)> = records
            .iter()
            .map(|v| {
                (
                    v.package_name.as_str(),
                    v.fixed_in_version.as_str(),
                    v.name.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("glibc", "2.38-r2", "CVE-2023-4911"),
                ("glibc", "2.39-r3", "CVE-2024-2961"),
                ("glibc", "2.39-r3", "GHSA-xxxx-yyyy-zzzz"),
            ]
        );
        assert!(records.iter().all(|v| v.updater == "wolfi"
            && v.links.is_empty()
            && v.distribution.as_ref().unwrap().did == "wolfi"));
        // Wolfi's documents have no distroversion, so the Alpine entry point refuses them.
        let err = parse_alpine_secdb(json).unwrap_err();
        assert!(err.to_string().contains("distroversion"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_merged() {
        let json = br#"{"distroversion":"edge","packages":[{"pkg":{"name":"xen","secfixes":{
            "4.11.1-r0":["CVE-2018-3620 XSA-273","CVE-2018-3620 CVE-2018-3646 XSA-273 XSA-999"]}}}]}"#;
        let records = parse_alpine_secdb(json).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].name, "CVE-2018-3620");
        assert_eq!(records[0].aliases, ["XSA-273", "XSA-999"]);
        assert_eq!(records[0].distribution.as_ref().unwrap().release, "edge");
        assert_eq!(records[1].name, "CVE-2018-3646");
    }

    #[test]
    fn release_of_installed_alpine() {
        let alpine = |version_id: &str, pretty_name: &str| Distribution {
            did: "alpine".into(),
            name: "Alpine Linux".into(),
            version_id: version_id.into(),
            pretty_name: pretty_name.into(),
            ..Distribution::default()
        };
        let of = |d: &Distribution| release_of_distribution(d);
        assert_eq!(
            of(&alpine("3.19.1", "Alpine Linux v3.19")).as_deref(),
            Some("3.19")
        );
        assert_eq!(
            of(&alpine("3.9.6", "Alpine Linux v3.9")).as_deref(),
            Some("3.9")
        );
        assert_eq!(
            of(&alpine("3.20_alpha20240329", "Alpine Linux edge")).as_deref(),
            Some("edge")
        );
        assert_eq!(
            of(&alpine("3.20.0", "Alpine Linux edge")).as_deref(),
            Some("edge")
        );
        assert_eq!(of(&alpine("3", "")), None);
        assert_eq!(of(&alpine("", "")), None);
        let debian = Distribution {
            did: "debian".into(),
            version_id: "12".into(),
            ..Distribution::default()
        };
        assert_eq!(of(&debian), None);
    }

    #[test]
    fn release_names() {
        assert_eq!(alpine_release("v3.19").as_deref(), Some("3.19"));
        assert_eq!(alpine_release("v3.2").as_deref(), Some("3.2"));
        assert_eq!(alpine_release("edge").as_deref(), Some("edge"));
        assert_eq!(alpine_release("3.19"), None);
        assert_eq!(alpine_release("v3"), None);
        assert_eq!(alpine_release("v3.x"), None);
        assert_eq!(alpine_release(""), None);
    }

    #[test]
    fn broken_documents_are_clear_errors() {
        let cases: [(&[u8], &str); 9] = [
            (&V3_19_MAIN[..V3_19_MAIN.len() / 2], "EOF"),
            (b"\x00\xff garbage", "expected value"),
            (b"", "EOF"),
            (br#"{"distroversion":"v3.19"}"#, "missing field `packages`"),
            (br#"{"distroversion":"v3.19","packages":{}}"#, "invalid type"),
            (br#"{"distroversion":"v3.19","packages":[{"pkg":{"name":7}}]}"#, "invalid type"),
            (
                br#"{"distroversion":"v3.19","packages":[{"pkg":{"name":"a","secfixes":{"1-r0":"CVE-1"}}}]}"#,
                "invalid type",
            ),
            (
                br#"{"distroversion":"v3.19","packages":[{"pkg":{"name":"a","secfixes":{"1-r0":[1]}}}]}"#,
                "invalid type",
            ),
            (br#"{"distroversion":"v3.19","packages":[{"pkg":{"name":" "}}]}"#, "empty name"),
        ];
        for (input, expected) in cases {
            let err = parse_alpine_secdb(input).unwrap_err();
            assert!(
                matches!(err, FeedError::Malformed { .. }),
                "{err:?} for {:?}",
                String::from_utf8_lossy(&input[..input.len().min(60)])
            );
            assert!(
                err.to_string().contains(expected),
                "{err} should mention {expected}"
            );
        }
        let bad_release = br#"{"distroversion":"v3.19; DROP TABLE","packages":[]}"#;
        assert!(parse_alpine_secdb(bad_release).is_err());
    }

    #[test]
    fn huge_and_deep_inputs_do_not_panic() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_alpine_secdb(deep.as_bytes()).is_err());
        let long_id = "CVE-".to_owned() + &"9".repeat(1_000_000);
        let json = format!(
            r#"{{"distroversion":"v3.19","packages":[{{"pkg":{{"name":"a","secfixes":{{"1-r0":["{long_id}"]}}}}}}]}}"#
        );
        let records = parse_alpine_secdb(json.as_bytes()).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].name.len(), long_id.len());
        // Null lists and empty or note-only entries are tolerated and yield nothing.
        let odd = br#"{"distroversion":"v3.19","packages":[{"pkg":{"name":"a","secfixes":{
            "1-r0":null,"2-r0":[""],"3-r0":["(no id)"]}}}]}"#;
        assert!(parse_alpine_secdb(odd).unwrap().is_empty());
    }
}
