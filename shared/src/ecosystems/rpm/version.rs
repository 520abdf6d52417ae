//! rpm version ordering: `rpmvercmp` for one version string, and epoch/version/release (EVR) on top.
//!
//! This is a line-by-line port of rpm 4.18's `rpmvercmp()` (`rpmio/rpmvercmp.c`) and of the EVR rule of
//! `labelCompare()` / `rpmverCmp()`. It is written by hand because the crates that exist either predate the
//! caret (`^`) rule or parse into structures that reject strings rpm happily compares; a scanner must order
//! exactly what rpm orders, so the reference is rpm's own C code, and the property test in this file checks
//! the port against the real `rpm` Python binding on thousands of generated pairs.
//!
//! Rules, as rpm applies them:
//! - a version string is split into maximal runs of ASCII digits or ASCII letters; every other byte
//!   (including non-ASCII) only separates, except `~` and `^`;
//! - `~` sorts before everything, even the end of the string (`1.0~rc1 < 1.0`);
//! - `^` sorts after the end of the string but before anything else (`1.0 < 1.0^git1 < 1.0.1`);
//! - numeric runs compare as numbers of any length (leading zeros dropped) and beat letter runs;
//! - letter runs compare bytewise (`A < a`);
//! - when every run matched, the string with runs left over is newer; separators themselves never
//!   matter (`1.0 == 1_0`);
//! - rpm, being C, stops reading a string at its first NUL byte: so does this port.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::OrderKey;

/// An rpm EVR: `[epoch:]version[-release]`.
///
/// Equality is rpm equality (`1.0-1 == 1_0-1`), not string equality, so `RpmVersion` deliberately does not
/// implement `Hash`.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    /// The epoch; rpm treats a missing epoch as 0.
    pub epoch: u64,
    pub version: String,
    /// Empty when the string had no `-release` part.
    pub release: String,
}

/// Why a string is not an rpm EVR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpmVersionError {
    #[error("rpm version is empty")]
    Empty,
    #[error("rpm epoch {0:?} does not fit in 64 bits")]
    EpochTooLarge(String),
}

/// Splits an EVR string the way rpm's `parseEVR()` does: the epoch is a leading run of digits followed
/// by `:` (an empty epoch before `:` means 0); the release is everything after the last `-` after that.
fn split_evr(evr: &str) -> (Option<&str>, &str, Option<&str>) {
    let digits = evr.bytes().take_while(u8::is_ascii_digit).count();
    let (epoch, rest) = match evr.get(digits..) {
        Some(after) if after.starts_with(':') => {
            let epoch = evr.get(..digits).filter(|e| !e.is_empty()).unwrap_or("0");
            (Some(epoch), after.get(1..).unwrap_or(""))
        }
        _ => (None, evr),
    };
    match rest.rsplit_once('-') {
        Some((version, release)) => (epoch, version, Some(release)),
        None => (epoch, rest, None),
    }
}

impl FromStr for RpmVersion {
    type Err = RpmVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(RpmVersionError::Empty);
        }
        let (epoch, version, release) = split_evr(s);
        let epoch = match epoch {
            None => 0,
            Some(digits) => digits
                .parse::<u64>()
                .map_err(|_| RpmVersionError::EpochTooLarge(digits.chars().take(40).collect()))?,
        };
        Ok(RpmVersion {
            epoch,
            version: version.to_owned(),
            release: release.unwrap_or("").to_owned(),
        })
    }
}

impl fmt::Display for RpmVersion {
    /// `epoch:version-release`, leaving out a zero epoch and an empty release (Clair's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.version)?;
        if !self.release.is_empty() {
            write!(f, "-{}", self.release)?;
        }
        Ok(())
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| rpmvercmp(&self.release, &other.release))
    }
}

impl PartialOrd for RpmVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for RpmVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for RpmVersion {}

