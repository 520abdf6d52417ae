//! NuGet version ordering (`NuGet.Versioning.NuGetVersion` with `VersionComparer.Default`).
//!
//! Written by hand: no maintained crate implements NuGet's rules, which differ from SemVer 2.0 in ways that
//! matter for matching: up to four numeric parts (`1.2.3.4`, the fourth being the legacy revision), one or
//! two parts padded with zeros (`1` = `1.0` = `1.0.0.0`), leading zeros tolerated in the numeric parts
//! (`System.Version` parsing), and prerelease labels compared *case-insensitively*. Build metadata is
//! ignored. This follows `NuGetVersionFactory.cs`, `SemanticVersionFactory.cs` and `VersionComparer.cs`
//! in github.com/NuGet/NuGet.Client; the tests use vectors from that repository's test suite (no .NET
//! runtime is available here to run NuGet itself).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::{LIST_END, OrderKey};

/// A NuGet package version such as `1.2.3.4-Beta.2+sha.5`.
#[derive(Debug, Clone)]
pub struct NuGetVersion {
    /// Major, minor, patch, revision; missing parts are 0.
    parts: [u32; 4],
    /// Release labels (the dot-separated prerelease identifiers), empty for a release.
    release_labels: Vec<String>,
    metadata: String,
    original: String,
}

/// Why a string is not a NuGet version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid NuGet version {input:?}: {reason}")]
pub struct InvalidNuGetVersion {
    pub input: String,
    pub reason: &'static str,
}

impl NuGetVersion {
    pub fn is_prerelease(&self) -> bool {
        !self.release_labels.is_empty()
    }

    /// The build metadata after `+`, empty if none.
    pub fn metadata(&self) -> &str {
        &self.metadata
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl FromStr for NuGetVersion {
    type Err = InvalidNuGetVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidNuGetVersion {
            input: s.chars().take(80).collect(),
            reason,
        };
        let trimmed = s.trim();
        // ParseSections: the version runs to the first '-' or '+', labels to the first '+' after it.
        let (main, metadata) = match trimmed.split_once('+') {
            Some((main, metadata)) => (main, Some(metadata)),
            None => (trimmed, None),
        };
        let (numbers, labels) = match main.split_once('-') {
            Some((numbers, labels)) => (numbers, Some(labels)),
            None => (main, None),
        };
        let numeric: Vec<&str> = numbers.split('.').collect();
        if numeric.is_empty() || numeric.len() > 4 {
            return Err(fail("expected 1 to 4 numeric parts"));
        }
        let mut parts = [0u32; 4];
        for (slot, text) in parts.iter_mut().zip(&numeric) {
            if !is_numeric(text) {
                return Err(fail("numeric part is not a number"));
            }
            // System.Version parts are Int32.
            *slot = text
                .parse::<u32>()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| fail("numeric part exceeds Int32"))?;
        }
        let release_labels = match labels {
            None => Vec::new(),
            Some(labels) => labels
                .split('.')
                .map(|label| {
                    if !is_identifier(label) {
                        Err(fail("bad release label"))
                    } else if is_numeric(label) && label.len() > 1 && label.starts_with('0') {
                        Err(fail("numeric release label has a leading zero"))
                    } else {
                        Ok(label.to_owned())
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let metadata = match metadata {
            None => String::new(),
            Some(m) if m.split('.').all(is_identifier) => m.to_owned(),
            Some(_) => return Err(fail("bad build metadata")),
        };
        Ok(NuGetVersion {
            parts,
            release_labels,
            metadata,
            original: trimmed.to_owned(),
        })
    }
}

/// `VersionComparer.CompareRelease`: labels that parse as Int32 compare numerically and before words;
/// words compare ordinally ignoring case.
fn compare_label(a: &str, b: &str) -> Ordering {
    match (a.parse::<i32>().ok(), b.parse::<i32>().ok()) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase())),
    }
}

impl Ord for NuGetVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| {
            match (
                self.release_labels.is_empty(),
                other.release_labels.is_empty(),
            ) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self
                    .release_labels
                    .iter()
                    .zip(&other.release_labels)
                    .map(|(a, b)| compare_label(a, b))
                    .find(|o| *o != Ordering::Equal)
                    .unwrap_or_else(|| self.release_labels.len().cmp(&other.release_labels.len())),
            }
        })
    }
}

