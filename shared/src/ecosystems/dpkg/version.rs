//! Debian package versions (`[epoch:]upstream[-revision]`) and dpkg's ordering of them.
//!
//! Written by hand rather than taken from the `debversion` crate: `debversion` 0.5 orders an empty digit run
//! below `0` (it says `1a < 1a0`, dpkg says they are equal), rejects `_` and other characters that dpkg only
//! warns about (so it cannot compare every version dpkg compares), and pulls in regex, bignum and chrono for
//! what is, in dpkg, forty lines of C (`lib/dpkg/version.c` `verrevcmp`, `lib/dpkg/parsehelp.c`
//! `parseversion`). This module follows dpkg 1.21 line for line and is property-tested against
//! `dpkg --compare-versions`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A parsed Debian version. Equality and ordering are dpkg's: `1.0`, `0:1.0` and `1.0-0` are equal.
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    /// The epoch, `0` when the version has none.
    pub epoch: u32,
    /// The upstream part, between the epoch's colon and the last hyphen.
    pub upstream: String,
    /// The Debian revision after the last hyphen, empty when there is none.
    pub revision: String,
}

/// Why a string is not a version dpkg accepts. These are dpkg's hard errors; what dpkg only warns about
/// (an upstream part not starting with a digit, characters outside Debian policy) is accepted, because
/// dpkg compares such versions too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpkgVersionError {
    #[error("version string is empty")]
    Empty,
    #[error("version string has embedded spaces")]
    EmbeddedSpace,
    #[error("version string contains a NUL byte")]
    Nul,
    #[error("epoch in version is empty")]
    EpochEmpty,
    #[error("epoch in version is not number")]
    EpochNotNumber,
    #[error("epoch in version is negative")]
    EpochNegative,
    #[error("epoch in version is too big")]
    EpochTooBig,
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    #[error("revision number is empty")]
    RevisionEmpty,
    #[error("version number is empty")]
    UpstreamEmpty,
}

/// dpkg's `c_isblank`: the only whitespace `parseversion` trims.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// C `isspace`, which `strtol` skips before the epoch's digits.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parses the epoch the way dpkg's `strtol(…, 10)` + checks do: optional C whitespace, optional sign, digits.
fn parse_epoch(text: &str) -> Result<u32, DpkgVersionError> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    while bytes.get(pos).is_some_and(|b| is_c_space(*b)) {
        pos += 1;
    }
    let negative = match bytes.get(pos) {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    let digits = bytes.get(pos..).unwrap_or_default();
    let digit_count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if digit_count == 0 {
        // strtol converted nothing: its end pointer is the start of the string.
        return Err(DpkgVersionError::EpochEmpty);
    }
    if digit_count != digits.len() {
        return Err(DpkgVersionError::EpochNotNumber);
    }
    // Accumulate saturating: anything over i32::MAX is "too big" (or "negative" when signed and non-zero).
    let value = digits.iter().fold(0u64, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(d.saturating_sub(b'0')))
    });
    if negative && value != 0 {
        return Err(DpkgVersionError::EpochNegative);
    }
    if value > i32::MAX as u64 {
        return Err(DpkgVersionError::EpochTooBig);
    }
    u32::try_from(value).map_err(|_| DpkgVersionError::EpochTooBig)
}

impl FromStr for DpkgVersion {
    type Err = DpkgVersionError;

    /// dpkg's `parseversion`: trims blanks, splits the epoch at the first `:` and the revision at the last `-`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (epoch, upstream, revision) = parse_parts(s)?;
        Ok(DpkgVersion {
            epoch,
            upstream: upstream.to_owned(),
            revision: revision.to_owned(),
        })
    }
}

