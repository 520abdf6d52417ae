//! Packagist (Composer) version ordering: Composer's `VersionParser::normalize`, then PHP's
//! `version_compare` on the normalized forms — the two steps `Composer\Semver\Comparator` performs.
//!
//! Written by hand: no maintained crate implements either step. Both are short and quirky, and the quirks
//! are the specification: normalization pads to four parts (`1.2` → `1.2.0.0`), strips `v` and build
//! metadata, expands stabilities (`b2` → `-beta2`, `pl3` → `-patch3`, `rc1` → `-RC1`); `version_compare`
//! then orders `dev` < `alpha` = `a` < `beta` = `b` < `RC` = `rc` < numbers < `patch` = `pl` = `p`.
//! The normalization regexes are Composer's own (composer/semver `VersionParser.php`, via the `regex`
//! crate); `version_compare` follows `ext/standard/versioning.c` in php-src, including its prefix matching
//! of special forms (`patch` counts as `p`) and its `strtol` saturation.
//!
//! Branch names (`dev-main`, `master`) are not versions here: they have no order against releases in an
//! advisory, so they fail to parse and take the fallback of [`compare`]. Numbered branches
//! (`1.x-dev` → `1.9999999.9999999.9999999-dev`) are versions, as in Composer.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::ecosystems::order_key::OrderKey;

/// Composer's `$modifierRegex`: an optional stability with its number, then an optional `dev`.
const MODIFIER: &str =
    r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?";

/// One of Composer's patterns, compiled on first use. PHP's PCRE runs them without the `u` flag, so
/// `\d`, `\s` and case folding are ASCII-only: the patterns say so (`(?-u)`, explicit classes), or
/// `\d` would take other scripts' digits (`߁`) and `(?i)s` the long s (`ſ`), which Composer rejects. The
/// patterns are constants (a test compiles them all); should one ever fail to compile, it matches nothing
/// instead of panicking.
type Pattern = LazyLock<Option<Regex>>;

fn captures<'a>(pattern: &Pattern, text: &'a str) -> Option<regex::Captures<'a>> {
    pattern.as_ref().and_then(|re| re.captures(text))
}

static CLASSICAL: Pattern = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i-u)^v?(\d{{1,5}})(\.\d+)?(\.\d+)?(\.\d+)?{MODIFIER}$"
    ))
    .ok()
});
static DATE_BASED: Pattern = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i-u)^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}}){{0,2}}){MODIFIER}$"
    ))
    .ok()
});
static ALIAS: Pattern =
    LazyLock::new(|| Regex::new(r"^([^,\t\n\x0B\x0C\r ]+) +as +([^,\t\n\x0B\x0C\r ]+)$").ok());
static STABILITY_FLAG: Pattern =
    LazyLock::new(|| Regex::new(r"(?i-u)@(?:stable|RC|beta|alpha|dev)$").ok());
static BUILD_METADATA: Pattern =
    LazyLock::new(|| Regex::new(r"^([^,\t\n\x0B\x0C\r +]+)\+[^\t\n\x0B\x0C\r ]+$").ok());
static DEV_SUFFIX: Pattern = LazyLock::new(|| Regex::new(r"^(.*?)[.-]?(?i-u:dev)$").ok());
static NUMBERED_BRANCH: Pattern = LazyLock::new(|| {
    Regex::new(r"(?i-u)^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$").ok()
});

/// A Composer package version, kept with its normalized form (`1.0.0.0-beta2`).
#[derive(Debug, Clone)]
pub struct ComposerVersion {
    original: String,
    normalized: String,
}

/// Why a string is not a Composer version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Composer version {input:?}: {reason}")]
pub struct InvalidComposerVersion {
    pub input: String,
    pub reason: &'static str,
}