/// Compares two EVR strings as rpm's `labelCompare()` does: epoch (missing = 0), then version, then
/// release, each with [`rpmvercmp`]. A missing release sorts as the empty string. Total and panic-free:
/// every string is a valid input (an epoch too long for an integer still compares as rpm compares digits).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (epoch_a, version_a, release_a) = split_evr(a);
    let (epoch_b, version_b, release_b) = split_evr(b);
    rpmvercmp(epoch_a.unwrap_or("0"), epoch_b.unwrap_or("0"))
        .then_with(|| rpmvercmp(version_a, version_b))
        .then_with(|| rpmvercmp(release_a.unwrap_or(""), release_b.unwrap_or("")))
}

/// Bytes rpm skips between segments: everything but ASCII alphanumerics, `~` and `^`.
fn is_separator(byte: u8) -> bool {
    !byte.is_ascii_alphanumeric() && byte != b'~' && byte != b'^'
}

/// rpm's `rpmvercmp()` on one version (or release) string. See the module docs for the rules.
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    // C strings end at the first NUL.
    let a = a.as_bytes().split(|&c| c == 0).next().unwrap_or_default();
    let b = b.as_bytes().split(|&c| c == 0).next().unwrap_or_default();
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (a, b);
    while !one.is_empty() || !two.is_empty() {
        one = trim_separators(one);
        two = trim_separators(two);

        let (first_one, first_two) = (one.first().copied(), two.first().copied());

        // Tilde sorts before everything else, including the end of the string.
        if first_one == Some(b'~') || first_two == Some(b'~') {
            if first_one != Some(b'~') {
                return Ordering::Greater;
            }
            if first_two != Some(b'~') {
                return Ordering::Less;
            }
            one = one.get(1..).unwrap_or_default();
            two = two.get(1..).unwrap_or_default();
            continue;
        }

        // Caret is like tilde, except that the end of the string sorts before it.
        if first_one == Some(b'^') || first_two == Some(b'^') {
            if one.is_empty() {
                return Ordering::Less;
            }
            if two.is_empty() {
                return Ordering::Greater;
            }
            if first_one != Some(b'^') {
                return Ordering::Greater;
            }
            if first_two != Some(b'^') {
                return Ordering::Less;
            }
            one = one.get(1..).unwrap_or_default();
            two = two.get(1..).unwrap_or_default();
            continue;
        }

        let (Some(lead), Some(_)) = (first_one, first_two) else {
            break;
        };

        let is_numeric = lead.is_ascii_digit();
        let in_run = |c: &u8| {
            if is_numeric {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphabetic()
            }
        };
        let len_one = one.iter().take_while(|c| in_run(c)).count();
        let len_two = two.iter().take_while(|c| in_run(c)).count();
        let (run_one, rest_one) = one.split_at_checked(len_one).unwrap_or((one, &[]));
        let (run_two, rest_two) = two.split_at_checked(len_two).unwrap_or((two, &[]));

        // `one` starts with an alphanumeric byte, so its run is never empty. An empty run on the other
        // side means the kinds differ: numeric beats alpha.
        if run_two.is_empty() {
            return if is_numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }

        let ordering = if is_numeric {
            let digits_one = strip_leading_zeros(run_one);
            let digits_two = strip_leading_zeros(run_two);
            digits_one
                .len()
                .cmp(&digits_two.len())
                .then_with(|| digits_one.cmp(digits_two))
        } else {
            run_one.cmp(run_two)
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
        one = rest_one;
        two = rest_two;
    }
    match (one.is_empty(), two.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, _) => Ordering::Greater,
    }
}

