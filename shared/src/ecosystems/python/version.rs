//! PEP 440 version ordering for PyPI packages.
//!
//! Parsing and ordering come from [`pep440_rs`] (the PEP 440 implementation uv grew out of), not from
//! hand-written code: PEP 440 has many spellings (`1.0a1` = `1.0-alpha.1` = `1.0.0a1`, implicit post
//! releases `1.0-1`, epochs, local versions) that are easy to get subtly wrong. The property test in this
//! file checks it against Python's `packaging` library, the reference pip uses.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::{LIST_END, OrderKey};

/// A PEP 440 version such as `1!2.0.post1.dev3+local.7`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pep440Version(pep440_rs::Version);

/// Why a string is not a PEP 440 version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PEP 440 version {input:?}: {reason}")]
pub struct InvalidPep440Version {
    pub input: String,
    pub reason: String,
}

impl FromStr for Pep440Version {
    type Err = InvalidPep440Version;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        pep440_rs::Version::from_str(s)
            .map(Pep440Version)
            .map_err(|e| InvalidPep440Version {
                input: s.chars().take(80).collect(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for Pep440Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Pep440Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two PyPI versions under PEP 440.
///
/// Fallback: a string that is not a PEP 440 version (pip refuses to install such versions since pip 24.1,
/// but old metadata may still carry one) sorts before every valid version, and two invalid strings compare
/// by their bytes. This keeps the order total without inventing a meaning for garbage.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<Pep440Version>(), b.parse::<Pep440Version>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)), laid out as
/// `pep440_rs` compares: the epoch; the release with trailing zeros dropped (`1.0` = `1`); then its
/// `sortable_tuple` of what follows the release: a phase (`.devN` only, `aN`, `bN`, `rcN`, final, `.postN`)
/// and the prerelease number, the post number (none first), the dev number (none counts as `u64::MAX`, as
/// there), and the local segments (strings below numbers, a shorter list first). `None` for what is not a
/// PEP 440 version, where [`compare`] falls back.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    use pep440_rs::{LocalSegment, PrereleaseKind};
    const ITEM: u8 = 0x01;
    const LOCAL_TEXT: u8 = 0x01;
    const LOCAL_NUMBER: u8 = 0x02;
    // pep440_rs's `min`/`max` markers (internal to version specifiers) are left out: parsing never makes them.
    let version = version.parse::<Pep440Version>().ok()?.0;
    let mut key = OrderKey::new();
    key.number(version.epoch());
    let release = version.release();
    let significant = release
        .iter()
        .rposition(|n| *n != 0)
        .map_or(0, |last| last + 1);
    for part in &release[..significant] {
        key.tag(ITEM);
        key.number(*part);
    }
    key.tag(LIST_END);
    let (phase, number, post, dev) = match (version.pre(), version.post(), version.dev()) {
        (None, None, Some(dev)) => (1, 0, None, dev),
        (Some(pre), post, dev) => {
            let phase = match pre.kind {
                PrereleaseKind::Alpha => 2,
                PrereleaseKind::Beta => 3,
                PrereleaseKind::Rc => 4,
            };
            (phase, pre.number, post, dev.unwrap_or(u64::MAX))
        }
        (None, None, None) => (5, 0, None, 0),
        (None, Some(post), dev) => (6, 0, Some(post), dev.unwrap_or(u64::MAX)),
    };
    key.tag(phase);
    key.number(number);
    match post {
        None => key.tag(0),
        Some(post) => {
            key.tag(1);
            key.number(post);
        }
    }
    key.number(dev);
    for segment in version.local() {
        match segment {
            LocalSegment::String(text) => {
                key.tag(LOCAL_TEXT);
                key.text(text)?;
            }
            LocalSegment::Number(n) => {
                key.tag(LOCAL_NUMBER);
                key.number(*n);
            }
        }
    }
    key.tag(LIST_END);
    key.finish()
}

#[cfg(test)]
mod tests {
    use super::reference_tool;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn orders_the_pep440_examples() {
        // The summary ordering example from PEP 440 ("Summary of permitted suffixes and relative ordering").
        let ordered = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{pair:?}");
            assert_eq!(compare(pair[1], pair[0]), Ordering::Greater, "{pair:?}");
        }
    }

    #[test]
    fn alternative_spellings_are_equal() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1.0a1", "1.0-alpha.1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-1", "1.0.post1"),
            ("v1.0", "1.0"),
            ("1.0.DEV1", "1.0.dev1"),
            ("0!1.0", "1.0"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} vs {b}");
        }
        assert_eq!(compare("1!0.1", "2.0"), Ordering::Greater);
    }

