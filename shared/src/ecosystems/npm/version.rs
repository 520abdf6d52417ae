//! npm version ordering: SemVer 2.0 exactly as node's `semver` package (the one npm itself uses) parses
//! and compares with default options (`semver.valid`, `semver.compare`).
//!
//! Written by hand. The `semver` crate follows Cargo (it orders on build metadata and rejects `v1.2.3`),
//! and the `nodejs-semver` crate (7.0) was tried first and dropped: the property test against node found it
//! accepting what node rejects (`V1.2.3`, leading zeros `01.2.3`, prereleases without `-` such as
//! `2.2.1Ro`) and rejecting what node accepts (numbers between 900719925474100 and 2^53 − 1, from a
//! mistyped `MAX_SAFE_INTEGER`). Node's rules, from `semver/internal/re.js` and `classes/semver.js`:
//!
//! - the input is trimmed (JavaScript's whitespace set) and must be at most 256 UTF-16 units before that;
//! - `v?MAJOR.MINOR.PATCH(-PRERELEASE)?(+BUILD)?`, numbers without leading zeros and at most 2^53 − 1;
//! - prerelease identifiers are numeric (no leading zeros) or contain a letter or `-`; build identifiers
//!   are `[0-9A-Za-z-]+` and are ignored by the ordering;
//! - numeric identifiers compare as JavaScript numbers (doubles), before alphanumeric ones, which compare
//!   by UTF-16 code units (ASCII here).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::semver as semver_key;

/// JavaScript's `Number.MAX_SAFE_INTEGER`, node-semver's bound on version numbers.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// node-semver's `MAX_LENGTH`.
const MAX_LENGTH: usize = 256;

/// An npm package version such as `1.2.3-beta.1+build.5`. Build metadata is ignored by the ordering and
/// by equality, as in node-semver's `compare`.
#[derive(Debug, Clone)]
pub struct NpmVersion {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: Vec<String>,
    build: Vec<String>,
}

/// Why a string is not an npm version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid npm version {input:?}: {reason}")]
pub struct InvalidNpmVersion {
    pub input: String,
    pub reason: &'static str,
}

/// JavaScript's `String.prototype.trim` set: Unicode white space, line terminators and the BOM.
fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

fn is_numeric(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `NUMERICIDENTIFIER`: `0|[1-9]\d*`.
fn is_numeric_identifier(s: &str) -> bool {
    is_numeric(s) && (s == "0" || !s.starts_with('0'))
}

/// A main version number: a numeric identifier no larger than `MAX_SAFE_INTEGER`.
fn version_number(s: &str) -> Result<u64, &'static str> {
    if !is_numeric_identifier(s) {
        return Err("version numbers are digits without leading zeros");
    }
    s.parse::<u64>()
        .ok()
        .filter(|n| *n <= MAX_SAFE_INTEGER)
        .ok_or("version number is larger than 2^53 - 1")
}

