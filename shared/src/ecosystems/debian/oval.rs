//! Debian OVAL (`oval-definitions-<codename>.xml.bz2`) → [`Vulnerability`] records (updater `debian-oval`).
//!
//! Debian's generator writes one definition per (CVE, source package) with class `vulnerability`, titled
//! `CVE-2023-1234 openssl`, and one per DSA with class `patch`, titled `DSA-5420-1 chromium`. Each has a
//! single `dpkginfo_test` "<source> DPKG is earlier than <version>" on the **source** package. Issues still
//! open in the release are written as "earlier than `0`" (e.g. CVE-2011-3374 in apt, unfixed in bookworm):
//! read literally that test never matches, so `0` is taken as Debian's marker for "affected, no fix yet".
//! Issues Debian marks not-affected get no definition at all.

use std::io::Read;

use crate::ecosystems::dpkg::version::canonical;
use crate::feeds::FeedError;
use crate::feeds::oval::{self, AffectedPackage, Definition, PackageInfoKind};
use crate::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};

/// The updater name of records from Debian OVAL.
pub const UPDATER: &str = "debian-oval";

/// Where the security tracker describes an advisory or CVE.
pub const TRACKER_URL: &str = "https://security-tracker.debian.org/tracker/";

/// Parses one release's (uncompressed) Debian OVAL file. `codename` is the release the file is for
/// (`bookworm`); wrap a `.bz2` download in [`oval::bz2_decoder`].
pub fn parse_oval(input: impl Read, codename: &str) -> Result<Vec<Vulnerability>, FeedError> {
    oval::parse_records(
        input,
        UPDATER,
        PackageInfoKind::Dpkg,
        |definition, package| to_vulnerability(definition, package, codename),
    )
}

/// The advisory name is the title's first word (`CVE-2023-1234`, `DSA-5420-1`).
fn advisory_name(definition: &Definition) -> String {
    definition
        .title
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .or_else(|| definition.cve_ids().into_iter().next())
        .unwrap_or_else(|| definition.id.clone())
}

