//! One module per ecosystem, each with the same small surface, side by side (claircore's layout):
//!
//! - `version.rs`: the ecosystem's version ordering (`compare`), property-tested against the reference
//!   implementation;
//! - `scanner.rs`: a [`PackageScanner`](crate::scanner::PackageScanner) for its package database;
//! - feed parsers (`secdb.rs`, `tracker.rs`, `oval.rs`, …) producing [`Vulnerability`](crate::model::Vulnerability)
//!   records, for distributions.
//!
//! Adding an ecosystem touches its folder plus the registry lines in this file.

pub mod alpine;
pub mod amazon;
pub mod apk;
pub mod cargo;
pub mod debian;
pub mod distribution;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod npm;
pub mod nuget;
pub mod oracle;
pub(crate) mod order_key;
pub mod packagist;
pub mod photon;
pub mod python;
pub mod rhel;
pub mod rpm;
pub mod rubygems;
pub mod suse;
pub mod ubuntu;

use std::cmp::Ordering;

use crate::model::Ecosystem;
use crate::scanner::PackageScanner;

/// Compares two versions under the ecosystem's rules. Total and panic-free on any input: unparsable
/// versions compare by the fallback documented in each comparator (they sort before valid ones, so an
/// unreadable installed version is reported rather than hidden).
pub fn compare_versions(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    match ecosystem {
        Ecosystem::Dpkg => dpkg::version::compare(a, b),
        Ecosystem::Apk => apk::version::compare(a, b),
        Ecosystem::Rpm => rpm::version::compare(a, b),
        Ecosystem::PyPI => python::version::compare(a, b),
        Ecosystem::Npm => npm::version::compare(a, b),
        Ecosystem::Go => go::version::compare(a, b),
        Ecosystem::Maven => maven::version::compare(a, b),
        Ecosystem::RubyGems => rubygems::version::compare(a, b),
        Ecosystem::Cargo => cargo::version::compare(a, b),
        Ecosystem::Packagist => packagist::version::compare(a, b),
        Ecosystem::NuGet => nuget::version::compare(a, b),
    }
}

/// A byte string ordered as the ecosystem orders versions (PostgreSQL compares `bytea` the same way), for
/// the ecosystems that have one: the database then skips records fixed at or below an installed version
/// (`matcher::store::CANDIDATES`). `None` for versions an ecosystem's rules refuse, and for Maven versions
/// other than plain numbers (its comparison is not transitive, so no key can follow it everywhere). An
/// ecosystem that gains a key registers it here, and a migration queues its stored records for
/// `feeds::store::fill_version_bounds` (V9 for dpkg; V10 for PyPI, npm, Go and crates.io; V11 for apk and
/// rpm; V12 for RubyGems and NuGet; V13 for Packagist; V14 for Maven). A key's first byte is never `0xFF`,
/// so every key is below [`UNBOUNDED_VERSION_KEY`].
pub fn version_order_key(ecosystem: Ecosystem, version: &str) -> Option<Vec<u8>> {
    match ecosystem {
        Ecosystem::Dpkg => dpkg::version::order_key(version),
        Ecosystem::PyPI => python::version::order_key(version),
        Ecosystem::Npm => npm::version::order_key(version),
        Ecosystem::Go => go::version::order_key(version),
        Ecosystem::Cargo => cargo::version::order_key(version),
        Ecosystem::RubyGems => rubygems::version::order_key(version),
        Ecosystem::Apk => apk::version::order_key(version),
        Ecosystem::Rpm => rpm::version::order_key(version),
        Ecosystem::NuGet => nuget::version::order_key(version),
        Ecosystem::Packagist => packagist::version::order_key(version),
        Ecosystem::Maven => maven::version::order_key(version),
    }
}

/// The bound of a record that may affect any version (`vulnerability.version_bound`, migration V9): above
/// every [`version_order_key`].
pub const UNBOUNDED_VERSION_KEY: &[u8] = &[0xFF];