impl FromStr for NpmVersion {
    type Err = InvalidNpmVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| InvalidNpmVersion {
            input: s.chars().take(80).collect(),
            reason,
        };
        if s.encode_utf16().count() > MAX_LENGTH {
            return Err(fail("longer than 256 characters"));
        }
        let trimmed = s.trim_matches(is_js_whitespace);
        let body = trimmed.strip_prefix('v').unwrap_or(trimmed);
        let (rest, build) = match body.split_once('+') {
            Some((rest, build)) => (rest, Some(build)),
            None => (body, None),
        };
        let (main, prerelease) = match rest.split_once('-') {
            Some((main, prerelease)) => (main, Some(prerelease)),
            None => (rest, None),
        };
        let mut numbers = main.split('.');
        let (Some(major), Some(minor), Some(patch), None) = (
            numbers.next(),
            numbers.next(),
            numbers.next(),
            numbers.next(),
        ) else {
            return Err(fail("expected MAJOR.MINOR.PATCH"));
        };
        let prerelease = match prerelease {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| {
                    let alphanumeric = !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !is_numeric(id);
                    if alphanumeric || is_numeric_identifier(id) {
                        Ok(id.to_owned())
                    } else {
                        Err(fail("bad prerelease identifier"))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        let build = match build {
            None => Vec::new(),
            Some(build) => build
                .split('.')
                .map(|id| {
                    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    {
                        Ok(id.to_owned())
                    } else {
                        Err(fail("bad build identifier"))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(NpmVersion {
            major: version_number(major).map_err(fail)?,
            minor: version_number(minor).map_err(fail)?,
            patch: version_number(patch).map_err(fail)?,
            prerelease,
            build,
        })
    }
}

/// node-semver's `compareIdentifiers`: numeric identifiers compare as JavaScript numbers (so beyond 2^53
/// they round, exactly as in node) and sort before alphanumeric ones.
fn compare_identifiers(a: &str, b: &str) -> Ordering {
    match (is_numeric(a), is_numeric(b)) {
        (true, true) => {
            let x = a.parse::<f64>().unwrap_or(f64::INFINITY);
            let y = b.parse::<f64>().unwrap_or(f64::INFINITY);
            x.total_cmp(&y)
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl Ord for NpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(
                || match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    (false, false) => self
                        .prerelease
                        .iter()
                        .zip(&other.prerelease)
                        .map(|(a, b)| compare_identifiers(a, b))
                        .find(|o| *o != Ordering::Equal)
                        .unwrap_or_else(|| self.prerelease.len().cmp(&other.prerelease.len())),
                },
            )
    }
}

impl PartialOrd for NpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows the ordering: build metadata does not count.
impl PartialEq for NpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NpmVersion {}

/// The normalized form, as `semver.parse(v).version` gives it (no `v`, no build metadata).
impl fmt::Display for NpmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease.join("."))?;
        }
        Ok(())
    }
}

impl NpmVersion {
    /// The build metadata identifiers (after `+`).
    pub fn build(&self) -> &[String] {
        &self.build
    }
}

/// Parses like node-semver, then retries a partial version (`1`, `1.0`, `v1.0`) padded with `.0`: node
/// rejects those, but real advisories carry them (GHSA-r683-j2x4-v87g has `introduced: "1.0"` for
/// node-fetch) and osv.dev reads them as `1.0.0`.
fn parse_padded(s: &str) -> Option<NpmVersion> {
    if let Ok(version) = s.parse() {
        return Some(version);
    }
    let trimmed = s.trim_matches(is_js_whitespace);
    let numbers = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let parts = numbers.split('.').count();
    if parts < 3 && numbers.split('.').all(is_numeric_identifier) {
        let padded = format!("{numbers}{}", ".0".repeat(3 - parts));
        return padded.parse().ok();
    }
    None
}

/// Compares two npm versions.
///
/// Partial versions (`1.0`) are padded first (see [`parse_padded`]). Fallback: a string that still is not
/// a version sorts before every valid version; two invalid strings compare by their bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse_padded(a), parse_padded(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): SemVer
/// precedence of the version [`compare`] reads (partial versions padded). `None` where `compare` falls back
/// (not a version), and for a numeric prerelease identifier above 2^53 − 1, where node compares JavaScript
/// doubles, so distinct large numbers can be equal.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    let version = parse_padded(version)?;
    let exact =
        |id: &String| !is_numeric(id) || id.parse::<u64>().is_ok_and(|n| n <= MAX_SAFE_INTEGER);
    if !version.prerelease.iter().all(exact) {
        return None;
    }
    semver_key(
        &version.major.to_string(),
        &version.minor.to_string(),
        &version.patch.to_string(),
        version.prerelease.iter().map(String::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystems::python::version::reference_tool;
    use proptest::prelude::*;

    #[test]
    fn semver_spec_precedence_example() {
        // The precedence example of semver.org section 11.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
    }

    #[test]
    fn build_metadata_and_v_prefix() {
        assert_eq!(compare("1.2.3+build.1", "1.2.3+build.2"), Ordering::Equal);
        assert_eq!(compare("v1.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(compare("4.17.21", "4.17.4"), Ordering::Greater);
    }

    #[test]
    fn invalid_versions_sort_first_and_never_panic() {
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare("v2", "1.9.9"), Ordering::Greater);
        assert!(
            "1.0".parse::<NpmVersion>().is_err(),
            "node's semver.valid rejects partial versions"
        );
        for bad in [
            "", "1.2.x", "latest", "1.2.3.4", "01.2.3x", "1.2.3-", "01.2",
        ] {
            assert!(bad.parse::<NpmVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, "0.0.0"), Ordering::Less, "{bad:?}");
        }
        let huge = format!("{}.0.0", "9".repeat(400));
        assert_eq!(compare(&huge, "1.0.0"), Ordering::Less);
        assert_eq!(compare("99999999999999999999.0.0", "1.0.0"), Ordering::Less);
    }

    /// Disagreements the property test found in the `nodejs-semver` crate; each expectation is node's.
    #[test]
    fn regressions_found_against_node() {
        for (input, node_accepts) in [
            ("V1.4.401", false),
            ("01.2.3", false),
            ("1.2.3-01", false),
            ("2.2.1Ro", false),
            ("=1.2.3", false),
            ("v 1.2.3", false),
            (" 5.0.4", true),
            ("v1.2.3", true),
            ("900719925474100.0.0", true),
            ("9007199254740991.0.0", true),
            ("9007199254740992.0.0", false),
            ("1.2.3-0abc", true),
            ("1.2.3-9007199254740992", true),
        ] {
            assert_eq!(
                input.parse::<NpmVersion>().is_ok(),
                node_accepts,
                "{input:?}"
            );
        }
        assert_eq!(
            compare("900719925474100.0.0", "9007199254740991.0.0"),
            Ordering::Less
        );
        assert_eq!(
            compare("1.2.3-9007199254740993", "1.2.3-9007199254740992"),
            Ordering::Equal
        );
        assert_eq!(
            compare(&format!("1.2.3-{}", "a".repeat(251)), "0.0.0"),
            Ordering::Less
        );
    }

    fn identifier() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u64..20).prop_map(|n| n.to_string()),
            "[a-zA-Z][a-zA-Z0-9-]{0,4}",
            Just("0abc".to_owned()),
            Just("01".to_owned()),
        ]
    }

