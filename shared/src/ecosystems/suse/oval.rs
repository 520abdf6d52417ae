//! SUSE per-product OVAL → [`Vulnerability`] records (updater `sles` / `opensuse-leap`).
//!
//! SUSE publishes one OVAL file per product line at <https://ftp.suse.com/pub/projects/security/oval/>.
//! Lucid reads the ones claircore's SUSE updater reads: SUSE Linux Enterprise Server by major version
//! (`suse.linux.enterprise.server.<major>.xml.gz`: 12 and 15) and openSUSE Leap by `major.minor`
//! (`opensuse.leap.<x.y>.xml.gz`, claircore's minimum 15.5: 15.5 and 15.6). A file's records are filed
//! under the product it was fetched for, which the caller passes in (the file names say it; the
//! definitions' platforms list every SUSE product a fix ships in).
//!
//! Each definition is one CVE (`class="vulnerability"`, title `CVE-2023-38545`); every `… is <V` rpminfo
//! test under it becomes a record (package, fixed `evr`). SLES files group fixes per service pack
//! (`SUSE Linux Enterprise Server 15 SP5 is installed` AND `curl-8.0.1-150400.5.32.1 is installed`); the
//! records keep every service pack's fixed version, as claircore's do, so a package is affected when it is
//! older than any of them. SUSE release numbers embed the service pack (`150400` = 15 SP4), which keeps
//! older service packs' fixes below newer builds; a newer service pack's fix can still flag an image on an
//! older, fully patched service pack. "Not affected" statements (`xz is not affected`, a test whose state
//! is `version equals 0`), and the product checks (`sles-release is ==15.5`), state no fixed version and
//! produce no record. Arch patterns are not applied.
//!
//! Severity mapping (SUSE rating → [`Severity`]): the definition's `advisory/severity`, else the first
//! `advisory/cve@impact`.
//!
//! | SUSE rating | normalized |
//! |---|---|
//! | `Critical` | Critical |
//! | `Important` | High |
//! | `Moderate` | Medium |
//! | `Low` | Low |
//! | `None` (no security impact) | Negligible |
//! | anything else | Unknown |

use std::io::Read;

use crate::feeds::FeedError;
use crate::feeds::oval::{self, AffectedPackage, Definition, PackageInfoKind};
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};

/// os-release `ID` (and updater name) of SUSE Linux Enterprise Server.
pub const SLES: &str = "sles";

/// os-release `ID` (and updater name) of openSUSE Leap.
pub const LEAP: &str = "opensuse-leap";

/// SUSE's rating, mapped as the module documentation's table says.
pub fn normalize_severity(severity: &str) -> Severity {
    match severity.trim().to_ascii_lowercase().as_str() {
        "critical" => Severity::Critical,
        "important" => Severity::High,
        "moderate" => Severity::Medium,
        "low" => Severity::Low,
        "none" => Severity::Negligible,
        _ => Severity::Unknown,
    }
}

/// The product an OVAL file name stands for: `suse.linux.enterprise.server.15.xml[.gz]` → (`sles`, `15`),
/// `opensuse.leap.15.6.xml[.gz]` → (`opensuse-leap`, `15.6`); `None` for any other name.
pub fn product_of_file_name(name: &str) -> Option<DistributionSelector> {
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".xml.gz")
        .or_else(|| lower.strip_suffix(".xml"))?;
    let (did, release) = if let Some(major) = stem.strip_prefix("suse.linux.enterprise.server.") {
        (SLES, major)
    } else {
        (LEAP, stem.strip_prefix("opensuse.leap.")?)
    };
    let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = release.split('.').collect();
    let valid = match did {
        SLES => parts.len() == 1 && numeric(parts[0]),
        _ => parts.len() == 2 && parts.iter().all(|p| numeric(p)),
    };
    valid.then(|| DistributionSelector {
        did: did.to_owned(),
        release: release.to_owned(),
    })
}

