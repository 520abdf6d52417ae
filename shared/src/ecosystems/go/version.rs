//! Go module version ordering (`golang.org/x/mod/semver`), including pseudo-versions, `+incompatible`, and
//! Go toolchain versions (`go1.21.3`, `go1.22rc1`) as the vulnerability database uses them for `stdlib`.
//!
//! Written by hand: Go's rules are semantic versioning with Go's own relaxations (the `v` prefix, the `v1` and
//! `v1.2` shorthands) and the toolchain spelling, which neither the `semver` crate (Cargo requirements syntax,
//! no shorthands, ordering on build metadata) nor any maintained crate covers. The rules are short; they
//! follow `semver.go` in golang.org/x/mod and are tested on its own test table (`testdata/version`).
//!
//! Accepted spellings, all normalized to Go's canonical `vMAJOR.MINOR.PATCH[-PRERELEASE]`:
//! - `v1.2.3`, `v1.2`, `v1` (Go semver; shorthands cannot carry a prerelease or build suffix);
//! - `1.2.3` without the `v`, as OSV's `Go` ecosystem writes versions (`"fixed": "1.20.12"`);
//! - `go1.21.3`, `go1.21` (= `v1.21.0`), `go1.22rc1` (= `v1.22.0-rc.1`), `go1.9beta2` (= `v1.9.0-beta.2`),
//!   as Go binaries record their toolchain and vuln.go.dev translates it for `stdlib`.
//!
//! Build metadata (`+incompatible`, `+meta`) is kept for display but ignored by the ordering, as in Go.
//! Pseudo-versions need no special case: `v0.0.0-20210101000000-abcdef123456` is a prerelease and sorts
//! below `v0.0.0`, and `v1.2.4-0.20210101000000-abcdef123456` sorts between `v1.2.3` and `v1.2.4`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::semver as semver_key;

/// A Go module or toolchain version in canonical form.
#[derive(Debug, Clone)]
pub struct GoVersion {
    /// Decimal digits without leading zeros (`"0"` for zero); kept as text so huge numbers cannot overflow.
    major: String,
    minor: String,
    patch: String,
    /// Dot-separated prerelease identifiers; empty for a release.
    prerelease: Vec<String>,
    /// Build metadata without the `+`; not part of the ordering.
    build: String,
}

/// Why a string is not a Go version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Go version {input:?}: {reason}")]
pub struct InvalidGoVersion {
    pub input: String,
    pub reason: &'static str,
}

impl GoVersion {
    /// The prerelease identifiers joined by dots, empty for a release.
    pub fn prerelease(&self) -> String {
        self.prerelease.join(".")
    }

    /// The build metadata (`incompatible` for `+incompatible`), empty if none.
    pub fn build(&self) -> &str {
        &self.build
    }
}

impl FromStr for GoVersion {
    type Err = InvalidGoVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidGoVersion {
            input: s.chars().take(80).collect(),
            reason,
        };
        if let Some(toolchain) = s.strip_prefix("go") {
            return parse_toolchain(toolchain).ok_or_else(|| fail("not a Go toolchain version"));
        }
        let semver = s.strip_prefix('v').unwrap_or(s);
        parse_semver(semver).map_err(fail)
    }
}

