//! RubyGems version ordering (`Gem::Version`).
//!
//! Written by hand: no maintained crate implements `Gem::Version`, and the rules are short. This follows
//! `rubygems/version.rb` (RubyGems 3.3): a version matches
//! `\A\s*([0-9]+(?>\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)?\s*\z`, `-` becomes `.pre.`, the
//! string is cut into runs of digits and runs of letters, trailing zeros are dropped before the first
//! letter run and at the end, and segments compare pairwise with missing ones as `0`, letters below numbers
//! (so `1.0.a` < `1.0`, a prerelease). The property test checks it against `ruby -e 'Gem::Version'`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::OrderKey;

/// A RubyGems version such as `1.2.0.rc1` or `3.0.0-beta.2`.
#[derive(Debug, Clone)]
pub struct GemVersion {
    /// The version as written, whitespace-stripped and with `-` replaced by `.pre.`, as RubyGems keeps it.
    version: String,
    /// `canonical_segments`: what the ordering looks at.
    canonical: Vec<Segment>,
}

/// One run of digits or of letters.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Decimal digits without leading zeros (`"0"` for zero); text so that huge numbers cannot overflow.
    Number(String),
    Letters(String),
}

impl Segment {
    fn is_zero(&self) -> bool {
        matches!(self, Segment::Number(n) if n == "0")
    }
}

/// Why a string is not a RubyGems version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RubyGems version {0:?}")]
pub struct InvalidGemVersion(pub String);

/// Ruby's `\s`: ASCII whitespace including vertical tab.
fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// `Gem::Version.correct?` on an already stripped string.
fn is_correct(body: &str) -> bool {
    if body.is_empty() {
        return true;
    }
    let (release, prerelease) = match body.split_once('-') {
        Some((release, prerelease)) => (release, Some(prerelease)),
        None => (body, None),
    };
    let mut parts = release.split('.');
    let first_is_number = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    let prerelease_ok = prerelease.is_none_or(|pre| {
        pre.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    });
    first_is_number && rest_ok && prerelease_ok
}

impl FromStr for GemVersion {
    type Err = InvalidGemVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.trim_matches(is_ruby_space);
        if !is_correct(body) {
            return Err(InvalidGemVersion(s.chars().take(80).collect()));
        }
        // An empty (or all-blank) version means "0" in RubyGems.
        let version = if body.is_empty() {
            "0".to_owned()
        } else {
            body.replace('-', ".pre.")
        };
        let segments = split_segments(&version);
        let first_letters = segments
            .iter()
            .position(|s| matches!(s, Segment::Letters(_)))
            .unwrap_or(segments.len());
        let (numeric, letters) = segments.split_at(first_letters);
        let mut canonical = drop_trailing_zeros(numeric);
        canonical.extend(drop_trailing_zeros(letters));
        Ok(GemVersion { version, canonical })
    }
}

/// `@version.scan(/[0-9]+|[a-z]+/i)`, with numbers as in `to_i` (leading zeros gone).
fn split_segments(version: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut rest = version;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric()) {
        rest = rest.get(start..).unwrap_or_default();
        let digits = rest.starts_with(|c: char| c.is_ascii_digit());
        let end = rest
            .find(|c: char| {
                if digits {
                    !c.is_ascii_digit()
                } else {
                    !c.is_ascii_alphabetic()
                }
            })
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        segments.push(if digits {
            let trimmed = run.trim_start_matches('0');
            Segment::Number(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
        } else {
            Segment::Letters(run.to_owned())
        });
        rest = tail;
    }
    segments
}

fn drop_trailing_zeros(segments: &[Segment]) -> Vec<Segment> {
    let keep = segments
        .iter()
        .rposition(|s| !s.is_zero())
        .map_or(0, |i| i + 1);
    segments.iter().take(keep).cloned().collect()
}