/// Parses one product's (uncompressed) OVAL document into records filed under `product`.
pub fn parse_oval(
    input: impl Read,
    product: &DistributionSelector,
) -> Result<Vec<Vulnerability>, FeedError> {
    // `affected_packages` already folds a (package, fixed version) listed under several service packs.
    oval::parse_records(
        input,
        &product.did,
        PackageInfoKind::Rpm,
        |definition, package| Some(to_vulnerability(definition, package, product)),
    )
}

/// Every `CVE-…` token of a text (`Mitre CVE-2023-38545`, `CVE-2010-1323 at SUSE`).
fn cve_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .filter(|word| word.starts_with("CVE-"))
}

fn to_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    product: &DistributionSelector,
) -> Vulnerability {
    let mut cves: Vec<String> = Vec::new();
    let texts = std::iter::once(definition.title.as_str())
        .chain(definition.advisory_cves.iter().map(|c| c.id.as_str()))
        .chain(
            definition
                .references
                .iter()
                .filter(|r| r.source.eq_ignore_ascii_case("CVE"))
                .map(|r| r.ref_id.as_str()),
        );
    for text in texts {
        for cve in cve_tokens(text) {
            if !cves.iter().any(|known| known == cve) {
                cves.push(cve.to_owned());
            }
        }
    }
    let name = cves.first().cloned().unwrap_or_else(|| {
        if definition.title.is_empty() {
            definition.id.clone()
        } else {
            definition.title.clone()
        }
    });
    let severity = if definition.severity.is_empty() {
        definition
            .advisory_cves
            .iter()
            .map(|c| c.priority.as_str())
            .find(|p| !p.is_empty())
            .unwrap_or_default()
            .to_owned()
    } else {
        definition.severity.clone()
    };
    let fixed = package
        .fixed_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    Vulnerability {
        updater: product.did.clone(),
        aliases: cves.into_iter().filter(|id| *id != name).collect(),
        description: if definition.description.is_empty() {
            definition.title.clone()
        } else {
            definition.description.clone()
        },
        issued: definition.issued.as_deref().and_then(oval::parse_date),
        links: definition.links(),
        normalized_severity: normalize_severity(&severity),
        severity,
        ecosystem: Some(Ecosystem::Rpm),
        package_name: package.name.clone(),
        package_is_source: false,
        distribution: Some(product.clone()),
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
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLES15: &[u8] = include_bytes!("testdata/suse.linux.enterprise.server.15-excerpt.xml");
    const LEAP156: &[u8] = include_bytes!("testdata/opensuse.leap.15.6-excerpt.xml");

    fn product(did: &str, release: &str) -> DistributionSelector {
        DistributionSelector {
            did: did.into(),
            release: release.into(),
        }
    }

    fn summary(records: &[Vulnerability]) -> Vec<(&str, &str, &str)> {
        records
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.package_name.as_str(),
                    r.fixed_in_version.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn sles_cves_become_records_per_package_and_fixed_version() {
        let records = parse_oval(SLES15, &product("sles", "15")).unwrap();
        assert_eq!(
            summary(&records),
            [
                ("CVE-2023-38545", "curl", "0:8.0.1-150400.5.32.1"),
                ("CVE-2023-38545", "libcurl4", "0:8.0.1-150400.5.32.1"),
                // One fixed version per service pack: SP1-LTSS and SP4.
                ("CVE-2023-0286", "libopenssl1_1", "0:1.1.0i-150100.14.46.1"),
                ("CVE-2023-0286", "libopenssl1_1", "0:1.1.1l-150400.7.25.1"),
                ("CVE-2023-0286", "openssl-1_1", "0:1.1.1l-150400.7.25.1"),
                // CVE-2024-3094 is "not affected" on SLES 15: no record.
            ]
        );
        let curl = &records[0];
        assert_eq!(curl.updater, "sles");
        assert_eq!(curl.distribution, Some(product("sles", "15")));
        assert_eq!(curl.severity, "Important");
        assert_eq!(curl.normalized_severity, Severity::High);
        assert!(curl.aliases.is_empty(), "{:?}", curl.aliases);
        assert!(
            curl.description
                .starts_with("This flaw makes curl overflow")
        );
        assert_eq!(
            curl.issued,
            Some(time::macros::datetime!(2023-10-11 00:00 UTC))
        );
        assert!(
            curl.links
                .contains(&"https://www.suse.com/security/cve/CVE-2023-38545".to_owned())
        );
        assert!(records.iter().all(|r| !r.package_is_source));
    }

    #[test]
    fn leap_records_are_filed_under_major_minor() {
        let records = parse_oval(LEAP156, &product("opensuse-leap", "15.6")).unwrap();
        assert_eq!(
            summary(&records),
            [
                ("CVE-2024-2398", "curl", "0:8.6.0-150600.4.3.1"),
                ("CVE-2024-2398", "libcurl4", "0:8.6.0-150600.4.3.1"),
                ("CVE-2024-2961", "glibc", "0:2.38-150600.14.5.1"),
                ("CVE-2024-2961", "glibc-locale-base", "0:2.38-150600.14.5.1"),
            ]
        );
        assert!(records.iter().all(|r| r.updater == "opensuse-leap"
            && r.distribution == Some(product("opensuse-leap", "15.6"))));
        assert_eq!(records[0].normalized_severity, Severity::Medium);
    }

    #[test]
    fn file_names_and_severities() {
        assert_eq!(
            product_of_file_name("suse.linux.enterprise.server.15.xml.gz"),
            Some(product("sles", "15"))
        );
        assert_eq!(
            product_of_file_name("opensuse.leap.15.6.xml"),
            Some(product("opensuse-leap", "15.6"))
        );
        for other in [
            "suse.linux.enterprise.server.15-patch.xml.gz",
            "suse.linux.enterprise.desktop.15.xml.gz",
            "opensuse.leap.15.xml.gz",
            "opensuse.leap.micro.5.5.xml.gz",
            "opensuse.tumbleweed.xml.gz",
            "suse.linux.enterprise.server.15.json",
        ] {
            assert_eq!(product_of_file_name(other), None, "{other}");
        }
        for (text, expected) in [
            ("Critical", Severity::Critical),
            ("Important", Severity::High),
            ("moderate", Severity::Medium),
            ("Low", Severity::Low),
            ("None", Severity::Negligible),
            ("", Severity::Unknown),
        ] {
            assert_eq!(normalize_severity(text), expected, "{text}");
        }
        assert_eq!(
            cve_tokens("CVE-2010-1323 at SUSE").collect::<Vec<_>>(),
            ["CVE-2010-1323"]
        );
    }

    #[test]
    fn severity_falls_back_to_the_cve_impact_and_bad_input_is_an_error() {
        let doc = br#"<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"><definitions>
            <definition id="oval:org.opensuse.security:def:1" class="vulnerability"><metadata><title>CVE-2024-0001</title>
            <reference ref_id="Mitre CVE-2024-0001" source="CVE" ref_url="https://cve.mitre.org/x"/>
            <advisory><cve impact="low">CVE-2024-0001 at SUSE</cve></advisory></metadata>
            <criteria><criterion test_ref="t"/></criteria></definition></definitions>
            <tests><rpminfo_test id="t"><object object_ref="o"/><state state_ref="s"/></rpminfo_test></tests>
            <objects><rpminfo_object id="o"><name>bash</name></rpminfo_object></objects>
            <states><rpminfo_state id="s"><evr operation="less than">0:4.4-1</evr></rpminfo_state></states>
            </oval_definitions>"#;
        let records = parse_oval(&doc[..], &product("sles", "15")).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].name, "CVE-2024-0001");
        assert!(records[0].aliases.is_empty());
        assert_eq!(records[0].severity, "low");
        assert_eq!(records[0].normalized_severity, Severity::Low);
        assert!(parse_oval(&SLES15[..SLES15.len() / 2], &product("sles", "15")).is_err());
        assert!(parse_oval(&b"[]"[..], &product("sles", "15")).is_err());
    }
}
