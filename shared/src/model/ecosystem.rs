//! Which package universe a package lives in: it decides how versions compare and which feeds apply.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The package ecosystems Lucid knows. OS package formats (dpkg, apk, rpm) are matched together with the
/// image's distribution; language ecosystems carry their own advisory namespace (the OSV ecosystem name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ecosystem {
    Dpkg,
    Apk,
    Rpm,
    #[serde(rename = "pypi")]
    PyPI,
    Npm,
    Go,
    Maven,
    #[serde(rename = "rubygems")]
    RubyGems,
    #[serde(rename = "cargo")]
    Cargo,
    Packagist,
    #[serde(rename = "nuget")]
    NuGet,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 11] = [
        Ecosystem::Dpkg,
        Ecosystem::Apk,
        Ecosystem::Rpm,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::Cargo,
        Ecosystem::Packagist,
        Ecosystem::NuGet,
    ];

    /// The stable lowercase name used in the database and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Dpkg => "dpkg",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "go",
            Ecosystem::Maven => "maven",
            Ecosystem::RubyGems => "rubygems",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Packagist => "packagist",
            Ecosystem::NuGet => "nuget",
        }
    }

    /// The OSV ecosystem name for language ecosystems (`None` for OS package formats).
    pub fn osv_name(self) -> Option<&'static str> {
        match self {
            Ecosystem::PyPI => Some("PyPI"),
            Ecosystem::Npm => Some("npm"),
            Ecosystem::Go => Some("Go"),
            Ecosystem::Maven => Some("Maven"),
            Ecosystem::RubyGems => Some("RubyGems"),
            Ecosystem::Cargo => Some("crates.io"),
            Ecosystem::Packagist => Some("Packagist"),
            Ecosystem::NuGet => Some("NuGet"),
            Ecosystem::Dpkg | Ecosystem::Apk | Ecosystem::Rpm => None,
        }
    }

    /// The purl type (package-url spec) for this ecosystem.
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::Dpkg => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "golang",
            Ecosystem::Maven => "maven",
            Ecosystem::RubyGems => "gem",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Packagist => "composer",
            Ecosystem::NuGet => "nuget",
        }
    }

    /// True for OS package formats, whose advisories are per distribution release.
    pub fn is_os(self) -> bool {
        matches!(self, Ecosystem::Dpkg | Ecosystem::Apk | Ecosystem::Rpm)
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ecosystem {0:?}")]
pub struct UnknownEcosystem(pub String);

impl FromStr for Ecosystem {
    type Err = UnknownEcosystem;

    /// Accepts Lucid's names and OSV's names (`PyPI`, `crates.io`, …).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ecosystem::ALL
            .into_iter()
            .find(|e| e.as_str() == s || e.osv_name() == Some(s))
            .ok_or_else(|| UnknownEcosystem(s.chars().take(40).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Ecosystem::ALL {
            assert_eq!(e.as_str().parse::<Ecosystem>().unwrap(), e);
            if let Some(osv) = e.osv_name() {
                assert_eq!(osv.parse::<Ecosystem>().unwrap(), e);
            }
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
        }
    }
}
