//! Package URLs (package-url spec) for reported packages, built with the `packageurl` crate so encoding
//! follows the spec.
//!
//! OS packages (deb, rpm, apk) carry the distribution as namespace (`debian`, `alpine`, `rhel`) and as the
//! `distro` qualifier (`debian-12`), the architecture as `arch`, an epoch as the `epoch` qualifier (the
//! version then has none), and the source package as `upstream` (deb: source name; apk: origin; rpm: the
//! source rpm's name and version).

use packageurl::PackageUrl;

use crate::model::{Ecosystem, ReportDistribution, ReportPackage};

/// Splits `epoch:version` (dpkg and rpm).
pub fn split_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, version),
    }
}

/// The purl of a package, or `None` when its ecosystem is unknown or its name cannot form one.
pub fn purl(p: &ReportPackage, distribution: Option<&ReportDistribution>) -> Option<String> {
    let ecosystem: Ecosystem = p.ecosystem.parse().ok()?;
    let ty = ecosystem.purl_type();
    let version = p.version.as_str();
    let mut namespace: Option<String> = None;
    let mut name = p.name.clone();
    let mut purl_version = version.to_owned();
    let mut qualifiers: Vec<(&str, String)> = Vec::new();
    if ecosystem.is_os() {
        if let Some(d) = distribution
            && !d.did.is_empty()
        {
            namespace = Some(d.did.to_lowercase());
            let release = if d.version_id.is_empty() {
                &d.version_code_name
            } else {
                &d.version_id
            };
            if !release.is_empty() {
                qualifiers.push(("distro", format!("{}-{release}", d.did.to_lowercase())));
            }
        }
        if !p.arch.is_empty() {
            qualifiers.push(("arch", p.arch.clone()));
        }
        if ecosystem != Ecosystem::Apk {
            let (epoch, rest) = split_epoch(version);
            if let Some(e) = epoch {
                qualifiers.push(("epoch", e.to_owned()));
            }
            purl_version = rest.to_owned();
        }
        if let Some(src) = &p.source
            && !src.name.is_empty()
            && (src.name != p.name || (!src.version.is_empty() && src.version != p.version))
        {
            let upstream = if ecosystem == Ecosystem::Rpm && !src.version.is_empty() {
                format!("{}-{}.src.rpm", src.name, split_epoch(&src.version).1)
            } else {
                src.name.clone()
            };
            qualifiers.push(("upstream", upstream));
        }
    } else {
        match ecosystem {
            Ecosystem::PyPI => name = name.to_lowercase().replace('_', "-"),
            Ecosystem::Npm => {
                if let Some((scope, n)) = name.split_once('/') {
                    namespace = Some(scope.to_owned());
                    name = n.to_owned();
                }
            }
            Ecosystem::Go | Ecosystem::Packagist => {
                if let Some((ns, n)) = name.rsplit_once('/') {
                    namespace = Some(ns.to_owned());
                    name = n.to_owned();
                }
            }
            Ecosystem::Maven => {
                if let Some((group, artifact)) = name.split_once(':') {
                    namespace = Some(group.to_owned());
                    name = artifact.to_owned();
                }
            }
            _ => {}
        }
    }
    let mut purl = PackageUrl::new(ty, name.as_str()).ok()?;
    if let Some(ns) = &namespace {
        purl.with_namespace(ns.as_str()).ok()?;
    }
    if !purl_version.is_empty() {
        purl.with_version(purl_version.as_str()).ok()?;
    }
    qualifiers.sort();
    for (k, v) in qualifiers {
        purl.add_qualifier(k, v).ok()?;
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(ecosystem: &str, name: &str, version: &str) -> ReportPackage {
        ReportPackage {
            id: "1".into(),
            name: name.into(),
            version: version.into(),
            kind: "binary".into(),
            ecosystem: ecosystem.into(),
            ..Default::default()
        }
    }

    fn bookworm() -> ReportDistribution {
        ReportDistribution {
            id: "1".into(),
            did: "debian".into(),
            name: "Debian GNU/Linux".into(),
            version: "12 (bookworm)".into(),
            version_code_name: "bookworm".into(),
            version_id: "12".into(),
            ..Default::default()
        }
    }

    #[test]
    fn deb_with_epoch_and_source() {
        let mut p = pkg("dpkg", "zlib1g", "1:1.2.13.dfsg-1");
        p.arch = "amd64".into();
        p.source = Some(Box::new(ReportPackage {
            name: "zlib".into(),
            version: "1:1.2.13.dfsg-1".into(),
            kind: "source".into(),
            ..Default::default()
        }));
        assert_eq!(
            purl(&p, Some(&bookworm())).unwrap(),
            "pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1&upstream=zlib"
        );
    }

    #[test]
    fn deb_version_characters_are_encoded() {
        let p = pkg("dpkg", "libc6", "2.36-9+deb12u4");
        assert_eq!(
            purl(&p, Some(&bookworm())).unwrap(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?distro=debian-12"
        );
    }

    #[test]
    fn rpm_source_is_the_source_rpm() {
        let mut p = pkg("rpm", "openssl-libs", "1:3.0.7-27.el9");
        p.arch = "x86_64".into();
        p.source = Some(Box::new(ReportPackage {
            name: "openssl".into(),
            version: "1:3.0.7-27.el9".into(),
            ..Default::default()
        }));
        let rhel = ReportDistribution {
            did: "rhel".into(),
            version_id: "9.4".into(),
            ..Default::default()
        };
        assert_eq!(
            purl(&p, Some(&rhel)).unwrap(),
            "pkg:rpm/rhel/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm"
        );
    }

    #[test]
    fn language_packages() {
        assert_eq!(
            purl(&pkg("pypi", "PyYAML", "6.0.1"), None).unwrap(),
            "pkg:pypi/pyyaml@6.0.1"
        );
        assert_eq!(
            purl(&pkg("npm", "@babel/core", "7.24.0"), None).unwrap(),
            "pkg:npm/%40babel/core@7.24.0"
        );
        assert_eq!(
            purl(&pkg("go", "github.com/sirupsen/logrus", "v1.9.3"), None).unwrap(),
            "pkg:golang/github.com/sirupsen/logrus@v1.9.3"
        );
        assert_eq!(
            purl(
                &pkg("maven", "org.apache.logging.log4j:log4j-core", "2.14.1"),
                None
            )
            .unwrap(),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(purl(&pkg("", "x", "1"), None), None);
    }
}