impl PartialOrd for NuGetVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows `VersionComparer.Default`: metadata and label case do not count.
impl PartialEq for NuGetVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NuGetVersion {}

impl fmt::Display for NuGetVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

/// Compares two NuGet versions.
///
/// Fallback: a string NuGet cannot parse sorts before every valid version; two invalid strings compare
/// by their bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<NuGetVersion>(), b.parse::<NuGetVersion>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): the four
/// numbers, then a release above any prerelease, and a prerelease's labels in order: those `Int32` reads
/// (`-5` included) by value below the others, which compare ignoring ASCII case, a shorter list first.
/// Build metadata is left out, as the ordering ignores it. `None` for what is not a NuGet version, where
/// [`compare`] falls back.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    const PRERELEASE: u8 = 0x01;
    const RELEASE: u8 = 0x02;
    const NUMERIC: u8 = 0x01;
    const TEXT: u8 = 0x02;
    let version = version.parse::<NuGetVersion>().ok()?;
    let mut key = OrderKey::new();
    for part in version.parts {
        key.number(u64::from(part));
    }
    if version.release_labels.is_empty() {
        key.tag(RELEASE);
        return key.finish();
    }
    key.tag(PRERELEASE);
    for label in &version.release_labels {
        match label.parse::<i32>() {
            Ok(n) => {
                key.tag(NUMERIC);
                // The sign bit flipped: negative numbers then sort below positive ones, bytewise.
                key.number(u64::from(n.cast_unsigned() ^ 0x8000_0000));
            }
            Err(_) => {
                key.tag(TEXT);
                key.text(&label.to_ascii_uppercase())?;
            }
        }
    }
    key.tag(LIST_END);
    key.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Vectors from NuGet/NuGet.Client, test/NuGet.Core.Tests/NuGet.Versioning.Test/VersionComparerTests.cs
    // (@ 70cb6afb6e901b01f678036ec77492a835b97ae0) and SemVer201SpecTests.cs (@ 05934c81…), Apache-2.0,
    // Copyright (c) .NET Foundation.

    #[test]
    fn version_comparer_default_equal() {
        for (a, b) in [
            ("1.0.0", "1.0.0"),
            ("1.0.0-BETA", "1.0.0-beta"),
            ("1.0.0-BETA+AA", "1.0.0-beta+aa"),
            ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.77.0+aa"),
            // SemVer201SpecTests.SemVerSortIgnoreReleaseCasing
            ("1.2.3-a", "1.2.3-A"),
            ("1.2.3-A-b2-C", "1.2.3-a-B2-c"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} vs {b}");
            assert_eq!(compare(b, a), Ordering::Equal, "{b} vs {a}");
        }
    }

    #[test]
    fn version_comparer_default_less() {
        for (a, b) in [
            ("0.0.0", "1.0.0"),
            ("1.0.0", "1.1.0"),
            ("1.0.0", "1.0.1"),
            ("1.999.9999", "2.1.1"),
            ("1.0.0-BETA", "1.0.0-beta2"),
            ("1.0.0-beta+AA", "1.0.0+aa"),
            ("1.0.0-BETA", "1.0.0-beta.1+AA"),
            ("1.0.0-BETA.X.y.5.77.0+AA", "1.0.0-beta.x.y.5.79.0+aa"),
            ("1.0.0-BETA.X.y.5.79.0+AA", "1.0.0-beta.x.y.5.790.0+abc"),
            // SemVer201SpecTests sort cases
            ("1.2.3", "1.2.4"),
            ("1.2.3", "2.0.0"),
            ("9.9.9", "10.1.1"),
            ("1.2.3-alpha", "1.2.3"),
            ("1.2.3-2", "1.2.3-3"),
            ("1.2.3-1.9", "1.2.3-1.50"),
            ("1.2.3-2A", "1.2.3-3A"),
            ("1.2.3-1.50A", "1.2.3-1.9A"),
            ("1.2.3-999999", "1.2.3-Z"),
            ("1.2.3-A.999999", "1.2.3-A.56-2"),
            ("1.2.3-a", "1.2.3-a.2"),
            ("1.2.3-a.2.3.4", "1.2.3-a.2.3.4.5"),
        ] {
            assert_eq!(compare(a, b), Ordering::Less, "{a} vs {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} vs {a}");
        }
    }

    #[test]
    fn four_part_and_short_versions() {
        assert_eq!(compare("1", "1.0.0.0"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare("1.2.3.4", "1.2.3"), Ordering::Greater);
        assert_eq!(compare("1.2.3.4-beta", "1.2.3.4"), Ordering::Less);
        assert_eq!(compare(" 1.2.3 ", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn rejects_what_nuget_rejects() {
        // SemVer201SpecTests invalid labels and metadata (these are invalid for NuGetVersion too).
        for bad in [
            "0.1.2-Alpha..2",
            "0.1.2-Alpha.",
            "0.1.2-.AA",
            "0.1.2-",
            "0.1.2-alp=ha",
            "0.1.2-a&444",
            "0.1.2-02",
            "0.1.2-2.02",
            "0.1.2+ÄÄ",
            "0.1.2+2+A",
            "0.1.2+02A.",
            "0.1.2+",
            "1.2.3.4.5",
            "X.2.3",
            "1.2.Z",
            "",
            "-1.2.3",
            "2147483648.0.0",
        ] {
            assert!(bad.parse::<NuGetVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, "0.0.0"), Ordering::Less, "{bad:?}");
        }
        for good in [
            "0.1.2--",
            "0.1.2--B-C-",
            "0.1.2-02A",
            "0.1.2+02.02-02",
            "0.1.2----+----",
            "2147483647.0.0",
        ] {
            assert!(good.parse::<NuGetVersion>().is_ok(), "{good:?}");
        }
        let _ = compare(&"9".repeat(10_000), "1.0.0");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn order_is_antisymmetric_and_ignores_metadata(
            a in "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-[a-zA-Z0-9]{1,3}(\\.[a-zA-Z0-9]{1,3}){0,2})?",
            b in "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-[a-zA-Z0-9]{1,3}(\\.[a-zA-Z0-9]{1,3}){0,2})?",
        ) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            if a.parse::<NuGetVersion>().is_ok() {
                prop_assert_eq!(compare(&a, &b), compare(&format!("{a}+meta"), &b));
            }
        }
    }

    /// [`order_key`] against [`compare`] (itself checked against NuGet's own vectors above): same order,
    /// equal keys exactly for equal versions, no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let label = prop_oneof![
            (0u32..20).prop_map(|n| n.to_string()),
            prop::sample::select(vec![
                "a",
                "A",
                "b",
                "rc",
                "RC",
                "-5",
                "-05",
                "5-",
                "2147483648",
                "02A",
                "-"
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z0-9-]{1,3}",
        ];
        let version = (
            "[0-9]{1,2}(\\.[0-9]{1,2}){0,3}",
            prop::collection::vec(label, 0..3),
            prop::option::of("[a-z0-9]{1,3}"),
        )
            .prop_map(|(numbers, labels, metadata)| {
                let mut v = numbers;
                if !labels.is_empty() {
                    v.push('-');
                    v.push_str(&labels.join("."));
                }
                if let Some(m) = metadata {
                    v.push('+');
                    v.push_str(&m);
                }
                v
            });
        let pairs = crate::ecosystems::python::version::reference_tool::generate(
            prop_oneof![
                4 => (version.clone(), version.clone()),
                2 => version.clone().prop_map(|a| (a.clone(), a.to_ascii_uppercase())),
                2 => (version.clone(), prop::sample::select(vec!["", ".0", "-a", "-A", "-1", "-0", "+x"]))
                    .prop_map(|(a, tail)| (a.clone(), format!("{a}{tail}"))),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            order_key,
            compare,
            |v| v.parse::<NuGetVersion>().is_ok(),
            1000,
        );
    }
}