impl ComposerVersion {
    /// Composer's normalized form, e.g. `1.0.0.0-RC1-dev`.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// `VersionParser::expandStability`.
fn expand_stability(stability: &str) -> String {
    match stability.to_ascii_lowercase().as_str() {
        "a" => "alpha".to_owned(),
        "b" => "beta".to_owned(),
        "p" | "pl" => "patch".to_owned(),
        "rc" => "RC".to_owned(),
        other => other.to_owned(),
    }
}

/// Appends the stability modifiers captured at `index` (Composer's `$index` logic); `None` means the
/// version is `stable` and ends here.
fn with_modifiers(mut version: String, captures: &regex::Captures<'_>, index: usize) -> String {
    let group = |i: usize| {
        captures
            .get(i)
            .map(|m| m.as_str())
            .filter(|s| !s.is_empty())
    };
    if let Some(stability) = group(index) {
        if stability == "stable" {
            return version;
        }
        version.push('-');
        version.push_str(&expand_stability(stability));
        if let Some(number) = group(index + 1) {
            version.push_str(number.trim_start_matches(['.', '-']));
        }
    }
    if group(index + 2).is_some() {
        version.push_str("-dev");
    }
    version
}

/// `VersionParser::normalize`, without branch names (see the module documentation).
fn normalize(input: &str) -> Result<String, &'static str> {
    // PHP's `trim`: these bytes only, not Unicode whitespace.
    let mut version = input.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B']);
    if let Some(alias) = captures(&ALIAS, version).and_then(|c| c.get(1)) {
        version = alias.as_str();
    }
    if let Some(flag) = captures(&STABILITY_FLAG, version).and_then(|c| c.get(0)) {
        version = version.get(..flag.start()).unwrap_or(version);
    }
    if matches!(version, "master" | "trunk" | "default")
        || version
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("dev-"))
    {
        return Err("a branch name is not a version");
    }
    if let Some(main) = captures(&BUILD_METADATA, version).and_then(|c| c.get(1)) {
        version = main.as_str();
    }
    if let Some(c) = captures(&CLASSICAL, version) {
        let part = |i: usize| c.get(i).map(|m| m.as_str()).filter(|s| !s.is_empty());
        let mut normalized = part(1).unwrap_or("0").to_owned();
        for i in 2..=4 {
            normalized.push_str(part(i).unwrap_or(".0"));
        }
        return Ok(with_modifiers(normalized, &c, 5));
    }
    if let Some(c) = captures(&DATE_BASED, version) {
        let date: String = c
            .get(1)
            .map(|m| m.as_str())
            .unwrap_or_default()
            .chars()
            .map(|ch| if ch.is_ascii_digit() { ch } else { '.' })
            .collect();
        return Ok(with_modifiers(date, &c, 2));
    }
    if let Some(branch) = captures(&DEV_SUFFIX, version).and_then(|c| c.get(1))
        && let Some(c) = captures(&NUMBERED_BRANCH, branch.as_str().trim())
    {
        let mut normalized = String::new();
        for i in 1..5 {
            match c.get(i) {
                Some(m) => normalized.push_str(&m.as_str().replace(['*', 'X'], "x")),
                None => normalized.push_str(".x"),
            }
        }
        return Ok(normalized.replace('x', "9999999") + "-dev");
    }
    Err("not a Composer version")
}

impl FromStr for ComposerVersion {
    type Err = InvalidComposerVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        normalize(s)
            .map(|normalized| ComposerVersion {
                original: s.to_owned(),
                normalized,
            })
            .map_err(|reason| InvalidComposerVersion {
                input: s.chars().take(80).collect(),
                reason,
            })
    }
}

impl fmt::Display for ComposerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl Ord for ComposerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        php_version_compare(self.normalized.as_bytes(), other.normalized.as_bytes())
    }
}

impl PartialOrd for ComposerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows the ordering (`1.0` == `v1.0.0`).
impl PartialEq for ComposerVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for ComposerVersion {}