/// Parses Go semver without its `v`, following `parse` in golang.org/x/mod/semver.
fn parse_semver(s: &str) -> Result<GoVersion, &'static str> {
    let (major, rest) = split_number(s).ok_or("major version is not a number")?;
    let mut version = GoVersion {
        major,
        minor: "0".to_owned(),
        patch: "0".to_owned(),
        prerelease: Vec::new(),
        build: String::new(),
    };
    if rest.is_empty() {
        return Ok(version);
    }
    let rest = rest.strip_prefix('.').ok_or("expected '.' after major")?;
    let (minor, rest) = split_number(rest).ok_or("minor version is not a number")?;
    version.minor = minor;
    if rest.is_empty() {
        return Ok(version);
    }
    let rest = rest.strip_prefix('.').ok_or("expected '.' after minor")?;
    let (patch, rest) = split_number(rest).ok_or("patch version is not a number")?;
    version.patch = patch;
    let (main_rest, build) = match rest.split_once('+') {
        Some((before, build)) => (before, Some(build)),
        None => (rest, None),
    };
    if let Some(prerelease) = main_rest.strip_prefix('-') {
        version.prerelease = prerelease
            .split('.')
            .map(|ident| {
                if !is_identifier(ident) {
                    Err("bad prerelease identifier")
                } else if is_numeric(ident) && ident.len() > 1 && ident.starts_with('0') {
                    Err("numeric prerelease identifier has a leading zero")
                } else {
                    Ok(ident.to_owned())
                }
            })
            .collect::<Result<_, _>>()?;
    } else if !main_rest.is_empty() {
        return Err("unexpected text after patch version");
    }
    if let Some(build) = build {
        if !build.split('.').all(is_identifier) {
            return Err("bad build metadata");
        }
        version.build = build.to_owned();
    }
    Ok(version)
}

/// Parses a toolchain version after `go`: `1.21.3`, `1.21`, `1`, `1.22rc1`, `1.9beta2`.
fn parse_toolchain(s: &str) -> Option<GoVersion> {
    let (major, rest) = split_number(s)?;
    let (minor, rest) = match rest.strip_prefix('.') {
        Some(rest) => split_number(rest)?,
        None => ("0".to_owned(), rest),
    };
    let (patch, rest) = match rest.strip_prefix('.') {
        Some(rest) => split_number(rest)?,
        None => ("0".to_owned(), rest),
    };
    let prerelease = if rest.is_empty() {
        Vec::new()
    } else {
        let split = rest.find(|c: char| c.is_ascii_digit())?;
        let (label, number) = rest.split_at(split);
        if !matches!(label, "rc" | "beta" | "alpha") || !is_numeric(number) {
            return None;
        }
        let (number, _) = split_number(number)?;
        vec![label.to_owned(), number]
    };
    Some(GoVersion {
        major,
        minor,
        patch,
        prerelease,
        build: String::new(),
    })
}

/// Splits a leading decimal number (no leading zeros, as Go requires) from the rest.
fn split_number(s: &str) -> Option<(String, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return None;
    }
    Some((digits.to_owned(), rest))
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Compares decimal strings without leading zeros: longer is larger, then by digits.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn compare_prerelease(a: &[String], b: &[String]) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        (false, false) => {}
    }
    for (x, y) in a.iter().zip(b) {
        let order = match (is_numeric(x), is_numeric(y)) {
            (true, true) => compare_numbers(x, y),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for GoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_numbers(&self.major, &other.major)
            .then_with(|| compare_numbers(&self.minor, &other.minor))
            .then_with(|| compare_numbers(&self.patch, &other.patch))
            .then_with(|| compare_prerelease(&self.prerelease, &other.prerelease))
    }
}

impl PartialOrd for GoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality is Go's: build metadata does not count (`v2.0.0+incompatible` == `v2.0.0`).
impl PartialEq for GoVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GoVersion {}

/// Displays Go's canonical form (`Canonical` in x/mod/semver), which drops build metadata except
/// `+incompatible`, as the go command does.
impl fmt::Display for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease())?;
        }
        if self.build == "incompatible" {
            f.write_str("+incompatible")?;
        }
        Ok(())
    }
}