/// [`DpkgVersion::from_str`] without allocating: the epoch and slices of `s` (the matcher compares
/// thousands of versions per report).
fn parse_parts(s: &str) -> Result<(u32, &str, &str), DpkgVersionError> {
    if s.as_bytes().contains(&0) {
        // dpkg reads C strings and would silently stop at the NUL; refuse instead of guessing.
        return Err(DpkgVersionError::Nul);
    }
    let trimmed = s.trim_matches(|c: char| c == ' ' || c == '\t');
    if trimmed.is_empty() {
        return Err(DpkgVersionError::Empty);
    }
    if trimmed.bytes().any(is_blank) {
        return Err(DpkgVersionError::EmbeddedSpace);
    }
    let (epoch, rest) = match trimmed.split_once(':') {
        Some((epoch_text, rest)) => {
            let epoch = parse_epoch(epoch_text)?;
            if rest.is_empty() {
                return Err(DpkgVersionError::NothingAfterColon);
            }
            (epoch, rest)
        }
        None => (0, trimmed),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(DpkgVersionError::RevisionEmpty),
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(DpkgVersionError::UpstreamEmpty);
    }
    Ok((epoch, upstream, revision))
}

impl fmt::Display for DpkgVersion {
    /// dpkg's "non-ambiguous" form: the epoch is written when non-zero or when the rest contains a `:`
    /// (so the text parses back to the same version); the revision when non-empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 || self.upstream.contains(':') || self.revision.contains(':') {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

/// dpkg's character weight: `~` sorts before the end of a part, the end before letters, letters before
/// everything else. Bytes of 0x80 and above weigh as on dpkg built with a signed `char` (amd64, i386: the
/// byte's own value, between letters and ASCII punctuation); dpkg on unsigned-`char` platforms differs there.
fn order(byte: Option<u8>) -> i32 {
    match byte {
        None => 0,
        Some(b) if b.is_ascii_digit() => 0,
        Some(b) if b.is_ascii_alphabetic() => i32::from(b),
        Some(b'~') => -1,
        Some(b) if b >= 0x80 => i32::from(b),
        Some(b) => i32::from(b) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit runs (compared by [`order`]) and digit runs (compared as
/// arbitrarily long numbers, leading zeros ignored).
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    let is_digit_at = |s: &[u8], k: usize| s.get(k).is_some_and(|c| c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while (i < a.len() && !is_digit_at(a, i)) || (j < b.len() && !is_digit_at(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while is_digit_at(a, i) && is_digit_at(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a.get(i).cmp(&b.get(j));
            }
            i += 1;
            j += 1;
        }
        if is_digit_at(a, i) {
            return Ordering::Greater;
        }
        if is_digit_at(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// dpkg's ordering of parsed versions (epoch, upstream, revision).
fn compare_parsed(a: (u32, &str, &str), b: (u32, &str, &str)) -> Ordering {
    a.0.cmp(&b.0)
        .then_with(|| compare_part(a.1, b.1))
        .then_with(|| compare_part(a.2, b.2))
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_parsed(
            (self.epoch, &self.upstream, &self.revision),
            (other.epoch, &other.upstream, &other.revision),
        )
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DpkgVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DpkgVersion {}

/// Compares two version strings under dpkg's rules. Total and panic-free on any input.
///
/// Fallback for strings dpkg refuses (empty, embedded spaces, bad epoch, empty revision, …): an invalid
/// version sorts **before** every valid one, and two invalid ones compare by their bytes. Sorting garbage
/// low means an unparsable installed version is reported as older than a fix (a visible false positive)
/// rather than silently passing as fixed; it also agrees with `dpkg --compare-versions`, which treats an
/// empty version as older than any other.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse_parts(a), parse_parts(b)) {
        (Ok(a), Ok(b)) => compare_parsed(a, b),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// A byte string whose order (bytewise, shorter first on a common prefix: PostgreSQL's `bytea` order) is
/// dpkg's order of the versions: `compare(a, b) == order_key(a).cmp(&order_key(b))` for every two
/// versions dpkg accepts, equal keys exactly for equal versions. `None` for a version dpkg refuses. Lets the
/// database compare versions: the matcher's candidate query skips records fixed at or below the installed
/// version (`matcher::store::CANDIDATES`). Written here because no crate encodes dpkg versions this way.
///
/// The layout, part by part:
/// - the epoch, 4 bytes big-endian (it is at most `i32::MAX`, so a key's first byte is below `0x80`);
/// - upstream, then revision, each as [`compare_part`] reads it: pairs of a non-digit run and a number, a
///   part's end standing for endless empty pairs. A non-digit run is its characters, each one byte ranked
///   as [`order`] ranks it, then [`RUN_END`]; a number is its significant digits' count, then the digits
///   ([`push_number`]). Pairs that are nothing but the end's padding (an empty run and zero) are dropped
///   from the part's end, and the end is written as [`PART_END`], which compares against any pair that
///   can follow as the padding does, so the bytes after it only count between equal parts.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    let (epoch, upstream, revision) = parse_parts(version).ok()?;
    let mut key = Vec::with_capacity(4 + 2 * (upstream.len() + revision.len()) + 6);
    key.extend_from_slice(&epoch.to_be_bytes());
    push_part(&mut key, upstream)?;
    push_part(&mut key, revision)?;
    Some(key)
}

/// Ends a non-digit run: ranks between `~` (which sorts before a run's end) and every other character.
const RUN_END: u8 = 0x02;
/// Ends a part: the padding's pair (an empty run, then zero: `RUN_END`, a count of 0 written as 1) and then
/// `RUN_END` again, for the empty run after it. Whatever pair follows in the other key, these bytes differ
/// from it where the padding would compare differently, and the first pair of a part, the only one that
/// can be an empty run and zero, is followed by a non-empty run, whose first byte is never `RUN_END`.
const PART_END: [u8; 3] = [RUN_END, 0x01, RUN_END];

/// A character's byte in a non-digit run, in [`order`]'s ranking: `~` 0x01, (the run's end 0x02), letters
/// 0x03–0x36, bytes 0x80–0xFF 0x37–0xB6, other ASCII by its code from 0xB7. Digits never appear in a run.
fn rank(byte: u8) -> u8 {
    match byte {
        b'~' => 0x01,
        b'A'..=b'Z' => 0x03 + (byte - b'A'),
        b'a'..=b'z' => 0x1D + (byte - b'a'),
        0x80..=0xFF => 0x37 + (byte - 0x80),
        // The other 65 ASCII codes (0x00–0x7F less digits, letters and `~`), in code order.
        _ => {
            let below = |limit: u8| byte.min(limit);
            let skipped = below(b'9' + 1).saturating_sub(b'0')
                + below(b'Z' + 1).saturating_sub(b'A')
                + below(b'z' + 1).saturating_sub(b'a');
            0xB7 + (byte - skipped)
        }
    }
}

/// Appends a part (upstream or revision) as [`order_key`] lays it out.
fn push_part(key: &mut Vec<u8>, part: &str) -> Option<()> {
    let bytes = part.as_bytes();
    // Only a part of zeros (or an empty one) is all padding: any other part's last pair has a non-empty
    // run or a number other than zero (a part's first pair is the only one whose run can be empty).
    let end = if bytes.iter().all(|b| *b == b'0') {
        0
    } else {
        bytes.len()
    };
    let mut i = 0;
    while i < end {
        let run = bytes[i..end]
            .iter()
            .take_while(|b| !b.is_ascii_digit())
            .count();
        key.extend(bytes[i..i + run].iter().map(|b| rank(*b)));
        key.push(RUN_END);
        i += run;
        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        push_number(key, &bytes[i..i + digits])?;
        i += digits;
    }
    key.extend_from_slice(&PART_END);
    Some(())
}

/// Appends a digit run as a number: the count of its significant digits plus one (one byte up to 253
/// digits; `0xFF` and the count as 4 bytes big-endian beyond), then those digits. A longer number is the
/// larger one; equal lengths compare digit by digit.
fn push_number(key: &mut Vec<u8>, digits: &[u8]) -> Option<()> {
    let significant = &digits[digits.iter().take_while(|d| **d == b'0').count()..];
    match u8::try_from(significant.len() + 1) {
        Ok(count) if count < 0xFF => key.push(count),
        _ => {
            key.push(0xFF);
            key.extend_from_slice(&u32::try_from(significant.len()).ok()?.to_be_bytes());
        }
    }
    key.extend_from_slice(significant);
    Some(())
}

/// The canonical text of a version as feeds should store it: dpkg's non-ambiguous form, so `0:1.2-3` (OVAL
/// writes every epoch) becomes `1.2-3`, the way dpkg and the package database print it. `None` when dpkg
/// would reject the string.
pub fn canonical(version: &str) -> Option<String> {
    version.parse::<DpkgVersion>().ok().map(|v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DpkgVersion {
        s.parse().unwrap()
    }

    #[test]
    fn parses_epoch_upstream_revision() {
        let parsed = v("1:2.36-9+deb12u4");
        assert_eq!(parsed.epoch, 1);
        assert_eq!(parsed.upstream, "2.36");
        assert_eq!(parsed.revision, "9+deb12u4");
        // The revision starts after the LAST hyphen; the epoch ends at the FIRST colon.
        let parsed = v("2:1.2-3-4:5-6");
        assert_eq!(parsed.epoch, 2);
        assert_eq!(parsed.upstream, "1.2-3-4:5");
        assert_eq!(parsed.revision, "6");
        let parsed = v("  7.88.1  ");
        assert_eq!(
            (
                parsed.epoch,
                parsed.upstream.as_str(),
                parsed.revision.as_str()
            ),
            (0, "7.88.1", "")
        );
    }

    #[test]
    fn display_is_non_ambiguous_and_round_trips() {
        assert_eq!(v("0:1.0-1").to_string(), "1.0-1");
        assert_eq!(v("3:1.0").to_string(), "3:1.0");
        // An upstream with a colon keeps its explicit epoch, or it would re-parse differently.
        assert_eq!(v("0:1:2-3").to_string(), "0:1:2-3");
        for s in [
            "1.0",
            "1:1.0~rc1-2",
            "0:1:2-3",
            "2.0+dfsg-1~bpo12+1",
            "1.0-a-b",
        ] {
            assert_eq!(v(&v(s).to_string()).to_string(), v(s).to_string());
        }
    }

    #[test]
    fn hard_errors_match_dpkg() {
        // Each message is dpkg 1.21's for the same input (see `dpkg --compare-versions`).
        let cases = [
            ("", DpkgVersionError::Empty),
            ("   ", DpkgVersionError::Empty),
            ("1 2", DpkgVersionError::EmbeddedSpace),
            (":1", DpkgVersionError::EpochEmpty),
            ("a:1", DpkgVersionError::EpochEmpty),
            ("1a:1", DpkgVersionError::EpochNotNumber),
            ("-1:1", DpkgVersionError::EpochNegative),
            ("99999999999:1", DpkgVersionError::EpochTooBig),
            ("2147483648:1", DpkgVersionError::EpochTooBig),
            ("1:", DpkgVersionError::NothingAfterColon),
            ("1.0-", DpkgVersionError::RevisionEmpty),
            ("-1", DpkgVersionError::UpstreamEmpty),
            ("1:-1", DpkgVersionError::UpstreamEmpty),
            ("1\u{0}2", DpkgVersionError::Nul),
        ];
        for (input, expected) in cases {
            assert_eq!(
                input.parse::<DpkgVersion>().unwrap_err(),
                expected,
                "{input:?}"
            );
        }
        // Accepted by dpkg with only a warning, so accepted here.
        assert_eq!(v("2147483647:1").epoch, 2_147_483_647);
        assert_eq!(v("+3:1").epoch, 3);
        assert_eq!(v("-0:1").epoch, 0);
        assert_eq!(v("a").upstream, "a");
        assert_eq!(v("1_0").upstream, "1_0");
    }

    #[test]
    fn orders_like_dpkg() {
        use Ordering::*;
        // Expected values checked with `dpkg --compare-versions` 1.21.22.
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0-0", Equal),
            ("0:1.0", "1.0", Equal),
            ("1.0", "1.00", Equal),
            ("1a", "1a0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0+b1", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0.1", Less),
            ("1:0.1", "2.0", Greater),
            ("2.36-9+deb12u3", "2.36-9+deb12u4", Less),
            ("2.36-9+deb12u10", "2.36-9+deb12u4", Greater),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("1.2.3-1ubuntu0.22.04.1", "1.2.3-1ubuntu0.22.04.2", Less),
            ("1.0-1", "1.0-1~bpo1", Greater),
            ("10", "9", Greater),
            ("000000000000000000000000000000001", "1", Equal),
            (
                "1.99999999999999999999999",
                "1.100000000000000000000000",
                Less,
            ),
            ("a", "b", Less),
            ("1-Z", "1-a", Less),
            ("1.0-1", "1.0.0-1", Less),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn order_keys_sort_as_dpkg_does() {
        // Pairs where a naive key goes wrong: padding (`1a` = `1a0`, `1.0` = `1.0-0`), `~` below a part's
        // end, leading zeros, numbers longer than a byte's count, a part that is only zeros.
        let cases = [
            ("1.0", "1.0-0", Ordering::Equal),
            ("1a", "1a0", Ordering::Equal),
            ("1.", "1.0", Ordering::Equal),
            ("0:1.0-00", "1.00", Ordering::Equal),
            ("1.0", "1.0~rc1", Ordering::Greater),
            ("1.0-1", "1.0-0~1", Ordering::Greater),
            ("1.0-1", "1.0-0.1", Ordering::Greater),
            ("1.0", "1.0-0.1", Ordering::Less),
            ("1.0", "1.0-0~1", Ordering::Greater),
            ("1.0-a", "1.0-0a", Ordering::Greater),
            ("1.0", "1.0.0", Ordering::Less),
            ("1:0", "2147483647:0", Ordering::Less),
            ("1-Z", "1-a", Ordering::Less),
            ("1+", "1a", Ordering::Greater),
            ("1\u{e9}", "1z", Ordering::Greater),
            ("1\u{e9}", "1+", Ordering::Less),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Ordering::Less),
        ];
        let long = format!("1.{}", "9".repeat(300));
        let longer = format!("1.1{}", "0".repeat(300));
        let cases = cases
            .iter()
            .map(|(a, b, o)| (a.to_string(), b.to_string(), *o))
            .chain([
                (long.clone(), longer, Ordering::Less),
                (long, "1.10".to_owned(), Ordering::Greater),
            ]);
        for (a, b, expected) in cases {
            assert_eq!(compare(&a, &b), expected, "compare {a} vs {b}");
            let (ka, kb) = (order_key(&a).unwrap(), order_key(&b).unwrap());
            assert_eq!(
                ka.cmp(&kb),
                expected,
                "keys of {a} and {b}: {ka:02x?} vs {kb:02x?}"
            );
        }
        assert_eq!(order_key("1.0-"), None);
        assert_eq!(order_key(""), None);
    }

    #[test]
    fn canonical_drops_a_zero_epoch_only() {
        assert_eq!(canonical("0:2.2-1").as_deref(), Some("2.2-1"));
        assert_eq!(canonical("1:3.9p1-1").as_deref(), Some("1:3.9p1-1"));
        assert_eq!(canonical(" 0:0 ").as_deref(), Some("0"));
        assert_eq!(canonical("0:1:2").as_deref(), Some("0:1:2"));
        assert_eq!(canonical("1.0-"), None);
    }

    #[test]
    fn invalid_versions_sort_first_and_deterministically() {
        // Regression cases from the dpkg property test: dpkg calls an empty version "none", older than all.
        assert_eq!(compare("", "0"), Ordering::Less);
        assert_eq!(compare("", "~"), Ordering::Less);
        assert_eq!(compare("", ""), Ordering::Equal);
        assert_eq!(compare("1.0-", "0~"), Ordering::Less);
        assert_eq!(compare("0~", "1:"), Ordering::Greater);
        assert_eq!(compare("1 2", "1 3"), Ordering::Less);
        assert_eq!(compare("1 2", "1 2"), Ordering::Equal);
        let huge = "9".repeat(1_000_000);
        assert_eq!(compare(&huge, &format!("{huge}0")), Ordering::Less);
        assert_eq!(compare(&format!("{huge}:1"), "1"), Ordering::Less);
    }
}

/// Property test against the reference: dpkg itself. Every generated pair goes through ONE `sh` process that
/// loops over `dpkg --compare-versions`, so the cost is one fork per dpkg call, not per test case.
#[cfg(test)]
mod dpkg_reference_tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    use super::*;

    /// How many pairs go to dpkg; at ~5 ms per dpkg call on the shared 2-core machine this is ~15 s.
    const PAIRS: usize = 2500;

    /// Reads `a|b` lines (a non-blank separator, so empty versions survive `read`), prints `lt`, `eq`, `gt`, or `err` when dpkg rejects either version.
    const SCRIPT: &str = r#"while IFS='|' read -r a b; do
  dpkg --compare-versions "$a" lt "$b" 2>/dev/null
  rc=$?
  if [ $rc -eq 0 ]; then echo lt
  elif [ $rc -ne 1 ]; then echo err
  elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo eq
  else echo gt
  fi
done
"#;

    /// Versions shaped like the archive's: epochs, `~` pre-releases, `+` suffixes, `.`-separated numbers,
    /// letters, multi-hyphen upstreams, Ubuntu/Debian security revisions. Small alphabets make equal and
    /// nearly-equal pairs common, which is where comparators go wrong.
    fn realistic_version() -> impl Strategy<Value = String> {
        let narrow = proptest::string::string_regex(
            "([0-2]:)?[0-9]{1,2}([.+~a-c][0-9]{0,2}){0,3}(-[0-9]{1,2}([.+~a-z][0-9]{0,2}){0,2})?",
        );
        let archive = proptest::string::string_regex(
            "([0-9]{1,2}:)?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}(~(rc|beta|alpha|dfsg|pre)[0-9]?|\\+(dfsg|ds|git20[0-9]{6}|really[0-9.]{1,4}))?(-[0-9]{1,2}(ubuntu[0-9](\\.[0-9]{2}\\.[0-9]{2}\\.[0-9])?|\\+deb1[0-3]u[0-9]{1,2}|~deb1[0-3]u[0-9]|\\+b[0-9]|build[0-9])?)?",
        );
        let wide = proptest::string::string_regex(
            "([0-9]{1,3}:)?[0-9a-zA-Z][0-9a-zA-Z.+~_]{0,8}(-[0-9a-zA-Z.+~-]{1,6})?",
        );
        let odd = proptest::string::string_regex("[0-9:~.+a-z-]{0,6}");
        match (narrow, archive, wide, odd) {
            (Ok(narrow), Ok(archive), Ok(wide), Ok(odd)) => {
                proptest::prop_oneof![4 => narrow, 3 => archive, 2 => wide, 1 => odd]
                    // A leading `-` would be read by dpkg as an option, not a version.
                    .prop_filter("dpkg would take it for an option", |s| !s.starts_with('-'))
            }
            _ => panic!("invalid generator regex"),
        }
    }

    fn pairs(count: usize) -> Vec<(String, String)> {
        let mut runner = TestRunner::deterministic();
        let pair = (realistic_version(), realistic_version()).prop_flat_map(|(a, b)| {
            // Half the time compare against a small edit of `a`, so near-misses are frequent.
            let a2 = a.clone();
            proptest::prop_oneof![
                proptest::strategy::Just((a.clone(), b)),
                (
                    0..=a2.len(),
                    proptest::sample::select(vec!["~", "+", ".", "0", "1", "a", "-1", ":"])
                )
                    .prop_map(move |(at, insert)| {
                        let mut edited = a2.clone();
                        if edited.is_char_boundary(at) {
                            edited.insert_str(at, insert);
                        }
                        (a2.clone(), edited)
                    }),
            ]
        });
        (0..count)
            .map(|_| pair.new_tree(&mut runner).unwrap().current())
            .filter(|(a, b)| !a.starts_with('-') && !b.starts_with('-'))
            .collect()
    }

    fn dpkg_verdicts(pairs: &[(String, String)]) -> Vec<String> {
        let found = Command::new("dpkg").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "the dpkg reference test needs `dpkg` on PATH: apt-get install -y dpkg"
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = String::new();
        for (a, b) in pairs {
            input.push_str(a);
            input.push('|');
            input.push_str(b);
            input.push('\n');
        }
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn compare_agrees_with_dpkg_compare_versions() {
        let pairs = pairs(PAIRS);
        let started = std::time::Instant::now();
        let verdicts = dpkg_verdicts(&pairs);
        eprintln!(
            "dpkg compared {} pairs in {:?}",
            pairs.len(),
            started.elapsed()
        );
        assert_eq!(
            verdicts.len(),
            pairs.len(),
            "dpkg printed one line per pair"
        );
        let mut mismatches = Vec::new();
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for ((a, b), verdict) in pairs.iter().zip(&verdicts) {
            *counts.entry(verdict.as_str()).or_default() += 1;
            // dpkg fails on a non-empty string it cannot parse; an empty one is "no version", older than
            // any other, which is what `compare`'s invalid-first fallback gives.
            let rejected = |s: &str| !s.is_empty() && s.parse::<DpkgVersion>().is_err();
            let ours = if rejected(a) || rejected(b) {
                "err"
            } else {
                match compare(a, b) {
                    Ordering::Less => "lt",
                    Ordering::Equal => "eq",
                    Ordering::Greater => "gt",
                }
            };
            if ours != verdict {
                mismatches.push(format!("{a:?} vs {b:?}: dpkg {verdict}, ours {ours}"));
            }
            // The order keys the database compares agree with dpkg too.
            if let (Some(ka), Some(kb)) = (order_key(a), order_key(b)) {
                let keys = match ka.cmp(&kb) {
                    Ordering::Less => "lt",
                    Ordering::Equal => "eq",
                    Ordering::Greater => "gt",
                };
                if keys != verdict {
                    mismatches.push(format!("{a:?} vs {b:?}: dpkg {verdict}, order keys {keys}"));
                }
            }
        }
        eprintln!("verdicts: {counts:?}");
        assert!(
            mismatches.is_empty(),
            "{} mismatches:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
        // The generator must exercise every outcome, or this test proves little.
        for verdict in ["lt", "eq", "gt", "err"] {
            assert!(
                counts.get(verdict).copied().unwrap_or(0) > 10,
                "too few {verdict}: {counts:?}"
            );
        }
    }

    /// [`order_key`] against [`compare`] (itself checked against dpkg above) on many more pairs than dpkg
    /// could answer in a test's time: same order, equal keys exactly for equal versions, no key for a
    /// version dpkg refuses.
    #[test]
    fn order_keys_sort_as_compare_does() {
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs(60_000),
            order_key,
            compare,
            |v| v.parse::<DpkgVersion>().is_ok(),
            1001,
        );
    }
}