fn to_vulnerability(
    definition: &Definition,
    package: &AffectedPackage,
    codename: &str,
) -> Option<Vulnerability> {
    let fixed = match package.fixed_version.as_deref() {
        None => None,
        Some(evr) => match canonical(evr) {
            Some(version) if version == "0" => None,
            Some(version) => Some(version),
            None => {
                // As claircore does: a version dpkg cannot parse cannot be compared; drop the record, say so.
                tracing::warn!(definition = %definition.id, package = %package.name, evr, "unparsable fixed version");
                return None;
            }
        },
    };
    let name = advisory_name(definition);
    let description =
        if definition.description.is_empty() || definition.description == "security update" {
            if definition.more_info.is_empty() {
                definition.description.clone()
            } else {
                definition.more_info.clone()
            }
        } else {
            definition.description.clone()
        };
    let mut links = vec![format!("{TRACKER_URL}{name}")];
    links.extend(definition.links());
    Some(Vulnerability {
        updater: UPDATER.to_owned(),
        aliases: definition
            .cve_ids()
            .into_iter()
            .filter(|id| *id != name)
            .collect(),
        name,
        description,
        issued: definition.issued.as_deref().and_then(oval::parse_date),
        links,
        severity: String::new(),
        normalized_severity: Severity::Unknown,
        ecosystem: Some(Ecosystem::Dpkg),
        package_name: package.name.clone(),
        package_is_source: true,
        distribution: Some(DistributionSelector {
            did: "debian".to_owned(),
            release: codename.to_owned(),
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCERPT: &[u8] = include_bytes!("testdata/oval-definitions-bookworm-excerpt.xml");

    fn parse_excerpt() -> Vec<Vulnerability> {
        parse_oval(EXCERPT, "bookworm").unwrap()
    }

    fn find<'a>(vulnerabilities: &'a [Vulnerability], name: &str) -> &'a Vulnerability {
        vulnerabilities
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn real_bookworm_excerpt() {
        let vulnerabilities = parse_excerpt();
        // Seven definitions, one source package each; the release test and `uname` test yield nothing.
        assert_eq!(vulnerabilities.len(), 7);
        let names: Vec<&str> = vulnerabilities.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CVE-1999-0199",
                "CVE-2000-0992",
                "CVE-2005-2541",
                "CVE-2011-3374",
                "CVE-2020-36649",
                "CVE-2022-4304",
                "DSA-5420-1"
            ]
        );
        for v in &vulnerabilities {
            assert_eq!(v.updater, "debian-oval");
            assert!(v.package_is_source);
            assert_eq!(v.ecosystem, Some(Ecosystem::Dpkg));
            assert_eq!(
                v.distribution,
                Some(DistributionSelector {
                    did: "debian".into(),
                    release: "bookworm".into()
                })
            );
        }

        let glibc = find(&vulnerabilities, "CVE-1999-0199");
        assert_eq!(glibc.package_name, "glibc");
        // OVAL writes `0:2.2-1`; stored as dpkg prints it.
        assert_eq!(glibc.fixed_in_version, "2.2-1");
        assert_eq!(
            glibc.ranges,
            vec![AffectedRange {
                fixed: Some("2.2-1".into()),
                ..Default::default()
            }]
        );
        assert!(
            glibc
                .description
                .starts_with("manual/search.texi in the GNU C Library")
        );
        assert_eq!(
            glibc.links,
            [
                "https://security-tracker.debian.org/tracker/CVE-1999-0199",
                "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-1999-0199"
            ]
        );
        assert!(glibc.aliases.is_empty());
        assert_eq!(glibc.issued, None);

        // A real epoch is kept.
        assert_eq!(
            find(&vulnerabilities, "CVE-2000-0992").fixed_in_version,
            "1:3.9p1-1"
        );
        assert_eq!(
            find(&vulnerabilities, "CVE-2020-36649").fixed_in_version,
            "1:1.39.4-1~deb12u1"
        );
        assert_eq!(
            find(&vulnerabilities, "CVE-2022-4304").package_name,
            "openssl"
        );

        // "earlier than 0": open in bookworm, affected with no fix.
        for open in ["CVE-2005-2541", "CVE-2011-3374"] {
            let v = find(&vulnerabilities, open);
            assert_eq!(v.fixed_in_version, "", "{open}");
            assert!(v.ranges.is_empty(), "{open}");
        }
        assert_eq!(find(&vulnerabilities, "CVE-2011-3374").package_name, "apt");

        // DSA: class patch, generic description replaced by the DSA text, date, CVE as alias.
        let dsa = find(&vulnerabilities, "DSA-5420-1");
        assert_eq!(dsa.package_name, "chromium");
        assert_eq!(dsa.fixed_in_version, "114.0.5735.106-1~deb12u1");
        assert_eq!(dsa.aliases, ["CVE-2023-3079"]);
        assert!(
            dsa.description
                .starts_with("Multiple security issues were discovered in Chromium")
        );
        assert_eq!(
            dsa.issued,
            Some(time::macros::datetime!(2023-06-07 00:00 UTC))
        );
    }

    #[test]
    fn reads_bz2_directly() {
        let mut compressed = Vec::new();
        {
            use std::io::Write;
            let mut encoder =
                bzip2::write::BzEncoder::new(&mut compressed, bzip2::Compression::best());
            encoder.write_all(EXCERPT).unwrap();
            encoder.finish().unwrap();
        }
        let vulnerabilities =
            parse_oval(oval::bz2_decoder(compressed.as_slice()), "bookworm").unwrap();
        assert_eq!(vulnerabilities, parse_excerpt());
        // Truncated compressed data is an error, not a short result.
        let truncated = &compressed[..compressed.len() / 2];
        assert!(parse_oval(oval::bz2_decoder(truncated), "bookworm").is_err());
    }

    #[test]
    fn broken_input_is_a_feed_error() {
        let text = std::str::from_utf8(EXCERPT).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (EXCERPT[..EXCERPT.len() / 2].to_vec(), ""),
            (b"garbage \x00\xff".to_vec(), ""),
            (b"{\"json\": true}".to_vec(), ""),
            (b"<html><body>503</body></html>".to_vec(), "not an OVAL"),
            // A definition whose test was cut out of the file.
            (
                text.replace(
                    "<dpkginfo_test id=\"oval:org.debian.oval:tst:921\"",
                    "<dpkginfo_test id=\"renamed\"",
                )
                .into_bytes(),
                "oval:org.debian.oval:tst:921",
            ),
        ];
        for (input, expected) in cases {
            let err = parse_oval(input.as_slice(), "bookworm").unwrap_err();
            assert!(matches!(err, FeedError::Malformed { .. }), "{err}");
            assert!(err.to_string().contains(expected), "{err}");
            assert!(
                err.to_string().starts_with("debian-oval: malformed data"),
                "{err}"
            );
        }
    }
}