    fn npm_like() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            8 => (0u64..15).prop_map(|n| n.to_string()),
            1 => Just("01".to_owned()),
            1 => Just("9007199254740991".to_owned()),
            1 => Just("9007199254740992".to_owned()),
            1 => Just("900719925474100".to_owned()),
        ];
        (
            prop::sample::select(vec!["", "", "", "v", "=", " ", "v ", "V"]),
            number.clone(),
            number.clone(),
            number,
            prop::collection::vec(identifier(), 0..3),
            prop::option::of("[a-z0-9]{1,5}"),
            prop::sample::select(vec!["-", "-", "-", ""]),
        )
            .prop_map(|(prefix, ma, mi, pa, pre, build, dash)| {
                let mut s = format!("{prefix}{ma}.{mi}.{pa}");
                if !pre.is_empty() {
                    s.push_str(dash);
                    s.push_str(&pre.join("."));
                }
                if let Some(b) = build {
                    s.push('+');
                    s.push_str(&b);
                }
                s
            })
    }

    /// Checks thousands of generated pairs against node's `semver` package (`semver.valid` and
    /// `semver.compare`, default options) in one node process.
    #[test]
    fn agrees_with_node_semver() {
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (npm_like(), npm_like()),
                // Same version, other spelling: surrounding spaces, or a leading `v`.
                1 => npm_like().prop_map(|a| (a.clone(), format!(" {a} "))),
                1 => npm_like().prop_map(|a| (a.clone(), format!("v{}", a.trim_start()))),
            ],
            4000,
        );
        let node_modules = reference_tool::node_modules();
        let script = r#"
const semver = require(require("path").join(process.argv[1], "semver"));
const lines = require("fs").readFileSync(0, "utf8").split("\n");
const out = [];
for (const line of lines) {
    if (line === "") continue;
    const [a, b] = line.split("\t");
    const va = semver.valid(a), vb = semver.valid(b);
    if (va === null || vb === null) {
        out.push((va === null ? "invalid" : "ok") + " " + (vb === null ? "invalid" : "ok"));
    } else {
        out.push(String(semver.compare(a, b)));
    }
}
process.stdout.write(out.map((l) => l + "\n").join(""));
"#;
        let node_modules = node_modules.to_string_lossy().into_owned();
        let verdicts = reference_tool::run_pairs(
            std::path::Path::new("node"),
            &["-e", script, &node_modules],
            &pairs,
            "install node and the npm package `semver` (`mkdir -p .ref && cd .ref && npm install semver` at the \
             repository root), or point LUCID_REF_NODE_MODULES at a node_modules holding `semver`",
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1", "invalid ok", "ok invalid"]);
        let mut failures = Vec::new();
        for ((a, b), verdict) in pairs.iter().zip(&verdicts) {
            let ours = match (a.parse::<NpmVersion>(), b.parse::<NpmVersion>()) {
                (Ok(x), Ok(y)) => (x.cmp(&y) as i8).to_string(),
                (x, y) => format!(
                    "{} {}",
                    if x.is_ok() { "ok" } else { "invalid" },
                    if y.is_ok() { "ok" } else { "invalid" }
                ),
            };
            if &ours != verdict {
                failures.push(format!(
                    "{a:?} vs {b:?}: ours {ours}, node semver {verdict}"
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// [`order_key`] against [`compare`] (itself checked against node above) on many more pairs than node
    /// answers in a test's time: same order, equal keys exactly for equal versions, no key where `compare`
    /// falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let partial = (0u64..15, prop::option::of(0u64..15)).prop_map(|(ma, mi)| match mi {
            Some(mi) => format!("{ma}.{mi}"),
            None => ma.to_string(),
        });
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (npm_like(), npm_like()),
                1 => (npm_like(), partial.clone()),
                1 => partial.prop_map(|a| (a.clone(), format!("{a}.0"))),
                1 => npm_like().prop_map(|a| (a.clone(), format!("{}+other", a.split('+').next().unwrap_or("")))),
                // The same release, other prereleases.
                2 => (0u64..2, prop::collection::vec(identifier(), 0..3), prop::collection::vec(identifier(), 0..3))
                    .prop_map(|(minor, a, b)| {
                        let version = |pre: Vec<String>| match pre.is_empty() {
                            true => format!("1.{minor}.0"),
                            false => format!("1.{minor}.0-{}", pre.join(".")),
                        };
                        (version(a), version(b))
                    }),
            ],
            50_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            super::order_key,
            compare,
            |v| parse_padded(v).is_some(),
            1000,
        );
    }

    #[test]
    fn no_order_key_where_doubles_make_distinct_numbers_equal() {
        // node compares these prerelease numbers as equal doubles.
        assert_eq!(
            compare("1.0.0-9007199254740993", "1.0.0-9007199254740992"),
            Ordering::Equal
        );
        assert_eq!(super::order_key("1.0.0-9007199254740993"), None);
        assert!(super::order_key("1.0.0-9007199254740991").is_some());
    }
}