/// Compares two Go versions (module versions, with or without `v`, or `go1.x` toolchain versions).
///
/// Fallback: as in x/mod/semver, an invalid version sorts below every valid one; two invalid versions
/// compare by their bytes (Go calls them equal; bytes keep the order deterministic for sorting).
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<GoVersion>(), b.parse::<GoVersion>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): SemVer
/// precedence of the canonical version (build metadata left out, as the ordering ignores it). `None` for
/// what is not a Go version, where [`compare`] falls back.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    let version = version.parse::<GoVersion>().ok()?;
    semver_key(
        &version.major,
        &version.minor,
        &version.patch,
        version.prerelease.iter().map(String::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GO_SEMVER_TESTS: &str = include_str!("testdata/version/semver_tests.tsv");

    fn go_table() -> Vec<(&'static str, &'static str)> {
        GO_SEMVER_TESTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('\t').unwrap())
            .collect()
    }

    #[test]
    fn go_table_validity_and_canonical_forms() {
        let table = go_table();
        assert_eq!(table.len(), 32);
        for (input, canonical) in table {
            match input.parse::<GoVersion>() {
                Ok(v) => assert_eq!(v.to_string(), canonical, "{input}"),
                Err(_) => assert_eq!(canonical, "", "{input} should be valid"),
            }
        }
    }

    /// Go's `TestCompare`: equal canonical forms compare equal, otherwise the earlier row is smaller. Two
    /// invalid rows are the one documented difference (bytes instead of equal).
    #[test]
    fn go_table_ordering() {
        let table = go_table();
        for (i, (a, ca)) in table.iter().enumerate() {
            for (j, (b, cb)) in table.iter().enumerate() {
                if ca.is_empty() && cb.is_empty() {
                    assert_eq!(compare(a, b), a.cmp(b));
                    continue;
                }
                let want = if ca == cb { Ordering::Equal } else { i.cmp(&j) };
                assert_eq!(compare(a, b), want, "{a} vs {b}");
            }
        }
        assert_eq!(compare("v1", "v1"), Ordering::Equal);
        assert_eq!(compare("v2", "v1"), Ordering::Greater);
        assert_eq!(compare("v1.19", "v1.2"), Ordering::Greater);
    }

    #[test]
    fn pseudo_versions_and_incompatible() {
        let ordered = [
            "v0.0.0-20190101000000-abcdefabcdef",
            "v0.0.0-20210101000000-abcdef123456",
            "v0.0.0",
            "v1.2.3",
            "v1.2.4-0.20210101000000-abcdef123456",
            "v1.2.4-pre.0.20210101000000-abcdef123456",
            "v1.2.4",
            "v2.0.0+incompatible",
            "v2.0.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
        }
        assert_eq!(compare("v2.0.0+incompatible", "v2.0.0"), Ordering::Equal);
        let v: GoVersion = "v2.0.0+incompatible".parse().unwrap();
        assert_eq!(v.build(), "incompatible");
        assert_eq!(v.to_string(), "v2.0.0+incompatible");
    }

    #[test]
    fn toolchain_versions_normalize() {
        for (toolchain, semver) in [
            ("go1.21.3", "v1.21.3"),
            ("go1.21", "v1.21.0"),
            ("go1", "v1.0.0"),
            ("go1.22rc1", "v1.22.0-rc.1"),
            ("go1.9beta2", "v1.9.0-beta.2"),
            ("go1.20.12", "1.20.12"),
        ] {
            assert_eq!(compare(toolchain, semver), Ordering::Equal, "{toolchain}");
        }
        assert_eq!(compare("go1.22rc1", "go1.22.0"), Ordering::Less);
        assert_eq!(compare("go1.22rc2", "go1.22rc10"), Ordering::Less);
        assert_eq!(compare("go1.21.10", "go1.21.9"), Ordering::Greater);
        for bad in [
            "go",
            "go1.",
            "go1.22rc",
            "go1.22xyz1",
            "devel go1.22-abcdef",
            "go1.x",
        ] {
            assert!(bad.parse::<GoVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn osv_spelling_without_v() {
        assert_eq!(compare("1.20.12", "v1.20.12"), Ordering::Equal);
        assert_eq!(compare("0", "v0.0.0"), Ordering::Equal);
        assert_eq!(compare("1.20.12", "1.20.2"), Ordering::Greater);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let huge = format!("v{}.0.0", "9".repeat(5000));
        assert_eq!(compare(&huge, "v1.0.0"), Ordering::Greater);
        for junk in [
            "",
            "v",
            "v01.0.0",
            "v1.0.0-",
            "v1.0.0-01",
            "v1.0.0+",
            "v1..0",
            "\u{feff}v1",
            "v1.0.0-a..b",
        ] {
            assert!(junk.parse::<GoVersion>().is_err(), "{junk:?}");
            assert_eq!(compare(junk, "v0.0.0"), Ordering::Less);
        }
    }

    fn identifier() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..30).prop_map(|n| n.to_string()),
            "[a-z][a-z0-9-]{0,4}",
            Just("rc".to_owned()),
            Just("20210101000000-abcdef123456".to_owned()),
        ]
    }

    fn full_version() -> impl Strategy<Value = String> {
        (
            0u64..4,
            0u64..12,
            0u64..12,
            prop::collection::vec(identifier(), 0..4),
            prop::option::of("[a-z0-9]{1,6}"),
        )
            .prop_map(|(ma, mi, pa, pre, build)| {
                let mut s = format!("{ma}.{mi}.{pa}");
                if !pre.is_empty() {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                if let Some(b) = build {
                    s.push('+');
                    s.push_str(&b);
                }
                s
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// No Go toolchain is installed here, so full `X.Y.Z[-pre][+build]` versions are checked against the
        /// `semver` crate's SemVer 2.0 precedence (which Go follows for full versions; build metadata is
        /// ignored by both once stripped from the `semver` side, which orders on it).
        #[test]
        fn full_versions_follow_semver_precedence(a in full_version(), b in full_version()) {
            let strip = |s: &str| {
                let mut v = semver::Version::parse(s).unwrap();
                v.build = semver::BuildMetadata::EMPTY;
                v
            };
            prop_assert_eq!(compare(&format!("v{a}"), &format!("v{b}")), strip(&a).cmp(&strip(&b)));
        }

        #[test]
        fn order_is_antisymmetric_on_any_input(a in "\\PC{0,12}", b in "(v|go)?[0-9.a-z+-]{0,10}") {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }
    }

    fn toolchain_version() -> impl Strategy<Value = String> {
        (
            0u64..25,
            prop::option::of(0u64..6),
            prop::option::of((prop::sample::select(vec!["rc", "beta", "alpha"]), 1u64..4)),
        )
            .prop_map(|(minor, patch, pre)| {
                let mut s = format!("go1.{minor}");
                if let Some(patch) = patch {
                    s.push_str(&format!(".{patch}"));
                }
                if let Some((label, n)) = pre {
                    s.push_str(&format!("{label}{n}"));
                }
                s
            })
    }

    /// [`order_key`] against [`compare`] (itself checked against Go's table and SemVer precedence above):
    /// same order, equal keys exactly for equal versions, no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let any = prop_oneof![
            4 => full_version().prop_map(|v| format!("v{v}")),
            1 => full_version(),
            1 => toolchain_version(),
            1 => (0u64..3, prop::option::of(0u64..12)).prop_map(|(ma, mi)| match mi {
                Some(mi) => format!("v{ma}.{mi}"),
                None => format!("v{ma}"),
            }),
            1 => "v?[0-9.a-z+-]{0,8}",
        ];
        let pairs = crate::ecosystems::python::version::reference_tool::generate(
            prop_oneof![
                4 => (any.clone(), any.clone()),
                1 => full_version().prop_map(|a| (a.clone(), format!("v{a}"))),
                1 => full_version().prop_map(|a| (format!("v{a}"), format!("v{}+incompatible", a.split('+').next().unwrap_or("")))),
                1 => toolchain_version().prop_map(|a| (a.clone(), a.parse::<GoVersion>().map(|v| v.to_string()).unwrap_or(a))),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            super::order_key,
            compare,
            |v| v.parse::<GoVersion>().is_ok(),
            1000,
        );
    }
}