/// Compares two Packagist versions as Composer does.
///
/// Fallback: a string Composer cannot normalize (including branch names) sorts before every version; two
/// such strings compare by their bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<ComposerVersion>(), b.parse::<ComposerVersion>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)), from Composer's
/// normalized form as `version_compare` reads it: its elements in order, each after a tag ranking it as
/// `version_compare` does where two versions first differ. A special form ranks by its name's prefix
/// (unknown words, `dev`, `alpha`/`a`, `beta`/`b`, `RC`/`rc`), then the end (the rest of a longer version
/// compares against `#`, rank 4, and a number element beats the end), then numbers by value (`strtol`'s,
/// saturating), then `patch`/`pl`/`p`. `None` for what Composer cannot normalize, where [`compare`] falls
/// back, and for forms normalization does not make (an empty element, a `#`).
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    const END: u8 = 0x06;
    const NUMBER: u8 = 0x07;
    let version = version.parse::<ComposerVersion>().ok()?;
    let normalized = version.normalized.as_bytes();
    if !normalized.first().is_some_and(|c| is_digit(*c)) || normalized.contains(&0) {
        return None;
    }
    let mut key = OrderKey::new();
    for element in php_canonicalize(normalized).split(|&c| c == b'.') {
        match element.first() {
            None => return None,
            Some(&c) if is_digit(c) => {
                key.tag(NUMBER);
                key.number(u64::try_from(strtol(element)).ok()?);
            }
            Some(_) => key.tag(match special_form_rank(element) {
                -1 => 0x01,
                0 => 0x02,
                1 => 0x03,
                2 => 0x04,
                3 => 0x05,
                5 => 0x08,
                _ => return None,
            }),
        }
    }
    key.tag(END);
    key.finish()
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn is_non_digit(c: u8) -> bool {
    !c.is_ascii_digit() && c != b'.'
}