fn trim_separators(s: &[u8]) -> &[u8] {
    let skip = s.iter().take_while(|&&c| is_separator(c)).count();
    s.get(skip..).unwrap_or_default()
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): epoch, version
/// and release, each as [`rpmvercmp`] reads it: its tokens in order (a `~`, a `^`, a run of letters, a run
/// of digits; separators skipped), each after a tag ranking token kinds as rpmvercmp does (`~` below the
/// end, then `^`, letters, digits), then the end. Letters compare by bytes and digits by value (leading
/// zeros dropped), so tokens of one kind compare as there. Every string has a key, as [`compare`] orders
/// every string; `None` only for a run of more than 1,024 digits.
pub fn order_key(evr: &str) -> Option<Vec<u8>> {
    let (epoch, version, release) = split_evr(evr);
    let mut key = OrderKey::new();
    for field in [epoch.unwrap_or("0"), version, release.unwrap_or("")] {
        push_rpmvercmp_key(&mut key, field)?;
    }
    key.finish()
}

/// Appends one field's tokens to `key`, as [`order_key`] lays them out.
fn push_rpmvercmp_key(key: &mut OrderKey, field: &str) -> Option<()> {
    const TILDE: u8 = 0x01;
    const END: u8 = 0x02;
    const CARET: u8 = 0x03;
    const LETTERS: u8 = 0x04;
    const DIGITS: u8 = 0x05;
    let mut rest = field
        .as_bytes()
        .split(|&c| c == 0)
        .next()
        .unwrap_or_default();
    loop {
        rest = trim_separators(rest);
        let Some(&first) = rest.first() else {
            key.tag(END);
            return Some(());
        };
        let run = match first {
            b'~' | b'^' => {
                key.tag(if first == b'~' { TILDE } else { CARET });
                1
            }
            b'0'..=b'9' => {
                let run = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                let digits = strip_leading_zeros(rest.get(..run).unwrap_or_default());
                key.tag(DIGITS);
                key.digits(
                    std::str::from_utf8(digits)
                        .ok()
                        .filter(|d| !d.is_empty())
                        .unwrap_or("0"),
                )?;
                run
            }
            _ => {
                let run = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                key.tag(LETTERS);
                key.text(std::str::from_utf8(rest.get(..run).unwrap_or_default()).ok()?)?;
                run
            }
        };
        rest = rest.get(run..).unwrap_or_default();
    }
}