/// The name under which an ecosystem's advisories and installed packages are compared: PyPI names are
/// PEP 503-normalized (`Django` = `django`, `zope.interface` = `zope-interface`); NuGet, Packagist and npm
/// names are case-insensitive on their registries, so they are lowercased; other ecosystems compare names
/// exactly (Go module paths, Maven coordinates and gem names are case-sensitive). Both the feed store and the
/// matcher key on this.
pub fn normalize_package_name(ecosystem: Option<Ecosystem>, name: &str) -> String {
    match ecosystem {
        Some(Ecosystem::PyPI) => python::scanner::normalize_name(name),
        Some(Ecosystem::NuGet | Ecosystem::Packagist | Ecosystem::Npm) => name.to_lowercase(),
        _ => name.to_owned(),
    }
}

/// Every package scanner, in the order the layer reader offers entries to them. Registering an ecosystem's
/// scanner is one line here.
pub fn default_scanners() -> Vec<Box<dyn PackageScanner>> {
    vec![
        Box::new(distribution::scanner::DistributionScanner),
        Box::new(dpkg::scanner::DpkgScanner),
        Box::new(apk::scanner::ApkScanner),
        Box::new(rpm::scanner::RpmScanner),
        Box::new(python::scanner::PythonScanner),
        Box::new(npm::scanner::NpmScanner),
        Box::new(go::scanner::GoBinaryScanner),
        Box::new(maven::scanner::MavenScanner),
        Box::new(rubygems::scanner::RubyGemsScanner),
        Box::new(cargo::scanner::CargoAuditableScanner),
        Box::new(packagist::scanner::PackagistScanner),
        Box::new(nuget::scanner::NuGetScanner),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatches_to_each_ecosystems_ordering() {
        // Pairs whose order differs from plain string order in that ecosystem.
        let cases = [
            (Ecosystem::Dpkg, "1.0~rc1-1", "1.0-1"),
            (Ecosystem::Apk, "1.2.3_rc1-r0", "1.2.3-r0"),
            (Ecosystem::Rpm, "1.0~rc1-1", "1.0-1"),
            (Ecosystem::PyPI, "1.0rc1", "1.0"),
            (Ecosystem::Npm, "1.0.0-rc.1", "1.0.0"),
            (Ecosystem::Go, "v1.9.0", "v1.10.0"),
            (Ecosystem::Maven, "1.0-alpha-1", "1.0"),
            (Ecosystem::RubyGems, "1.0.a", "1.0"),
            (Ecosystem::Cargo, "1.0.0-alpha", "1.0.0"),
            (Ecosystem::Packagist, "1.0.0-beta", "1.0.0"),
            (Ecosystem::NuGet, "1.0.0-beta", "1.0.0"),
        ];
        for (eco, older, newer) in cases {
            assert_eq!(
                compare_versions(eco, older, newer),
                Ordering::Less,
                "{eco}: {older} < {newer}"
            );
            assert_eq!(
                compare_versions(eco, newer, older),
                Ordering::Greater,
                "{eco}"
            );
        }
    }

    #[test]
    fn package_names_normalize_per_ecosystem() {
        let cases = [
            (Some(Ecosystem::PyPI), "Zope.Interface", "zope-interface"),
            (Some(Ecosystem::PyPI), "PyYAML", "pyyaml"),
            (
                Some(Ecosystem::PyPI),
                "typing__extensions",
                "typing-extensions",
            ),
            (Some(Ecosystem::NuGet), "Newtonsoft.Json", "newtonsoft.json"),
            (
                Some(Ecosystem::Packagist),
                "Symfony/HTTP-Kernel",
                "symfony/http-kernel",
            ),
            (Some(Ecosystem::Npm), "JSONStream", "jsonstream"),
            (
                Some(Ecosystem::Go),
                "github.com/BurntSushi/toml",
                "github.com/BurntSushi/toml",
            ),
            (Some(Ecosystem::Maven), "org.Foo:Bar", "org.Foo:Bar"),
            (Some(Ecosystem::Dpkg), "libssl3", "libssl3"),
            (None, "Anything", "Anything"),
        ];
        for (ecosystem, name, expected) in cases {
            assert_eq!(normalize_package_name(ecosystem, name), expected, "{name}");
        }
    }

    #[test]
    fn scanner_names_are_unique() {
        let scanners = default_scanners();
        let mut names: Vec<&str> = scanners.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "{names:?}");
    }
}