/// `php_canonicalize_version`: `-`, `_`, `+` and other non-alphanumerics become `.`, a `.` goes between
/// digits and non-digits, and runs of dots collapse. The first byte is kept as is.
fn php_canonicalize(version: &[u8]) -> Vec<u8> {
    let Some((&first, rest)) = version.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(version.len() * 2);
    out.push(first);
    let mut previous = first;
    for &c in rest {
        let last_out = out.last().copied().unwrap_or(b'.');
        if matches!(c, b'-' | b'_' | b'+') {
            if last_out != b'.' {
                out.push(b'.');
            }
        } else if (is_non_digit(previous) && is_digit(c)) || (is_digit(previous) && is_non_digit(c))
        {
            if last_out != b'.' {
                out.push(b'.');
            }
            out.push(c);
        } else if !c.is_ascii_alphanumeric() {
            if last_out != b'.' {
                out.push(b'.');
            }
        } else {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// `compare_special_version_forms`: the rank of the first form whose name is a *prefix* of the element.
fn special_form_rank(element: &[u8]) -> i32 {
    const FORMS: [(&[u8], i32); 10] = [
        (b"dev", 0),
        (b"alpha", 1),
        (b"a", 1),
        (b"beta", 2),
        (b"b", 2),
        (b"RC", 3),
        (b"rc", 3),
        (b"#", 4),
        (b"pl", 5),
        (b"p", 5),
    ];
    FORMS
        .iter()
        .find(|(name, _)| element.starts_with(name))
        .map_or(-1, |(_, rank)| *rank)
}

/// C's `strtol` on a digit-led element: the leading digits, saturating at `LONG_MAX`.
fn strtol(element: &[u8]) -> i64 {
    element
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| {
            n.saturating_mul(10).saturating_add(i64::from(c - b'0'))
        })
}

const NUMBER_FORM: &[u8] = b"#N#";

/// PHP's `version_compare` (without operator). The C version recurses on the unmatched rest of the longer
/// version; this loops instead so hostile input cannot exhaust the stack.
fn php_version_compare(a: &[u8], b: &[u8]) -> Ordering {
    // C strings end at the first NUL.
    let until_nul = |s: &[u8]| {
        s.iter()
            .position(|&c| c == 0)
            .map_or(s, |i| s.get(..i).unwrap_or(s))
            .to_vec()
    };
    let mut left = until_nul(a);
    let mut right = until_nul(b);
    loop {
        if left.is_empty() || right.is_empty() {
            return left.len().min(1).cmp(&right.len().min(1));
        }
        let canonical = |s: Vec<u8>| {
            if s.first() == Some(&b'#') {
                s
            } else {
                php_canonicalize(&s)
            }
        };
        let v1 = canonical(std::mem::take(&mut left));
        let v2 = canonical(std::mem::take(&mut right));
        let (mut p1, mut p2) = (0usize, 0usize);
        let (mut n1, mut n2) = (Some(0usize), Some(0usize));
        let mut order = Ordering::Equal;
        while p1 < v1.len() && p2 < v2.len() && n1.is_some() && n2.is_some() {
            n1 = v1
                .get(p1..)
                .and_then(|s| s.iter().position(|&c| c == b'.'))
                .map(|i| p1 + i);
            n2 = v2
                .get(p2..)
                .and_then(|s| s.iter().position(|&c| c == b'.'))
                .map(|i| p2 + i);
            let e1 = v1.get(p1..n1.unwrap_or(v1.len())).unwrap_or_default();
            let e2 = v2.get(p2..n2.unwrap_or(v2.len())).unwrap_or_default();
            let d1 = e1.first().copied().is_some_and(is_digit);
            let d2 = e2.first().copied().is_some_and(is_digit);
            order = match (d1, d2) {
                (true, true) => strtol(e1).cmp(&strtol(e2)),
                (false, false) => special_form_rank(e1).cmp(&special_form_rank(e2)),
                (true, false) => special_form_rank(NUMBER_FORM).cmp(&special_form_rank(e2)),
                (false, true) => special_form_rank(e1).cmp(&special_form_rank(NUMBER_FORM)),
            };
            if order != Ordering::Equal {
                break;
            }
            if let Some(n) = n1 {
                p1 = n + 1;
            }
            if let Some(n) = n2 {
                p2 = n + 1;
            }
        }
        if order != Ordering::Equal {
            return order;
        }
        if n1.is_some() {
            let rest = v1.get(p1..).unwrap_or_default();
            if rest.first().copied().is_some_and(is_digit) {
                return Ordering::Greater;
            }
            left = rest.to_vec();
            right = NUMBER_FORM.to_vec();
        } else if n2.is_some() {
            let rest = v2.get(p2..).unwrap_or_default();
            if rest.first().copied().is_some_and(is_digit) {
                return Ordering::Less;
            }
            left = NUMBER_FORM.to_vec();
            right = rest.to_vec();
        } else {
            return Ordering::Equal;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystems::python::version::reference_tool;
    use proptest::prelude::*;

    #[test]
    fn composer_patterns_compile() {
        for pattern in [
            &CLASSICAL,
            &DATE_BASED,
            &ALIAS,
            &STABILITY_FLAG,
            &BUILD_METADATA,
            &DEV_SUFFIX,
            &NUMBERED_BRANCH,
        ] {
            assert!(pattern.is_some());
        }
    }

    /// `successfulNormalizedVersions` from composer/semver `tests/VersionParserTest.php`
    /// (@ 00a557826f35b96e65f261d0f8308c4e0dcf3ecd, MIT, (c) Composer), minus branch names.
    #[test]
    fn normalizes_like_composer() {
        for (input, expected) in [
            ("1.0.0", "1.0.0.0"),
            ("1.2.3.4", "1.2.3.4"),
            ("1.0.0RC1dev", "1.0.0.0-RC1-dev"),
            ("1.0.0-rC15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0.RC.15-dev", "1.0.0.0-RC15-dev"),
            ("1.0.0-rc1", "1.0.0.0-RC1"),
            ("1.0.0.pl3-dev", "1.0.0.0-patch3-dev"),
            ("1.0-dev", "1.0.0.0-dev"),
            ("0", "0.0.0.0"),
            ("10.4.13-beta", "10.4.13.0-beta"),
            ("10.4.13beta2", "10.4.13.0-beta2"),
            ("10.4.13beta.2", "10.4.13.0-beta2"),
            ("10.4.13-b", "10.4.13.0-beta"),
            ("10.4.13-b5", "10.4.13.0-beta5"),
            ("v1.0.0", "1.0.0.0"),
            ("2010.01", "2010.01.0.0"),
            ("2010.01.02", "2010.01.02.0"),
            ("2010.1.555", "2010.1.555.0"),
            ("2010.10.200", "2010.10.200.0"),
            ("v20100102", "20100102"),
            ("2010-01-02", "2010.01.02"),
            ("2010-01-02.5", "2010.01.02.5"),
            ("20100102-203040", "20100102.203040"),
            ("20150920.0.0", "20150920.0.0"),
            ("20100102203040-10", "20100102203040.10"),
            ("20100102-203040-p1", "20100102.203040-patch1"),
            ("1.x-dev", "1.9999999.9999999.9999999-dev"),
            ("1.0.0-beta.5+foo", "1.0.0.0-beta5"),
            ("1.0.0+foo", "1.0.0.0"),
            ("1.0.0-alpha.3.1+foo", "1.0.0.0-alpha3.1"),
            ("1.0.0-alpha2.1+foo", "1.0.0.0-alpha2.1"),
            ("1.0.0-alpha-2.1-3+foo", "1.0.0.0-alpha2.1-3"),
            ("1.0.0+foo as 2.0", "1.0.0.0"),
        ] {
            let version: ComposerVersion = input.parse().unwrap();
            assert_eq!(version.normalized(), expected, "{input}");
        }
    }

    /// `failingNormalizedVersions` from the same file, plus the branch names rejected here on purpose.
    #[test]
    fn rejects_what_composer_rejects() {
        for bad in [
            "",
            "a",
            "1.0.0-meh",
            "1.0.0.0.0",
            "feature-foo",
            "1.0.0+foo bar",
            "dev-master",
            "master",
            "DEV-FOOBAR",
        ] {
            assert!(bad.parse::<ComposerVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, "0.0.1"), Ordering::Less, "{bad:?}");
        }
        let _ = compare(&"9".repeat(10_000), "1.0.0");
        let _ = php_version_compare(&b"#.".repeat(2_000), b"1");
    }

    /// PCRE without `u`: only ASCII digits, whitespace and case folding count (found by the fuzzer: with
    /// Unicode `\d` the NKo digit `߁` made `0666664-߁` a date-based version whose normalized form,
    /// `0666664..`, PHP's `version_compare` orders before itself). Such strings are not versions, so they
    /// take the byte-order fallback, which is reflexive.
    #[test]
    fn only_ascii_counts_as_digits_space_and_letters() {
        for bad in [
            "0666664-߁",
            "1.߁",
            "߁",
            "1.0-ſtable",
            "1.0@ſtable",
            "1.0-K1",
        ] {
            assert!(bad.parse::<ComposerVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, bad), Ordering::Equal, "{bad:?}");
        }
        // Composer's own ASCII forms still normalize; PHP's `trim` takes no Unicode space.
        assert_eq!(
            "V1.0-Beta2"
                .parse::<ComposerVersion>()
                .map(|v| v.normalized().to_owned()),
            Ok("1.0.0.0-beta2".to_owned())
        );
        assert_eq!(
            "1.0.0+b\u{e4}d"
                .parse::<ComposerVersion>()
                .map(|v| v.normalized().to_owned()),
            Ok("1.0.0.0".to_owned())
        );
        assert!("\u{a0}1.0".parse::<ComposerVersion>().is_err());
        assert_eq!(compare(" 1.0\t", "1.0.0"), Ordering::Equal);
    }

    #[test]
    fn orders_stabilities_like_composer() {
        let ordered = [
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-alpha2",
            "1.0.0-beta",
            "1.0.0-b2",
            "1.0.0-RC1",
            "1.0.0",
            "1.0.0-patch1",
            "1.0.0.1",
            "1.0.1",
            "v1.1",
            "1.10.0",
            "1.x-dev",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        assert_eq!(compare("1.0", "v1.0.0"), Ordering::Equal);
        assert_eq!(compare("1.0.0-rc1", "1.0.0-RC1"), Ordering::Equal);
        assert_eq!(compare("1.0.0+build", "1.0.0"), Ordering::Equal);
    }

    /// Examples from PHP's `version_compare` documentation and php-src tests.
    #[test]
    fn php_version_compare_examples() {
        let cmp = |a: &str, b: &str| php_version_compare(a.as_bytes(), b.as_bytes());
        assert_eq!(cmp("5.2", "5.2.0"), Ordering::Less);
        assert_eq!(cmp("1.0rc1", "1.0"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0.0"), Ordering::Less);
        assert_eq!(cmp("1.0pl1", "1.0"), Ordering::Greater);
        assert_eq!(cmp("1.0-dev", "1.0a1"), Ordering::Less);
        assert_eq!(cmp("1.0a1", "1.0b1"), Ordering::Less);
        assert_eq!(cmp("1.0RC1", "1.0rc1"), Ordering::Equal);
        assert_eq!(cmp("1.0", "1.0-foo"), Ordering::Greater);
        assert_eq!(cmp("", "1"), Ordering::Less);
        assert_eq!(cmp("", ""), Ordering::Equal);
    }

    fn php_like() -> impl Strategy<Value = String> {
        let element = prop_oneof![
            5 => (0u64..15).prop_map(|n| n.to_string()),
            1 => Just("99999999999999999999".to_owned()),
            4 => prop::sample::select(vec![
                "dev", "alpha", "a", "beta", "b", "RC", "rc", "pl", "p", "patch", "stable", "foo", "#", "x",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(
            (
                element,
                prop::sample::select(vec![".", "-", "_", "+", "", "..", " "]),
            ),
            1..6,
        )
        .prop_map(|parts| {
            let mut s = String::new();
            for (element, separator) in parts {
                s.push_str(&element);
                s.push_str(separator);
            }
            s
        })
    }

    /// Checks thousands of generated pairs against PHP's own `version_compare` in one `php` process. (Composer's
    /// normalization itself is a PHP library not installed here; it is covered by Composer's vectors above.)
    #[test]
    fn agrees_with_php_version_compare() {
        let pairs = reference_tool::generate((php_like(), php_like()), 4000);
        let script = r#"
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"), 2);
    echo version_compare($a, $b), "\n";
}
"#;
        let verdicts = reference_tool::run_pairs(
            std::path::Path::new("php"),
            &["-r", script],
            &pairs,
            "install the PHP command line (`apt-get install -y php-cli`)",
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1"]);
        let failures: Vec<String> = pairs
            .iter()
            .zip(&verdicts)
            .filter_map(|((a, b), verdict)| {
                let ours = (php_version_compare(a.as_bytes(), b.as_bytes()) as i8).to_string();
                (&ours != verdict).then(|| format!("{a:?} vs {b:?}: ours {ours}, PHP {verdict}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// Versions as Composer users write them, so that most normalize.
    fn composer_like() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            8 => (0u64..12).prop_map(|n| n.to_string()),
            1 => Just("99999999999999999999".to_owned()),
            1 => Just("20230101".to_owned()),
        ];
        (
            prop::sample::select(vec!["", "", "v"]),
            prop::collection::vec(number, 1..5),
            prop::option::of((
                prop::sample::select(vec!["-", "", "."]),
                prop::sample::select(vec![
                    "alpha", "a", "beta", "b", "RC", "rc", "patch", "pl", "p", "dev", "stable",
                ]),
                prop::option::of(0u64..4),
            )),
            prop::sample::select(vec!["", "", "-dev", "+build"]),
        )
            .prop_map(|(prefix, numbers, stability, suffix)| {
                let mut s = format!("{prefix}{}", numbers.join("."));
                if let Some((separator, name, n)) = stability {
                    s.push_str(separator);
                    s.push_str(name);
                    if let Some(n) = n {
                        s.push_str(&n.to_string());
                    }
                }
                s.push_str(suffix);
                s
            })
    }

    /// [`order_key`] against [`compare`] (itself checked against PHP and Composer's vectors above): same
    /// order, equal keys exactly for equal versions, no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (composer_like(), composer_like()),
                2 => (composer_like(), prop::sample::select(vec![".0", "-beta", "-patch1", "-dev", "1", "-RC"]))
                    .prop_map(|(a, tail)| (a.clone(), format!("{a}{tail}"))),
                1 => (composer_like(), php_like()),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            order_key,
            compare,
            |v| v.parse::<ComposerVersion>().is_ok(),
            1000,
        );
    }
}
