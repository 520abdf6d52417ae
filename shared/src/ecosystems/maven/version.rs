//! Maven version ordering: `org.apache.maven.artifact.versioning.ComparableVersion` (Maven 3.8).
//!
//! Written by hand: no maintained crate implements ComparableVersion, and its quirks are the specification
//! (Maven resolves version ranges with it, and OSV's `Maven` ecosystem is defined by it). This is a direct
//! port of the Maven 3.8.7 class, checked by the property test against that class run by `java`:
//!
//! - the version is lower-cased and split at `.` and `-` and at every digit/letter transition; `-` and a
//!   transition start a nested sub-list, so `1-1` < `1.1` and `1.0.0.X1` sorts like `1.0.0-X1`;
//! - numbers compare numerically, any size;
//! - qualifiers order `alpha` < `beta` < `milestone` < `rc` = `cr` < `snapshot` < `""` = `ga` = `final` =
//!   `release` < `sp` < any other word (other words compare alphabetically); `a1`/`b1`/`m1` mean
//!   `alpha-1`/`beta-1`/`milestone-1` when a digit follows;
//! - trailing "null" items (`0`, release qualifiers, empty lists) are dropped, so `1.0.0` = `1` = `1-ga`;
//! - a missing item is padded: numbers and lists compare with "nothing" as `0`, qualifiers as release.
//!
//! Known divergences, for exotic input only: Java's `Character.isDigit` also accepts non-ASCII digits, which
//! this port treats as letters; and only the first [`MAX_VERSION_CHARS`] characters are parsed, because
//! every `-` opens a nested list and unbounded nesting would let a hostile string exhaust the stack.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::OrderKey;

/// Characters of a version that are parsed; the rest is ignored (see the module documentation).
pub const MAX_VERSION_CHARS: usize = 1024;

/// The qualifiers with a fixed rank, in ascending order; `""` is the release.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// The rank of the release qualifier `""` in [`QUALIFIERS`].
const RELEASE_RANK: usize = 5;

/// One parsed item of a Maven version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Decimal digits without leading zeros (`"0"` for zero).
    Number(String),
    /// A qualifier, already lower-cased and de-aliased (`ga` → `""`, `cr` → `rc`).
    Qualifier(String),
    /// A sub-list opened by `-` or by a digit/letter transition.
    List(Vec<Item>),
}

/// A qualifier's sort key: `QUALIFIERS` rank for known ones, after all of them (alphabetically) otherwise.
/// Java compares `String.valueOf(rank)` and `"7-" + word` as strings; this tuple order is the same.
fn qualifier_key(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|known| *known == q) {
        Some(rank) => (rank, ""),
        None => (QUALIFIERS.len(), q),
    }
}

impl Item {
    fn qualifier(word: &str, followed_by_digit: bool) -> Item {
        let word = match (followed_by_digit, word) {
            (true, "a") => "alpha",
            (true, "b") => "beta",
            (true, "m") => "milestone",
            (_, "ga" | "final" | "release") => "",
            (_, "cr") => "rc",
            (_, other) => other,
        };
        Item::Qualifier(word.to_owned())
    }