    #[test]
    fn invalid_versions_sort_first_and_never_panic() {
        assert!("1.0-foo".parse::<Pep440Version>().is_err());
        assert!("".parse::<Pep440Version>().is_err());
        assert_eq!(compare("not a version", "0"), Ordering::Less);
        assert_eq!(compare("0", "not a version"), Ordering::Greater);
        assert_eq!(compare("abc", "abd"), Ordering::Less);
        let huge = "9".repeat(10_000);
        let _ = compare(&huge, "1.0");
        let _ = compare("1.0.post99999999999999999999999999999", "1.0");
        let _ = compare("\u{0}\u{ffff}", "1..0");
    }

    /// PEP 440-shaped strings with the spellings PEP 440 normalizes, plus some invalid ones.
    fn pep440_like() -> impl Strategy<Value = String> {
        let release = prop::collection::vec(0u32..12, 1..5).prop_map(|parts| {
            parts
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(".")
        });
        let epoch = prop_oneof![Just(String::new()), (0u32..3).prop_map(|e| format!("{e}!"))];
        let pre = prop_oneof![
            Just(String::new()),
            (
                prop::sample::select(vec![
                    "a", "b", "rc", "c", "alpha", "beta", "pre", "preview", "A"
                ]),
                prop::sample::select(vec!["", ".", "-", "_"]),
                prop::option::of(0u32..4)
            )
                .prop_map(|(l, s, n)| format!(
                    "{s}{l}{}",
                    n.map(|n| n.to_string()).unwrap_or_default()
                )),
        ];
        let post = prop_oneof![
            Just(String::new()),
            (0u32..4).prop_map(|n| format!(".post{n}")),
            (0u32..4).prop_map(|n| format!("-{n}")),
            (0u32..4).prop_map(|n| format!("post{n}")),
            Just(".rev".to_owned()),
        ];
        let dev = prop_oneof![
            Just(String::new()),
            (0u32..4).prop_map(|n| format!(".dev{n}")),
            Just("dev".to_owned()),
        ];
        let local = prop_oneof![
            3 => Just(String::new()),
            1 => prop::sample::select(vec!["+abc", "+1", "+abc.5", "+5.abc", "+ubuntu-1", "+a_b", "+"])
                .prop_map(str::to_owned),
        ];
        let prefix = prop_oneof![5 => Just(""), 1 => Just("v"), 1 => Just(" ")];
        (prefix, epoch, release, pre, post, dev, local)
            .prop_map(|(v, e, r, pre, post, dev, l)| format!("{v}{e}{r}{pre}{post}{dev}{l}"))
    }

    /// Checks thousands of generated pairs against `packaging.version.Version` in one Python process.
    #[test]
    fn agrees_with_python_packaging() {
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (pep440_like(), pep440_like()),
                // Same version, other spelling: PEP 440 is case-insensitive.
                1 => pep440_like().prop_map(|a| (a.clone(), a.to_uppercase())),
            ],
            4000,
        );
        let script = r#"