impl GemVersion {
    /// True when the version contains a letter (`1.0.a`, `2.0.0-rc1`), as `Gem::Version#prerelease?`.
    pub fn is_prerelease(&self) -> bool {
        self.version.bytes().any(|b| b.is_ascii_alphabetic())
    }
}

impl fmt::Display for GemVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.version)
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Segment::Number("0".to_owned());
        let len = self.canonical.len().max(other.canonical.len());
        for i in 0..len {
            let lhs = self.canonical.get(i).unwrap_or(&zero);
            let rhs = other.canonical.get(i).unwrap_or(&zero);
            let order = match (lhs, rhs) {
                (Segment::Number(a), Segment::Number(b)) => {
                    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
                }
                (Segment::Letters(a), Segment::Letters(b)) => a.as_bytes().cmp(b.as_bytes()),
                (Segment::Letters(_), Segment::Number(_)) => Ordering::Less,
                (Segment::Number(_), Segment::Letters(_)) => Ordering::Greater,
            };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for GemVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows the ordering (`1.0` == `1.0.0`), as `Gem::Version#==` does.
impl PartialEq for GemVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for GemVersion {}

/// Compares two RubyGems versions.
///
/// Fallback: a malformed version (which `Gem::Version.new` rejects) sorts before every valid one; two
/// malformed strings compare by their bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<GemVersion>(), b.parse::<GemVersion>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)). `Gem::Version`
/// compares canonical segments with the shorter list padded by zeros, so a zero's effect depends on what
/// follows it. The key therefore folds each run of zeros into the segment after it: a run of `k` zeros then
/// letters sorts by `k` ascending (a zero is above letters, so more zeros before them is higher), a run of `k`
/// zeros then a number by `k` descending (the zero is below the number), and the end (zeros forever) between
/// the two. Canonical segments never end in a zero, so every run has a segment after it. `None` for a
/// malformed version, where [`compare`] falls back.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    const LETTERS: u8 = 0x01;
    const END: u8 = 0x02;
    const NUMBER: u8 = 0x03;
    let version = version.parse::<GemVersion>().ok()?;
    let mut key = OrderKey::new();
    let mut zeros: u32 = 0;
    for segment in &version.canonical {
        match segment {
            Segment::Number(n) if n == "0" => zeros = zeros.checked_add(1)?,
            Segment::Number(n) => {
                key.tag(NUMBER);
                key.number(u64::from(u32::MAX - zeros));
                key.digits(n)?;
                zeros = 0;
            }
            Segment::Letters(letters) => {
                key.tag(LETTERS);
                key.number(u64::from(zeros));
                key.text(letters)?;
                zeros = 0;
            }
        }
    }
    key.tag(END);
    key.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystems::python::version::reference_tool;
    use proptest::prelude::*;

    #[test]
    fn orders_like_gem_version() {
        // Ordering examples from the Gem::Version documentation and test_gem_version.rb.
        let ordered = [
            "1.0.a",
            "1.0.a.2",
            "1.0.b1",
            "1.0.rc1",
            "1.0",
            "1.0.1",
            "1.1.pre",
            "1.1",
            "5.2.4.rc1",
            "5.2.4",
            "5.2.4.1",
            "5.10",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1", "1.0.0.0"),
            ("", "0"),
            (" 1.2 ", "1.2"),
            ("1.0.0-rc1", "1.0.0.pre.rc1"),
            ("01.2", "1.2"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a:?} vs {b:?}");
        }
        assert!("1.0.0-rc1".parse::<GemVersion>().unwrap().is_prerelease());
        assert!(!"1.0.0".parse::<GemVersion>().unwrap().is_prerelease());
    }

    #[test]
    fn malformed_versions_sort_first_and_never_panic() {
        for bad in [
            "junk", "1.0\n2.0", "1..2", "1.2.", ".1", "1.0-", "1.0-a..b", "1.0 beta", "v1.0",
            "\u{e9}",
        ] {
            assert!(bad.parse::<GemVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, "0"), Ordering::Less, "{bad:?}");
        }
        let huge = "9".repeat(10_000);
        assert_eq!(compare(&huge, "1"), Ordering::Greater);
    }

    fn gem_like() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            6 => (0u64..12).prop_map(|n| n.to_string()),
            1 => Just("00".to_owned()),
            2 => prop::sample::select(vec!["a", "b", "rc", "pre", "beta", "alpha", "A", "RC"]).prop_map(str::to_owned),
            2 => "[0-9]{1,2}[a-z]{1,2}[0-9]?",
            1 => "[a-z]{1,2}[0-9]{1,2}",
        ];
        (
            0u64..4,
            prop::collection::vec(part, 0..5),
            prop::option::of(prop::collection::vec("[a-z0-9-]{1,4}", 1..3)),
            prop::sample::select(vec!["", "", "", " ", "\u{b}", ".", "..", "_"]),
        )
            .prop_map(|(first, rest, pre, junk)| {
                let mut s = first.to_string();
                for part in rest {
                    s.push('.');
                    s.push_str(&part);
                }
                if let Some(pre) = pre {
                    s.push('-');
                    s.push_str(&pre.join("."));
                }
                if junk == "." || junk == ".." || junk == "_" {
                    s.push_str(junk);
                    s
                } else {
                    format!("{junk}{s}{junk}")
                }
            })
    }

    /// Checks thousands of generated pairs against RubyGems' own `Gem::Version` in one Ruby process.
    #[test]
    fn agrees_with_ruby_gem_version() {
        let pairs = reference_tool::generate((gem_like(), gem_like()), 4000);
        let script = r##"
STDIN.each_line do |line|
  a, b = line.chomp("\n").split("\t", -1)
  ok_a = Gem::Version.correct?(a)
  ok_b = Gem::Version.correct?(b)
  if ok_a && ok_b
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  else
    puts "#{ok_a ? "ok" : "invalid"} #{ok_b ? "ok" : "invalid"}"
  end
end
"##;
        let verdicts = reference_tool::run_pairs(
            std::path::Path::new("ruby"),
            &["-e", script],
            &pairs,
            "install Ruby (`apt-get install -y ruby`), whose RubyGems provides Gem::Version",
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1", "invalid ok", "ok invalid"]);
        let mut failures = Vec::new();
        for ((a, b), verdict) in pairs.iter().zip(&verdicts) {
            let ours = match (a.parse::<GemVersion>(), b.parse::<GemVersion>()) {
                (Ok(x), Ok(y)) => (x.cmp(&y) as i8).to_string(),
                (x, y) => format!(
                    "{} {}",
                    if x.is_ok() { "ok" } else { "invalid" },
                    if y.is_ok() { "ok" } else { "invalid" }
                ),
            };
            if &ours != verdict {
                failures.push(format!(
                    "{a:?} vs {b:?}: ours {ours}, Gem::Version {verdict}"
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

    /// [`order_key`] against [`compare`] (itself checked against Ruby above): same order, equal keys
    /// exactly for equal versions, no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (gem_like(), gem_like()),
                // Near neighbours: zeros and letters after the same start.
                3 => (
                    gem_like(),
                    prop::collection::vec(prop::sample::select(vec!["0", "1", "a", "b", "00"]), 0..4),
                    prop::collection::vec(prop::sample::select(vec!["0", "1", "a", "b", "00"]), 0..4),
                )
                    .prop_map(|(a, x, y)| {
                        let a = a.trim().trim_end_matches(['.', '_']).to_owned();
                        let extend = |tail: Vec<&str>| {
                            tail.iter().fold(a.clone(), |v, part| format!("{v}.{part}"))
                        };
                        (extend(x), extend(y))
                    }),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            order_key,
            compare,
            |v| v.parse::<GemVersion>().is_ok(),
            1000,
        );
    }
}