fn strip_leading_zeros(s: &[u8]) -> &[u8] {
    let zeros = s.iter().take_while(|&&c| c == b'0').count();
    s.get(zeros..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Cases from rpm's own test suite (`tests/rpmvercmp.at`), expectations written out.
    const RPM_SUITE: &[(&str, &str, i8)] = &[
        ("1.0", "1.0", 0),
        ("1.0", "2.0", -1),
        ("2.0", "1.0", 1),
        ("2.0.1", "2.0.1", 0),
        ("2.0", "2.0.1", -1),
        ("2.0.1", "2.0", 1),
        ("2.0.1a", "2.0.1a", 0),
        ("2.0.1a", "2.0.1", 1),
        ("2.0.1", "2.0.1a", -1),
        ("5.5p1", "5.5p1", 0),
        ("5.5p1", "5.5p2", -1),
        ("5.5p2", "5.5p1", 1),
        ("5.5p10", "5.5p10", 0),
        ("5.5p1", "5.5p10", -1),
        ("5.5p10", "5.5p1", 1),
        ("10xyz", "10.1xyz", -1),
        ("10.1xyz", "10xyz", 1),
        ("xyz10", "xyz10", 0),
        ("xyz10", "xyz10.1", -1),
        ("xyz10.1", "xyz10", 1),
        ("xyz.4", "xyz.4", 0),
        ("xyz.4", "8", -1),
        ("8", "xyz.4", 1),
        ("xyz.4", "2", -1),
        ("2", "xyz.4", 1),
        ("5.5p2", "5.6p1", -1),
        ("5.6p1", "5.5p2", 1),
        ("5.6p1", "6.5p1", -1),
        ("6.5p1", "5.6p1", 1),
        ("6.0.rc1", "6.0", 1),
        ("6.0", "6.0.rc1", -1),
        ("10b2", "10a1", 1),
        ("10a2", "10b2", -1),
        ("1.0aa", "1.0aa", 0),
        ("1.0a", "1.0aa", -1),
        ("1.0aa", "1.0a", 1),
        ("10.0001", "10.0001", 0),
        ("10.0001", "10.1", 0),
        ("10.1", "10.0001", 0),
        ("10.0001", "10.0039", -1),
        ("10.0039", "10.0001", 1),
        ("4.999.9", "5.0", -1),
        ("5.0", "4.999.9", 1),
        ("20101121", "20101121", 0),
        ("20101121", "20101122", -1),
        ("20101122", "20101121", 1),
        ("2_0", "2_0", 0),
        ("2.0", "2_0", 0),
        ("2_0", "2.0", 0),
        ("a", "a", 0),
        ("a+", "a+", 0),
        ("a+", "a_", 0),
        ("a_", "a+", 0),
        ("+a", "+a", 0),
        ("+a", "_a", 0),
        ("_a", "+a", 0),
        ("+_", "+_", 0),
        ("_+", "+_", 0),
        ("_+", "_+", 0),
        ("+", "_", 0),
        ("_", "+", 0),
        ("1.0~rc1", "1.0~rc1", 0),
        ("1.0~rc1", "1.0", -1),
        ("1.0", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc2", -1),
        ("1.0~rc2", "1.0~rc1", 1),
        ("1.0~rc1~git123", "1.0~rc1~git123", 0),
        ("1.0~rc1~git123", "1.0~rc1", -1),
        ("1.0~rc1", "1.0~rc1~git123", 1),
        ("1.0^", "1.0^", 0),
        ("1.0^", "1.0", 1),
        ("1.0", "1.0^", -1),
        ("1.0^git1", "1.0^git1", 0),
        ("1.0^git1", "1.0", 1),
        ("1.0", "1.0^git1", -1),
        ("1.0^git1", "1.0^git2", -1),
        ("1.0^git2", "1.0^git1", 1),
        ("1.0^git1", "1.01", -1),
        ("1.01", "1.0^git1", 1),
        ("1.0^20160101", "1.0^20160101", 0),
        ("1.0^20160101", "1.0.1", -1),
        ("1.0.1", "1.0^20160101", 1),
        ("1.0^20160101^git1", "1.0^20160101^git1", 0),
        ("1.0^20160102", "1.0^20160101^git1", 1),
        ("1.0^20160101^git1", "1.0^20160102", -1),
        ("1.0~rc1^git1", "1.0~rc1^git1", 0),
        ("1.0~rc1^git1", "1.0~rc1", 1),
        ("1.0~rc1", "1.0~rc1^git1", -1),
        ("1.0^git1~pre", "1.0^git1~pre", 0),
        ("1.0^git1", "1.0^git1~pre", 1),
        ("1.0^git1~pre", "1.0^git1", -1),
    ];

    fn sign(o: Ordering) -> i8 {
        match o {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    #[test]
    fn rpm_test_suite_cases() {
        for &(a, b, want) in RPM_SUITE {
            assert_eq!(sign(rpmvercmp(a, b)), want, "rpmvercmp({a:?}, {b:?})");
        }
    }

    /// Cases probed against rpm 4.18's `labelCompare` while writing the property test, kept with the
    /// answers rpm gave (`(epoch, version, release)` triples written as EVR strings).
    #[test]
    fn cases_checked_against_rpm_label_compare() {
        assert_eq!(rpmvercmp("1:0", "1.0"), Ordering::Equal);
        assert_eq!(compare("1~-1", "1.0-1"), Ordering::Less);
        assert_eq!(compare("1.0-a:b", "1.0-1"), Ordering::Less);
        assert_eq!(compare("1-~", "1.0-1"), Ordering::Less);
        assert_eq!(compare("^", "1.0-1"), Ordering::Less);
        assert_eq!(compare("00:1-1", "0:1.0-1"), Ordering::Less);
        assert_eq!(compare("1.0", "1.0-1"), Ordering::Less);
    }

    #[test]
    fn evr_epoch_dominates_then_version_then_release() {
        assert_eq!(compare("1:1.0-1", "2.0-1"), Ordering::Greater);
        assert_eq!(compare("0:2.0-1", "2.0-1"), Ordering::Equal);
        assert_eq!(compare(":2.0-1", "2.0-1"), Ordering::Equal);
        assert_eq!(compare("1.0-2", "1.0-10"), Ordering::Less);
        assert_eq!(compare("1.0", "1.0-1"), Ordering::Less);
        assert_eq!(
            compare("1:3.0.7-27.el9", "1:3.0.7-24.el9"),
            Ordering::Greater
        );
        assert_eq!(
            compare("1:3.0.7-27.el9", "1:3.0.7-27.el9_2.1"),
            Ordering::Less
        );
        // Not an epoch: the digits before ':' must be all there is.
        assert_eq!(split_evr("a1:2-3"), (None, "a1:2", Some("3")));
        assert_eq!(split_evr("1:2-3-4"), (Some("1"), "2-3", Some("4")));
    }

    #[test]
    fn parses_and_displays() {
        let v: RpmVersion = "1:3.0.7-27.el9".parse().unwrap();
        assert_eq!(v.epoch, 1);
        assert_eq!(v.version, "3.0.7");
        assert_eq!(v.release, "27.el9");
        assert_eq!(v.to_string(), "1:3.0.7-27.el9");
        let v: RpmVersion = "0:1.2".parse().unwrap();
        assert_eq!((v.epoch, v.release.as_str()), (0, ""));
        assert_eq!(v.to_string(), "1.2");
        assert!(v < "1.2-1".parse().unwrap());
        assert_eq!(
            "1.0-1".parse::<RpmVersion>().unwrap(),
            "0:1_0-1".parse().unwrap()
        );
    }

    #[test]
    fn rejects_empty_and_overflowing_epochs_without_panicking() {
        assert_eq!("".parse::<RpmVersion>(), Err(RpmVersionError::Empty));
        let huge = format!("{}:1.0", "9".repeat(500));
        assert!(matches!(
            huge.parse::<RpmVersion>(),
            Err(RpmVersionError::EpochTooLarge(_))
        ));
        // The string comparator still orders it, as rpm would.
        assert_eq!(compare(&huge, "99:1.0"), Ordering::Greater);
    }

    #[test]
    fn odd_inputs_are_total() {
        let odd = [
            "", "~", "^", "-", ":", "~~", "^~", "é1", "1\u{0}9", "1.0\u{0}", "0000",
        ];
        for a in odd {
            for b in odd {
                let ab = compare(a, b);
                assert_eq!(ab.reverse(), compare(b, a), "{a:?} vs {b:?}");
            }
        }
        // NUL ends a C string.
        assert_eq!(rpmvercmp("1\u{0}9", "1"), Ordering::Equal);
        // Non-ASCII bytes are separators.
        assert_eq!(rpmvercmp("1é2", "1.2"), Ordering::Equal);
    }

    /// Debian's `/usr/bin/python3` with the `rpm` binding (package `python3-rpm`), unless overridden.
    fn rpm_python() -> String {
        std::env::var("LUCID_REF_RPM_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned())
    }

    /// Asks the real rpm for `labelCompare` of every pair in one subprocess.
    fn rpm_label_compare(pairs: &[(String, String)]) -> Vec<i8> {
        const SCRIPT: &str = r#"
import sys, rpm
def split(evr):
    i = 0
    while i < len(evr) and evr[i].isdigit() and evr[i].isascii():
        i += 1
    if evr[i:i+1] == ':':
        epoch, rest = (evr[:i] or '0'), evr[i+1:]
    else:
        epoch, rest = '0', evr
    version, dash, release = rest.rpartition('-')
    if not dash:
        version, release = rest, ''
    return (epoch, version, release)
out = []
for line in sys.stdin.buffer.read().decode('utf-8').split('\n'):
    if not line:
        continue
    a, b = line.split('\t')
    out.append(str(rpm.labelCompare(split(a), split(b))))
sys.stdout.write('\n'.join(out) + '\n')
"#;
        let python = rpm_python();
        let child = Command::new(&python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = child.unwrap_or_else(|e| {
            panic!(
                "cannot run {python} ({e}): install the reference rpm with \
                 `apt-get update && apt-get install -y rpm python3-rpm` \
                 (or set LUCID_REF_RPM_PYTHON to a Python that can `import rpm`)"
            )
        });
        let mut input = String::new();
        for (a, b) in pairs {
            input.push_str(a);
            input.push('\t');
            input.push_str(b);
            input.push('\n');
        }
        // A Python without the binding exits before reading: ignore the broken pipe, report below.
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{python} -c 'import rpm' failed: {}\ninstall the reference rpm with \
             `apt-get update && apt-get install -y rpm python3-rpm`",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim().parse::<i8>().unwrap())
            .collect()
    }

    fn evr_strategy() -> impl Strategy<Value = String> {
        let segment = prop_oneof![
            "[0-9]{1,3}",
            "0{1,3}[0-9]{1,2}",
            "[a-zA-Z]{1,3}",
            "[~^._+]{1,2}",
            Just("el9".to_owned()),
            Just("~rc".to_owned()),
            Just("^git".to_owned()),
        ];
        // rpm rejects an empty version ("invalid version"), so at least one segment.
        let version = proptest::collection::vec(segment.clone(), 1..5).prop_map(|s| s.concat());
        let release = proptest::collection::vec(segment, 0..3).prop_map(|s| s.concat());
        (
            proptest::option::of("[0-9]{1,2}"),
            version,
            proptest::option::of(release),
        )
            .prop_map(|(epoch, version, release)| {
                let mut s = String::new();
                if let Some(e) = epoch {
                    s.push_str(&e);
                    s.push(':');
                }
                s.push_str(&version);
                if let Some(r) = release {
                    s.push('-');
                    s.push_str(&r);
                }
                s
            })
    }

    #[test]
    fn agrees_with_real_rpm_label_compare() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let pair = (evr_strategy(), evr_strategy());
        let mut pairs = Vec::new();
        for _ in 0..5000 {
            let (a, b) = pair.new_tree(&mut runner).unwrap().current();
            // Also compare a version with itself and with a near neighbour.
            pairs.push((a.clone(), a.clone()));
            pairs.push((a, b));
        }
        let verdicts = rpm_label_compare(&pairs);
        assert_eq!(verdicts.len(), pairs.len());
        let mut mismatches = Vec::new();
        for ((a, b), want) in pairs.iter().zip(verdicts) {
            let got = sign(compare(a, b));
            if got != want {
                mismatches.push(format!("compare({a:?}, {b:?}) = {got}, rpm says {want}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} mismatches:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }

    /// [`order_key`] against [`compare`] (itself checked against rpm above) on many more pairs than rpm
    /// answers in a test's time: same order, equal keys exactly for equal versions, a key for every string.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let any = prop_oneof![6 => evr_strategy(), 1 => "[0-9a-z:.~^_-]{0,8}", 1 => "\\PC{0,6}"];
        let pairs = crate::ecosystems::python::version::reference_tool::generate(
            prop_oneof![
                4 => (any.clone(), any),
                // Near neighbours: one more token, or another separator.
                1 => evr_strategy().prop_flat_map(|a| {
                    (Just(a), prop::sample::select(vec!["~", "^", ".", "a", "0", "1", "-1", "~rc", "_"]))
                        .prop_map(|(a, tail)| (a.clone(), format!("{a}{tail}")))
                }),
                1 => evr_strategy().prop_map(|a| (a.clone(), a.replace('.', "_"))),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            order_key,
            compare,
            |_| true,
            1000,
        );
    }

    proptest! {
        #[test]
        fn antisymmetric_and_reflexive(a in evr_strategy(), b in evr_strategy()) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
        }
    }
}