    fn number(digits: &str) -> Item {
        let trimmed = digits.trim_start_matches('0');
        Item::Number(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
    }

    /// `isNull()`: items that padding would produce anyway.
    fn is_null(&self) -> bool {
        match self {
            Item::Number(n) => n == "0",
            Item::Qualifier(q) => qualifier_key(q).0 == RELEASE_RANK,
            Item::List(items) => items.is_empty(),
        }
    }

    /// `compareTo(null)`: this item against padding.
    fn cmp_to_padding(&self) -> Ordering {
        match self {
            Item::Number(n) => {
                if n == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Item::Qualifier(q) => qualifier_key(q).cmp(&(RELEASE_RANK, "")),
            Item::List(items) => items
                .iter()
                .map(Item::cmp_to_padding)
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
        }
    }

    fn cmp_item(&self, other: &Item) -> Ordering {
        match (self, other) {
            (Item::Number(a), Item::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Number(_), _) => Ordering::Greater,
            (Item::Qualifier(_), Item::Number(_) | Item::List(_)) => Ordering::Less,
            (Item::Qualifier(a), Item::Qualifier(b)) => qualifier_key(a).cmp(&qualifier_key(b)),
            (Item::List(_), Item::Number(_)) => Ordering::Less,
            (Item::List(_), Item::Qualifier(_)) => Ordering::Greater,
            (Item::List(a), Item::List(b)) => compare_lists(a, b),
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    let len = a.len().max(b.len());
    for i in 0..len {
        let order = match (a.get(i), b.get(i)) {
            (Some(l), Some(r)) => l.cmp_item(r),
            (Some(l), None) => l.cmp_to_padding(),
            (None, Some(r)) => r.cmp_to_padding().reverse(),
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// `ListItem.normalize()`: drop null items from the end, skipping over non-null sub-lists.
fn normalize(items: &mut Vec<Item>) {
    let mut i = items.len();
    while i > 0 {
        i -= 1;
        let Some(item) = items.get(i) else { break };
        if item.is_null() {
            items.remove(i);
        } else if !matches!(item, Item::List(_)) {
            break;
        }
    }
}

/// A Maven artifact version. Always parses: ComparableVersion accepts any string.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    original: String,
    items: Vec<Item>,
}

/// Never produced (every string is a Maven version); exists so `MavenVersion` has the same `FromStr` shape
/// as the other ecosystems' versions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Maven version")]
pub struct InvalidMavenVersion;

impl MavenVersion {
    /// Parses like `ComparableVersion.parseVersion`. Each nested list is kept as a stack level; a new list
    /// is always the last item of the current one, so the stack folds back into the tree at the end.
    pub fn parse(version: &str) -> MavenVersion {
        let lower: Vec<char> = version
            .chars()
            .take(MAX_VERSION_CHARS)
            .collect::<String>()
            .to_lowercase()
            .chars()
            .collect();
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let mut is_digit = false;
        let mut start = 0;
        let text = |from: usize, to: usize| -> String {
            lower.get(from..to).unwrap_or_default().iter().collect()
        };
        let parse_item = |digit: bool, buf: String| {
            if digit {
                Item::number(&buf)
            } else {
                Item::qualifier(&buf, false)
            }
        };
        for (i, &c) in lower.iter().enumerate() {
            let current_is_empty = stack.last().is_none_or(Vec::is_empty);
            if c == '.' || c == '-' {
                let item = if i == start {
                    Item::Number("0".to_owned())
                } else {
                    parse_item(is_digit, text(start, i))
                };
                push_item(&mut stack, item);
                start = i + 1;
                if c == '-' {
                    stack.push(Vec::new());
                }
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    if !current_is_empty {
                        stack.push(Vec::new());
                    }
                    push_item(&mut stack, Item::qualifier(&text(start, i), true));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    push_item(&mut stack, Item::number(&text(start, i)));
                    start = i;
                    stack.push(Vec::new());
                }
                is_digit = false;
            }
        }
        if lower.len() > start {
            if !is_digit && !stack.last().is_none_or(Vec::is_empty) {
                stack.push(Vec::new());
            }
            push_item(&mut stack, parse_item(is_digit, text(start, lower.len())));
        }
        // Fold the chain back, innermost first: in Java each level was added to its parent when created and
        // the levels are normalized in this same order.
        let mut child: Option<Vec<Item>> = None;
        while let Some(mut list) = stack.pop() {
            if let Some(inner) = child.take() {
                list.push(Item::List(inner));
            }
            normalize(&mut list);
            child = Some(list);
        }
        let items = child.unwrap_or_default();
        MavenVersion {
            original: version.to_owned(),
            items,
        }
    }
}

fn push_item(stack: &mut [Vec<Item>], item: Item) {
    if let Some(list) = stack.last_mut() {
        list.push(item);
    }
}

impl FromStr for MavenVersion {
    type Err = InvalidMavenVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(MavenVersion::parse(s))
    }
}

impl fmt::Display for MavenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.items, &other.items)
    }
}

impl PartialOrd for MavenVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows the ordering (`1.0` == `1`), as ComparableVersion's `equals` on the parsed items.
impl PartialEq for MavenVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MavenVersion {}

/// Compares two Maven versions with ComparableVersion semantics. Every string is a Maven version, so
/// there is no fallback: garbage is ordered as ComparableVersion orders it.
pub fn compare(a: &str, b: &str) -> Ordering {
    MavenVersion::parse(a).cmp(&MavenVersion::parse(b))
}

/// The order key ([`version_order_key`](crate::ecosystems::version_order_key)) of a plain numeric version
/// (`2.13.4`, digits separated by dots); `None` for anything else. `ComparableVersion`'s order as a whole
/// is not transitive (`1.ga.5 < 1.0.alpha < 1 < 1.ga.5` in Maven 3.8.7), so no key can follow it
/// everywhere; but among plain numeric versions it is the numbers in order, trailing zeros dropped
/// (`1.0` = `1`) and a missing number counting as `0`. The key is the numbers (leading zeros dropped,
/// ordered by length then digits) each after a tag above the end's, then the end: a list that stops sorts
/// below one that goes on, since after dropping trailing zeros, what goes on holds a number above `0`.
/// A match only compares keys when both versions have one, so leaving the rest out loses nothing.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    const END: u8 = 0x01;
    const NUMBER: u8 = 0x02;
    let numeric = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if version.len() > MAX_VERSION_CHARS || !version.split('.').all(numeric) {
        return None;
    }
    let numbers: Vec<&str> = version
        .split('.')
        .map(|part| match part.trim_start_matches('0') {
            "" => "0",
            digits => digits,
        })
        .collect();
    let significant = numbers
        .iter()
        .rposition(|n| *n != "0")
        .map_or(0, |last| last + 1);
    let mut key = OrderKey::new();
    for number in &numbers[..significant] {
        key.tag(NUMBER);
        key.digits(number)?;
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
    fn orders_like_comparable_version() {
        // VERSIONS_QUALIFIER and VERSIONS_NUMBER from maven-artifact's ComparableVersionTest.
        let qualifiers = [
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ];
        let numbers = [
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
            "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11",
            "11", "11.a", "11b", "11c", "11m",
        ];
        for list in [&qualifiers[..], &numbers[..]] {
            for (i, a) in list.iter().enumerate() {
                for (j, b) in list.iter().enumerate() {
                    assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1", "1.0.0"),
            ("1-ga", "1"),
            ("1-final", "1.0"),
            ("1-release", "1"),
            ("1cr1", "1rc1"),
            ("1a1", "1-alpha-1"),
            ("1.0.0-SNAPSHOT", "1-snapshot"),
            ("1x", "1-x"),
            ("1.0.0.X1", "1.0.0-X1"),
            ("", "0"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let huge = "9".repeat(10_000);
        assert_eq!(compare(&huge, "1"), Ordering::Greater);
        // 1-1-1-… is 1 followed by nested lists of 1: above 1 (ComparableVersion: "1-1-1-" > "1"). Only the
        // first MAX_VERSION_CHARS characters count, so two such strings differing later are equal.
        let nested = "1-".repeat(500_000);
        assert_eq!(compare(&nested, "1"), Ordering::Greater);
        assert_eq!(compare(&nested, &format!("{nested}2")), Ordering::Equal);
        let _ = compare("\u{0}..--..\u{1F600}", "-.-");
    }

    fn maven_like() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            6 => (0u64..15).prop_map(|n| n.to_string()),
            1 => Just("00".to_owned()),
            1 => Just("12345678901234567890".to_owned()),
            4 => prop::sample::select(vec![
                "alpha", "beta", "milestone", "rc", "cr", "snapshot", "SNAPSHOT", "ga", "final", "release", "sp",
                "a", "b", "m", "RC", "Final", "foo", "x", "",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec((token, prop::sample::select(vec![".", "-", ""])), 1..6).prop_map(
            |parts| {
                let mut s = String::new();
                for (token, separator) in parts {
                    s.push_str(&token);
                    s.push_str(separator);
                }
                s
            },
        )
    }

    /// Checks thousands of generated pairs against Maven's own ComparableVersion in one JVM.
    #[test]
    fn agrees_with_maven_comparable_version() {
        let jar = std::fs::read_dir("/usr/share/maven/lib")
            .ok()
            .and_then(|dir| {
                dir.filter_map(Result::ok)
                    .map(|e| e.path())
                    .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("maven-artifact")))
            })
            .expect(
                "Maven's maven-artifact jar is missing from /usr/share/maven/lib: install Java and Maven \
                 (`apt-get install -y default-jdk-headless maven`)",
            );
        let source_dir = tempfile::tempdir().unwrap();
        let source = source_dir.path().join("CompareVersions.java");
        std::fs::write(
            &source,
            r#"
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class CompareVersions {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        String line;
        while ((line = in.readLine()) != null) {
            String[] pair = line.split("\t", -1);
            int c = new ComparableVersion(pair[0]).compareTo(new ComparableVersion(pair[1]));
            out.append(Integer.signum(c)).append('\n');
        }
        System.out.print(out);
    }
}
"#,
        )
        .unwrap();
        let pairs = reference_tool::generate((maven_like(), maven_like()), 5000);
        let classpath = jar.to_string_lossy().into_owned();
        let source = source.to_string_lossy().into_owned();
        let verdicts = reference_tool::run_pairs(
            std::path::Path::new("java"),
            &["-cp", &classpath, &source],
            &pairs,
            "install a Java runtime and Maven (`apt-get install -y default-jdk-headless maven`)",
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1"]);
        let failures: Vec<String> = pairs
            .iter()
            .zip(&verdicts)
            .filter_map(|((a, b), verdict)| {
                let ours = (compare(a, b) as i8).to_string();
                (&ours != verdict)
                    .then(|| format!("{a:?} vs {b:?}: ours {ours}, ComparableVersion {verdict}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// [`order_key`] against [`compare`] (itself checked against Maven above): same order, equal keys
    /// exactly for equal versions, among the plain numeric versions that have keys.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let numeric = prop::collection::vec(
            prop_oneof![8 => (0u64..12).prop_map(|n| n.to_string()), 1 => Just("00".to_owned()), 1 => Just("010".to_owned())],
            1..6,
        )
        .prop_map(|parts| parts.join("."));
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (numeric.clone(), numeric.clone()),
                2 => (numeric.clone(), prop::sample::select(vec![".0", ".0.0", ".1", ".0.1", "-1", ".Final"]))
                    .prop_map(|(a, tail)| (a.clone(), format!("{a}{tail}"))),
                1 => (numeric, maven_like()),
            ],
            30_000,
        );
        let plain = |v: &str| {
            v.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs, order_key, compare, plain, 1000,
        );
        // The cycle no key could follow involves versions that are not plain numbers.
        assert_eq!(compare("1.ga.5", "1.0.alpha"), Ordering::Less);
        assert_eq!(compare("1.0.alpha", "1"), Ordering::Less);
        assert_eq!(compare("1", "1.ga.5"), Ordering::Less);
        assert!(order_key("1.ga.5").is_none() && order_key("1.0.alpha").is_none());
    }
}
