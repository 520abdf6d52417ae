//! Red Hat OVAL (`com.redhat.rhsa-RHEL<major>.xml`, OVAL v2 `rhel-<major>.oval.xml.bz2`) → [`Vulnerability`]
//! records (updater `rhel-oval`), keyed like the VEX records: distribution `rhel` / major release, binary
//! package names, rpm `evr` fixed versions, module streams from `Module … is enabled` criteria.
//!
//! Each RHSA (`class="patch"`) becomes one record per affected package, named by the advisory with its CVEs
//! as aliases; unpatched-CVE definitions (`class="vulnerability"`) are named by their CVE. Severity is the
//! advisory's (`Low`/`Moderate`/`Important`/`Critical`, mapped by [`super::vex::normalize_severity`]).
//! Arch constraints are not applied: a record matches every architecture (over-reporting beats hiding).

use std::io::Read;

use super::vex::normalize_severity;
use crate::feeds::FeedError;
use crate::feeds::oval::{self, AffectedPackage, Definition, PackageInfoKind};
use crate::model::{DistributionSelector, Vulnerability};

/// The updater name of records from Red Hat OVAL.
pub const UPDATER: &str = "rhel-oval";

/// Parses one RHEL major release's (uncompressed) OVAL file.
pub fn parse_oval(input: impl Read, major: &str) -> Result<Vec<Vulnerability>, FeedError> {
    oval::parse_records(
        input,
        UPDATER,
        PackageInfoKind::Rpm,
        |definition, package| to_vulnerability(definition, package, major),
    )
}

/// The RHSA id for advisories, else the first CVE, else the title's first word.
fn advisory_name(definition: &Definition) -> String {
    definition
        .references
        .iter()
        .find(|r| matches!(r.source.as_str(), "RHSA" | "RHBA" | "RHEA") && !r.ref_id.is_empty())
        .map(|r| r.ref_id.clone())
        .or_else(|| definition.cve_ids().into_iter().next())
        .unwrap_or_else(|| {
            definition
                .title
                .split_whitespace()
                .next()
                .unwrap_or(&definition.id)
                .trim_end_matches(':')
                .to_owned()
        })
}

fn to_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    major: &str,
) -> Option<Vulnerability> {
    let name = advisory_name(definition);
    let distribution = DistributionSelector {
        did: "rhel".to_owned(),
        release: major.to_owned(),
    };
    Some(Vulnerability {
        updater: UPDATER.to_owned(),
        normalized_severity: normalize_severity(&definition.severity),
        ..oval::rpm_vulnerability(definition, package, name, distribution)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    const EXCERPT: &[u8] = include_bytes!("../../feeds/testdata/oval/rhsa-RHEL9-excerpt.xml");

    #[test]
    fn real_rhel9_advisories_become_records_per_package_with_modules() {
        let records = parse_oval(EXCERPT, "9").unwrap();
        let nodejs = records
            .iter()
            .find(|r| r.package_name == "nodejs")
            .expect("nodejs record");
        assert_eq!(nodejs.name, "RHSA-2022:8832");
        assert_eq!(nodejs.module, "nodejs:18");
        assert_eq!(
            nodejs.fixed_in_version,
            "1:18.12.1-1.module+el9.1.0.z+17326+318294bb"
        );
        assert_eq!(nodejs.normalized_severity, Severity::Medium);
        assert!(nodejs.aliases.contains(&"CVE-2022-3517".to_owned()));
        assert_eq!(
            nodejs.distribution,
            Some(DistributionSelector {
                did: "rhel".into(),
                release: "9".into()
            })
        );
        let sudo = records
            .iter()
            .find(|r| r.package_name == "sudo")
            .expect("sudo record");
        assert_eq!(sudo.name, "RHSA-2023:0282");
        assert_eq!(sudo.severity, "Important");
        assert_eq!(sudo.normalized_severity, Severity::High);
        assert!(sudo.module.is_empty());
        assert!(sudo.aliases.contains(&"CVE-2023-22809".to_owned()));
        assert!(
            records
                .iter()
                .all(|r| r.updater == UPDATER && !r.fixed_in_version.is_empty())
        );
        assert!(parse_oval(&b"<oval_definitions><definitions>"[..], "9").is_err());
    }
}
