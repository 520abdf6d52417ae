//! Ubuntu OVAL (`com.ubuntu.<series>.{cve,usn}.oval.xml(.bz2)`) → [`Vulnerability`] records (updater
//! `ubuntu`): one record per (definition, binary package).
//!
//! Naming: a CVE-OVAL definition (class `vulnerability`) is named by its CVE; a USN-OVAL definition (class
//! `patch`) by its USN id, with its CVEs as aliases. Kernel USNs test the running kernel (`uname` and
//! `variable_test`s), not a package version, and yield no records. `inventory` definitions ("Ubuntu 24.10 is
//! installed") are not vulnerabilities.

use std::io::Read;

use super::normalize_priority;
use crate::ecosystems::dpkg::version::canonical;
use crate::feeds::FeedError;
use crate::feeds::oval::{self, AffectedPackage, Definition, PackageInfoKind};
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Vulnerability};

/// The updater name of records from Ubuntu OVAL.
pub const UPDATER: &str = "ubuntu";

/// Parses one series' (uncompressed) Ubuntu OVAL file; `series` is the release it is for (`noble`). Wrap a
/// `.bz2` download in [`oval::bz2_decoder`].
pub fn parse_oval(input: impl Read, series: &str) -> Result<Vec<Vulnerability>, FeedError> {
    oval::parse_records(
        input,
        UPDATER,
        PackageInfoKind::Dpkg,
        |definition, package| to_vulnerability(definition, package, series),
    )
}

/// USN id for USN definitions, else the first CVE, else the title's first word.
fn advisory_name(definition: &Definition) -> String {
    let usn = definition
        .references
        .iter()
        .find(|r| r.source.eq_ignore_ascii_case("USN") && !r.ref_id.is_empty())
        .map(|r| r.ref_id.clone());
    let cve = || definition.cve_ids().into_iter().next();
    let title_word = || {
        definition
            .title
            .split_whitespace()
            .next()
            .map(str::to_owned)
    };
    let name = if definition.class == "patch" {
        usn.or_else(cve)
    } else {
        cve().or(usn)
    };
    name.or_else(title_word)
        .unwrap_or_else(|| definition.id.clone())
}

