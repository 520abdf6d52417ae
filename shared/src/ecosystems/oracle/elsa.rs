//! Oracle Linux ELSA OVAL → [`Vulnerability`] records (updater `ol`).
//!
//! Each ELSA (`class="patch"`, `ELSA-2023-5763`) becomes one record per binary package it fixes, named by
//! the advisory with its CVEs as aliases, fixed in the `evr` of its `is earlier than` test. The release is
//! the definition's own platform (`<platform>Oracle Linux 9</platform>` → `9`), so one parser reads the
//! per-release files, the per-year files and the all-in-one file alike.
//!
//! Which file Lucid fetches: the per-release files `com.oracle.elsa-ol<N>.xml.bz2`. claircore reads the
//! per-year files (`com.oracle.elsa-<year>.xml.bz2`, found in the directory index, the last nine years;
//! the all-in-one file only when configured), Trivy and Vuls the all-in-one file. Per release suits
//! Lucid's sources: a source is the unit of freshness the matcher reports (`ol/9` covers Oracle Linux 9
//! images, like `rhel-oval/9`), an unchanged release costs one conditional request, and one release's
//! document stays far smaller in memory than the all-in-one file (hundreds of MB of XML). The other two
//! layouts still load from a folder (`lucid update --from`).
//!
//! Build variants Oracle publishes next to the regular packages are left out, because their fixed
//! versions do not order against regular builds:
//! - Ksplice userspace packages (`2:3.0.7-25.0.1.ksplice1.el9_3`, criterion `… is ksplice-based`): never
//!   installed in containers (claircore skips ksplice-only advisories for the same reason), and their
//!   higher epoch would flag every regular build as vulnerable;
//! - FIPS builds (`10:3.0.7-25.0.1.el9_3_fips`, criterion `… is fips patched`): same epoch problem. An
//!   installed `_fips` build is compared with the regular fixes of its package.
//!
//! UEK kernels (`kernel-uek`, `…el9uek`) are ordinary package names and match like any other package.
//! Arch criteria (`Oracle Linux arch is x86_64`) are not applied: a record matches every architecture
//! (when builds differ per architecture, each fixed version is its own record).
//!
//! Severity mapping (ELSA severity → [`Severity`]):
//!
//! | ELSA severity | normalized |
//! |---|---|
//! | `CRITICAL` | Critical |
//! | `IMPORTANT` | High |
//! | `MODERATE` | Medium |
//! | `LOW` | Low |
//! | `N/A`, anything else | Unknown |

use std::collections::BTreeSet;
use std::io::Read;

use crate::feeds::FeedError;
use crate::feeds::oval::{self, AffectedPackage, Definition, PackageInfoKind};
use crate::model::{DistributionSelector, Severity, Vulnerability};

/// The updater name of records from Oracle's OVAL.
pub const UPDATER: &str = "ol";

/// The distribution id of Oracle Linux in os-release (`ID=ol`).
pub const DID: &str = "ol";