import sys
from packaging.version import Version, InvalidVersion
def parse(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    va, vb = parse(a), parse(b)
    if va is None or vb is None:
        print("invalid" if va is None else "ok", "invalid" if vb is None else "ok")
    else:
        print((va > vb) - (va < vb))
"#;
        let verdicts = reference_tool::run_pairs(
            &reference_tool::python(),
            &["-c", script],
            &pairs,
            reference_tool::PYTHON_HINT_PACKAGING,
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1", "invalid ok", "ok invalid"]);
        let mut failures = Vec::new();
        for ((a, b), verdict) in pairs.iter().zip(&verdicts) {
            let ours = match (a.parse::<Pep440Version>(), b.parse::<Pep440Version>()) {
                (Ok(x), Ok(y)) => (x.cmp(&y) as i8).to_string(),
                (x, y) => format!(
                    "{} {}",
                    if x.is_ok() { "ok" } else { "invalid" },
                    if y.is_ok() { "ok" } else { "invalid" }
                ),
            };
            if &ours != verdict {
                failures.push(format!("{a:?} vs {b:?}: ours {ours}, packaging {verdict}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// What may follow a release: prerelease, post, dev and local parts, each maybe.
    fn pep440_suffix() -> impl Strategy<Value = String> {
        (
            prop::option::of((prop::sample::select(vec!["a", "b", "rc"]), 0u32..3)),
            prop::option::of(0u32..3),
            prop::option::of(0u32..3),
            prop::option::of("[a-z0-9]{1,2}(\\.[a-z0-9]{1,2})?"),
        )
            .prop_map(|(pre, post, dev, local)| {
                let mut s = String::new();
                if let Some((label, n)) = pre {
                    s.push_str(&format!("{label}{n}"));
                }
                if let Some(n) = post {
                    s.push_str(&format!(".post{n}"));
                }
                if let Some(n) = dev {
                    s.push_str(&format!(".dev{n}"));
                }
                if let Some(local) = local {
                    s.push_str(&format!("+{local}"));
                }
                s
            })
    }

    /// [`order_key`] against [`compare`] (itself checked against `packaging` above): same order, equal keys
    /// exactly for equal versions, no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (pep440_like(), pep440_like()),
                1 => pep440_like().prop_map(|a| (a.clone(), a.to_uppercase())),
                1 => pep440_like().prop_map(|a| {
                    let padded = format!("{a}.0");
                    (a, padded)
                }),
                1 => (pep440_like(), "[0-9.a-z+!-]{0,8}"),
                // The same release, other suffixes.
                3 => ("[0-9]{1,2}(\\.[0-9]){0,2}", pep440_suffix(), pep440_suffix())
                    .prop_map(|(release, a, b)| (format!("{release}{a}"), format!("{release}{b}"))),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            order_key,
            compare,
            |v| v.parse::<Pep440Version>().is_ok(),
            1000,
        );
    }

    #[test]
    fn order_keys_keep_pep440_rs_quirks() {
        // A `.dev` of u64::MAX is what pep440_rs takes a missing `.dev` for.
        let a = "1.0a1.dev18446744073709551615";
        assert_eq!(compare(a, "1.0a1"), Ordering::Equal);
        assert_eq!(order_key(a), order_key("1.0a1"));
        // Trailing zeros do not count; a local version sorts above its public one.
        assert_eq!(order_key("1.0.0"), order_key("1"));
        assert!(order_key("1.0+local") > order_key("1.0"));
        assert!(order_key("1.0+local") < order_key("1.0+1"));
        assert!(order_key("1.0+local") < order_key("1.0.post0"));
    }
}

/// Test support shared by every language comparator's property test: locating the reference tools and
/// running one batch of pairs through one subprocess.
///
/// It lives here only because the ecosystem `mod.rs` files are fixed; every comparator test imports it from
/// `crate::ecosystems::python::version::reference_tool`.
#[cfg(test)]
pub(crate) mod reference_tool {
    use std::io::Write;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};

    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    pub const PYTHON_HINT_PACKAGING: &str = "create the reference Python with `python3 -m venv .venv-ref && \
         .venv-ref/bin/pip install packaging` at the repository root, or point LUCID_REF_PYTHON at a Python \
         that has the `packaging` package";

    /// The repository root (the parent of the `shared` crate).
    pub fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    /// The reference Python interpreter: `LUCID_REF_PYTHON`, else `<repo root>/.venv-ref/bin/python`.
    pub fn python() -> PathBuf {
        std::env::var_os("LUCID_REF_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv-ref/bin/python"))
    }

    /// The reference `node_modules`: `LUCID_REF_NODE_MODULES`, else `<repo root>/.ref/node_modules`.
    pub fn node_modules() -> PathBuf {
        std::env::var_os("LUCID_REF_NODE_MODULES")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".ref/node_modules"))
    }

    /// Fails unless every one of `wanted` occurs among the verdicts, so a batch that only ever compares
    /// equal (or only invalid strings) cannot pass by accident.
    pub fn assert_covers(verdicts: &[String], wanted: &[&str]) {
        for want in wanted {
            let count = verdicts.iter().filter(|v| v.as_str() == *want).count();
            assert!(
                count > 0,
                "no generated pair gave the verdict {want:?}: the generator is too narrow"
            );
        }
    }

    /// `count` values drawn from `strategy` with proptest's deterministic RNG, so a failure reproduces.
    pub fn generate<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
        let mut runner = TestRunner::deterministic();
        (0..count)
            .map(|_| {
                strategy
                    .new_tree(&mut runner)
                    .expect("strategy generates values")
                    .current()
            })
            .collect()
    }

    /// Feeds `a<TAB>b` lines to one run of `program args…` and returns its stdout lines, one verdict per
    /// pair. Fails the test, saying what to install, when the tool is missing or misbehaves.
    pub fn run_pairs(
        program: &Path,
        args: &[&str],
        pairs: &[(String, String)],
        install_hint: &str,
    ) -> Vec<String> {
        let mut input = String::new();
        for (a, b) in pairs {
            assert!(
                !a.contains(['\t', '\n']) && !b.contains(['\t', '\n']),
                "generated versions must not contain tabs or newlines: {a:?} {b:?}"
            );
            input.push_str(&format!("{a}\t{b}\n"));
        }
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "reference tool {} cannot be started ({e}): {install_hint}",
                    program.display()
                )
            });
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let output = child.wait_with_output().expect("reference tool runs");
        // A tool that dies early (say, a missing package) breaks the pipe: report its exit first.
        let written = writer.join().expect("writer thread");
        assert!(
            output.status.success(),
            "reference tool {} failed: {}\n{install_hint}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        written.expect("reference tool reads its input");
        let verdicts: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(
            verdicts.len(),
            pairs.len(),
            "reference tool {} answered {} lines for {} pairs",
            program.display(),
            verdicts.len(),
            pairs.len()
        );
        verdicts
    }
}