fn to_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    series: &str,
) -> Option<Vulnerability> {
    let fixed = match package.fixed_version.as_deref() {
        None => None,
        Some(evr) => match canonical(evr) {
            Some(version) => Some(version),
            None => {
                // As claircore does: a version dpkg cannot parse cannot be compared; drop the record, say so.
                tracing::warn!(definition = %definition.id, package = %package.name, evr, "unparsable fixed version");
                return None;
            }
        },
    };
    let name = advisory_name(definition);
    let arch = match &package.arch {
        Some(arch) if arch.operation == "equals" => arch.value.clone(),
        _ => String::new(),
    };
    Some(Vulnerability {
        updater: UPDATER.to_owned(),
        aliases: definition
            .cve_ids()
            .into_iter()
            .filter(|id| *id != name)
            .collect(),
        name,
        description: definition.description.clone(),
        issued: definition.issued.as_deref().and_then(oval::parse_date),
        links: definition.links(),
        normalized_severity: normalize_priority(&definition.severity),
        severity: definition.severity.clone(),
        ecosystem: Some(Ecosystem::Dpkg),
        package_name: package.name.clone(),
        package_is_source: false,
        distribution: Some(DistributionSelector {
            did: "ubuntu".to_owned(),
            release: series.to_owned(),
        }),
        module: String::new(),
        arch,
        ranges: fixed
            .iter()
            .map(|version| AffectedRange {
                fixed: Some(version.clone()),
                ..AffectedRange::default()
            })
            .collect(),
        versions: Vec::new(),
        fixed_in_version: fixed.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    const ORACULAR_BZ2: &[u8] = include_bytes!("testdata/com.ubuntu.oracular.usn.oval.xml.bz2");

    fn oracular() -> Vec<Vulnerability> {
        parse_oval(oval::bz2_decoder(ORACULAR_BZ2), "oracular").unwrap()
    }

    #[test]
    fn full_oracular_usn_file() {
        let vulnerabilities = oracular();
        // Cross-checked with an independent Python/ElementTree walk of the same file: 54 USN definitions, of
        // which the two kernel USNs (uname + variable tests) state no package version, 560 (USN, binary) pairs.
        assert_eq!(vulnerabilities.len(), 560);
        let usns: std::collections::BTreeSet<&str> =
            vulnerabilities.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(usns.len(), 52);
        assert!(
            !usns.contains("USN-7169-1"),
            "kernel USN has no package test"
        );
        assert!(!usns.contains("USN-7169-2"));
        for v in &vulnerabilities {
            assert_eq!(v.updater, "ubuntu");
            assert!(!v.package_is_source);
            assert_eq!(
                v.distribution,
                Some(DistributionSelector {
                    did: "ubuntu".into(),
                    release: "oracular".into()
                })
            );
            assert!(
                !v.fixed_in_version.is_empty(),
                "USN OVAL always has a fix: {}",
                v.name
            );
            assert!(
                !v.fixed_in_version.starts_with("0:"),
                "{}",
                v.fixed_in_version
            );
        }

        let cups: Vec<&Vulnerability> = vulnerabilities
            .iter()
            .filter(|v| v.name == "USN-7042-3")
            .collect();
        let packages: Vec<(&str, &str)> = cups
            .iter()
            .map(|v| (v.package_name.as_str(), v.fixed_in_version.as_str()))
            .collect();
        assert_eq!(
            packages,
            [
                ("cups-browsed", "2.0.1-0ubuntu2.1"),
                ("cups-browsed-tests", "2.0.1-0ubuntu2.1")
            ]
        );
        let first = cups[0];
        assert_eq!(first.aliases, ["CVE-2024-47176"]);
        assert_eq!(first.severity, "Medium");
        assert_eq!(first.normalized_severity, Severity::Medium);
        assert_eq!(
            first.issued,
            Some(time::macros::datetime!(2024-10-21 00:00 UTC))
        );
        assert_eq!(
            first.links,
            [
                "https://ubuntu.com/security/notices/USN-7042-3",
                "https://ubuntu.com/security/CVE-2024-47176"
            ]
        );
        assert_eq!(
            first.ranges,
            vec![AffectedRange {
                fixed: Some("2.0.1-0ubuntu2.1".into()),
                ..Default::default()
            }]
        );
        assert!(
            first
                .description
                .starts_with("USN-7042-2 released an improved fix for cups-browsed.")
        );

        let oath: Vec<&str> = vulnerabilities
            .iter()
            .filter(|v| v.name == "USN-7059-2")
            .map(|v| v.package_name.as_str())
            .collect();
        assert_eq!(
            oath,
            [
                "liboath0t64",
                "liboath-dev",
                "libpam-oath",
                "libpskc0t64",
                "libpskc-dev",
                "oathtool",
                "pskctool"
            ]
        );

        // A regression-only USN: severity "None", no CVE.
        let needrestart = vulnerabilities
            .iter()
            .find(|v| v.name == "USN-7117-2")
            .unwrap();
        assert_eq!(needrestart.package_name, "needrestart");
        assert_eq!(needrestart.fixed_in_version, "3.6-8ubuntu4.3");
        assert_eq!(needrestart.normalized_severity, Severity::Unknown);
        assert!(needrestart.aliases.is_empty());
    }

    /// A CVE-OVAL-shaped document (`vulnerability` class, a test without state = unfixed, a test with one
    /// = fixed), built after the structure of Canonical's `com.ubuntu.<series>.cve.oval.xml`.
    #[test]
    fn cve_oval_fixed_and_unfixed() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5" xmlns:linux="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux" xmlns:ind="http://oval.mitre.org/XMLSchema/oval-definitions-5#independent">
  <definitions>
    <definition class="vulnerability" id="oval:com.ubuntu.noble:def:202412345000000" version="1">
      <metadata>
        <title>CVE-2024-12345 on Ubuntu 24.04 LTS (noble) - high</title>
        <reference source="CVE" ref_id="CVE-2024-12345" ref_url="https://ubuntu.com/security/CVE-2024-12345"/>
        <description>A flaw &amp; a &lt;bug&gt;.</description>
        <advisory from="security@ubuntu.com">
          <severity>High</severity>
          <issued date="2024-06-01"/>
        </advisory>
      </metadata>
      <criteria operator="OR">
        <criterion test_ref="oval:com.ubuntu.noble:tst:1" comment="(libfoo) package in noble was vulnerable and has been fixed (note: '1.2-3ubuntu0.1')."/>
        <criterion test_ref="oval:com.ubuntu.noble:tst:2" comment="(libbar) package in noble is affected and needs fixing."/>
      </criteria>
    </definition>
  </definitions>
  <tests>
    <linux:dpkginfo_test id="oval:com.ubuntu.noble:tst:1" version="1" check_existence="at_least_one_exists" check="at least one">
      <linux:object object_ref="oval:com.ubuntu.noble:obj:1"/>
      <linux:state state_ref="oval:com.ubuntu.noble:ste:1"/>
    </linux:dpkginfo_test>
    <linux:dpkginfo_test id="oval:com.ubuntu.noble:tst:2" version="1" check_existence="at_least_one_exists" check="at least one">
      <linux:object object_ref="oval:com.ubuntu.noble:obj:2"/>
    </linux:dpkginfo_test>
  </tests>
  <objects>
    <linux:dpkginfo_object id="oval:com.ubuntu.noble:obj:1" version="1">
      <linux:name var_ref="oval:com.ubuntu.noble:var:1" var_check="at least one"/>
    </linux:dpkginfo_object>
    <linux:dpkginfo_object id="oval:com.ubuntu.noble:obj:2" version="1">
      <linux:name>libbar1</linux:name>
    </linux:dpkginfo_object>
  </objects>
  <states>
    <linux:dpkginfo_state id="oval:com.ubuntu.noble:ste:1" version="1">
      <linux:evr datatype="debian_evr_string" operation="less than">0:1.2-3ubuntu0.1</linux:evr>
    </linux:dpkginfo_state>
  </states>
  <variables>
    <constant_variable id="oval:com.ubuntu.noble:var:1" version="1" datatype="string">
      <value>libfoo1</value>
      <value>libfoo-dev</value>
    </constant_variable>
  </variables>
</oval_definitions>"#;
        let vulnerabilities = parse_oval(doc.as_bytes(), "noble").unwrap();
        let summary: Vec<(&str, &str, &str, usize)> = vulnerabilities
            .iter()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.package_name.as_str(),
                    v.fixed_in_version.as_str(),
                    v.ranges.len(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("CVE-2024-12345", "libfoo1", "1.2-3ubuntu0.1", 1),
                ("CVE-2024-12345", "libfoo-dev", "1.2-3ubuntu0.1", 1),
                ("CVE-2024-12345", "libbar1", "", 0),
            ]
        );
        assert_eq!(vulnerabilities[0].description, "A flaw & a <bug>.");
        assert_eq!(vulnerabilities[0].normalized_severity, Severity::High);
        assert!(vulnerabilities[0].aliases.is_empty());
    }

    #[test]
    fn broken_input_is_a_feed_error() {
        let mut xml = Vec::new();
        oval::bz2_decoder(ORACULAR_BZ2)
            .read_to_end(&mut xml)
            .unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (xml[..xml.len() / 3].to_vec(), ""),
            (ORACULAR_BZ2.to_vec(), "XML error"),
            (b"not xml at all".to_vec(), "not an OVAL"),
            (
                text.replace(
                    "<constant_variable id=\"oval:com.ubuntu.oracular:var:2024182642674\"",
                    "<constant_variable id=\"gone\"",
                )
                .into_bytes(),
                "variable \"oval:com.ubuntu.oracular:var:2024182642674\" is referenced but not defined",
            ),
        ];
        for (input, expected) in cases {
            let err = parse_oval(input.as_slice(), "oracular").unwrap_err();
            assert!(
                err.to_string().starts_with("ubuntu: malformed data"),
                "{err}"
            );
            assert!(err.to_string().contains(expected), "{err}");
        }
    }
}