/// ELSA severity, mapped as the module documentation's table says.
pub fn normalize_severity(severity: &str) -> Severity {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "important" => Severity::High,
        "moderate" => Severity::Medium,
        "low" => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// The major release of an OVAL platform (`Oracle Linux 9` → `9`); `None` for any other platform.
pub fn release_of_platform(platform: &str) -> Option<&str> {
    let major = platform.trim().strip_prefix("Oracle Linux ")?.trim();
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then_some(major)
}

/// Whether a fixed version is a Ksplice userspace or FIPS build (see the module documentation).
pub fn is_build_variant(fixed: &str) -> bool {
    fixed.contains("ksplice") || fixed.ends_with("_fips")
}

/// Parses an (uncompressed) ELSA OVAL document into records.
pub fn parse_elsa(input: impl Read) -> Result<Vec<Vulnerability>, FeedError> {
    let document = oval::parse(input).map_err(|e| FeedError::malformed(UPDATER, e))?;
    let mut records = Vec::new();
    let mut unplaced = 0usize;
    let mut variants = 0usize;
    for definition in &document.definitions {
        if !matches!(definition.class.as_str(), "patch" | "vulnerability") {
            continue;
        }
        let releases: BTreeSet<&str> = definition
            .platforms
            .iter()
            .filter_map(|p| release_of_platform(p))
            .collect();
        if releases.is_empty() {
            unplaced += 1;
            continue;
        }
        let packages = document
            .affected_packages(definition)
            .map_err(|e| FeedError::malformed(UPDATER, format!("{}: {e}", definition.id)))?;
        let mut seen: BTreeSet<(&str, Option<&str>)> = BTreeSet::new();
        for package in packages.iter().filter(|p| p.kind == PackageInfoKind::Rpm) {
            if package
                .fixed_version
                .as_deref()
                .is_some_and(is_build_variant)
            {
                variants += 1;
                continue;
            }
            if !seen.insert((package.name.as_str(), package.fixed_version.as_deref())) {
                continue;
            }
            for release in &releases {
                records.push(to_vulnerability(definition, package, release));
            }
        }
    }
    if unplaced > 0 || variants > 0 {
        tracing::debug!(
            unplaced,
            variants,
            "ELSA: definitions without an Oracle Linux platform, and ksplice/FIPS build fixes, skipped"
        );
    }
    Ok(records)
}

/// The ELSA id from the `elsa` reference, else the title's first word (`ELSA-2023-5763:`), else the
/// first CVE.
fn advisory_name(definition: &Definition) -> String {
    definition
        .references
        .iter()
        .find(|r| r.source.eq_ignore_ascii_case("elsa") && !r.ref_id.is_empty())
        .map(|r| r.ref_id.clone())
        .or_else(|| {
            definition
                .title
                .split_whitespace()
                .next()
                .map(|word| word.trim_end_matches(':'))
                .filter(|word| word.starts_with("ELSA-"))
                .map(str::to_owned)
        })
        .or_else(|| definition.cve_ids().into_iter().next())
        .unwrap_or_else(|| definition.id.clone())
}

fn to_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    release: &str,
) -> Vulnerability {
    let name = advisory_name(definition);
    let distribution = DistributionSelector {
        did: DID.to_owned(),
        release: release.to_owned(),
    };
    Vulnerability {
        updater: UPDATER.to_owned(),
        normalized_severity: normalize_severity(&definition.severity),
        ..oval::rpm_vulnerability(definition, package, name, distribution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCERPT: &[u8] = include_bytes!("testdata/com.oracle.elsa-excerpt.xml");

    fn find<'a>(records: &'a [Vulnerability], name: &str, package: &str) -> Vec<&'a Vulnerability> {
        records
            .iter()
            .filter(|r| r.name == name && r.package_name == package)
            .collect()
    }

    #[test]
    fn elsa_advisories_become_records_per_package_and_release() {
        let records = parse_elsa(EXCERPT).unwrap();
        // perl ×4 (OL7), glibc ×3 (OL8; its ksplice build dropped), curl ×4 (OL9), openssl ×2 (OL9; the
        // FIPS and ksplice builds dropped), kernel-uek ×2 (OL9). Arches fold into one record each.
        assert_eq!(records.len(), 15, "{records:#?}");
        let perl = find(&records, "ELSA-2019-0109", "perl");
        assert_eq!(perl.len(), 1);
        let perl = perl[0];
        assert_eq!(perl.fixed_in_version, "4:5.16.3-294.el7_6");
        assert_eq!(perl.aliases, ["CVE-2018-18311"]);
        assert_eq!(perl.severity, "IMPORTANT");
        assert_eq!(perl.normalized_severity, Severity::High);
        assert_eq!(
            perl.distribution,
            Some(DistributionSelector {
                did: "ol".into(),
                release: "7".into()
            })
        );
        assert!(perl.description.contains("CVE-2018-18311 Integer overflow"));
        assert_eq!(
            perl.issued,
            Some(time::macros::datetime!(2019-01-21 00:00 UTC))
        );
        assert!(
            perl.links
                .contains(&"https://linux.oracle.com/errata/ELSA-2019-0109.html".to_owned())
        );
        assert!(!perl.package_is_source);
        assert_eq!(
            find(&records, "ELSA-2019-0109", "perl-Pod-Escapes")[0].fixed_in_version,
            "1:1.04-294.el7_6"
        );

        let curl = find(&records, "ELSA-2023-5763", "curl-minimal");
        assert_eq!(curl.len(), 1, "aarch64 and x86_64 fold");
        assert_eq!(curl[0].fixed_in_version, "0:7.76.1-26.el9_3.2");
        assert_eq!(curl[0].aliases, ["CVE-2023-38545", "CVE-2023-38546"]);
        assert_eq!(curl[0].distribution.as_ref().unwrap().release, "9");

        let openssl = find(&records, "ELSA-2024-0310", "openssl-libs");
        assert_eq!(openssl.len(), 1, "the FIPS build is not a record");
        assert_eq!(openssl[0].fixed_in_version, "1:3.0.7-25.0.1.el9_3");
        assert_eq!(openssl[0].normalized_severity, Severity::Medium);
        let glibc = find(&records, "ELSA-2023-5453", "glibc");
        assert_eq!(glibc.len(), 1, "the ksplice build is not a record");
        assert_eq!(glibc[0].fixed_in_version, "0:2.28-225.0.4.el8_8.6");
        assert!(
            records
                .iter()
                .all(|r| !is_build_variant(&r.fixed_in_version))
        );

        let uek = find(&records, "ELSA-2023-12955", "kernel-uek");
        assert_eq!(uek[0].fixed_in_version, "0:5.15.0-200.131.27.el9uek");
        // Release, signing-key, arch and variant tests state no fixed version: never records.
        assert!(
            records
                .iter()
                .all(|r| r.package_name != "oraclelinux-release")
        );
    }

    #[test]
    fn severity_platform_and_variant_rules() {
        for (text, expected) in [
            ("CRITICAL", Severity::Critical),
            ("IMPORTANT", Severity::High),
            ("Moderate", Severity::Medium),
            ("LOW", Severity::Low),
            ("N/A", Severity::Unknown),
            ("", Severity::Unknown),
        ] {
            assert_eq!(normalize_severity(text), expected, "{text}");
        }
        assert_eq!(release_of_platform("Oracle Linux 9"), Some("9"));
        assert_eq!(release_of_platform("Oracle Linux 10"), Some("10"));
        assert_eq!(release_of_platform("Oracle Linux"), None);
        assert_eq!(release_of_platform("Oracle Linux 8.9"), None);
        assert_eq!(release_of_platform("Red Hat Enterprise Linux 9"), None);
        assert!(is_build_variant("2:3.0.7-25.0.1.ksplice1.el9_3"));
        assert!(is_build_variant("10:3.0.7-25.0.1.el9_3_fips"));
        assert!(!is_build_variant("0:5.15.0-200.131.27.el9uek"));
    }

    #[test]
    fn bad_documents_are_errors_not_panics() {
        assert!(parse_elsa(&EXCERPT[..EXCERPT.len() / 2]).is_err());
        assert!(parse_elsa(&b"{\"not\": \"xml\"}"[..]).is_err());
        assert!(parse_elsa(&b"<updates/>"[..]).is_err());
        assert_eq!(parse_elsa(&b"<oval_definitions/>"[..]).unwrap(), Vec::new());
        // A definition whose criterion names a test the document lacks is an error, not a silent gap.
        let dangling = br#"<oval_definitions><definitions><definition id="d" class="patch"><metadata>
            <title>ELSA-2024-0001: x (LOW)</title><affected family="unix"><platform>Oracle Linux 9</platform></affected>
            </metadata><criteria><criterion test_ref="missing"/></criteria></definition></definitions></oval_definitions>"#;
        let err = parse_elsa(&dangling[..]).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
