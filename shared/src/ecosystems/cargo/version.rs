//! crates.io version ordering: SemVer 2.0 precedence, parsed by the `semver` crate Cargo itself uses.
//!
//! One deliberate choice: the ordering is SemVer *precedence*, which ignores build metadata
//! (`1.0.0+a` == `1.0.0+b`), rather than `semver::Version`'s `Ord`, which also orders on build metadata.
//! crates.io refuses versions that differ only in build metadata, and OSV's `crates.io` ecosystem is
//! defined as SemVer 2.0, so precedence is what advisory ranges mean.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystems::order_key::semver as semver_key;

/// A crates.io version such as `1.2.3-alpha.1+build`.
#[derive(Debug, Clone)]
pub struct CargoVersion(semver::Version);

/// Why a string is not a crates.io version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid crates.io version {input:?}: {reason}")]
pub struct InvalidCargoVersion {
    pub input: String,
    pub reason: String,
}

impl CargoVersion {
    /// The parsed `semver` value, for callers that need its fields.
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }
}

impl FromStr for CargoVersion {
    type Err = InvalidCargoVersion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        semver::Version::parse(s)
            .map(CargoVersion)
            .map_err(|e| InvalidCargoVersion {
                input: s.chars().take(80).collect(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for CargoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Ord for CargoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl PartialOrd for CargoVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality follows the ordering: build metadata does not count.
impl PartialEq for CargoVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for CargoVersion {}

/// Compares two crates.io versions by SemVer precedence.
///
/// Fallback: a string that is not a SemVer version sorts before every valid version; two invalid strings
/// compare by their bytes.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (a.parse::<CargoVersion>(), b.parse::<CargoVersion>()) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Ok(_)) => Ordering::Less,
        (Err(_), Err(_)) => a.as_bytes().cmp(b.as_bytes()),
    }
}

/// The version's order key ([`version_order_key`](crate::ecosystems::version_order_key)): SemVer
/// precedence, build metadata left out. `None` for what is not a SemVer version, where [`compare`] falls
/// back.
pub fn order_key(version: &str) -> Option<Vec<u8>> {
    let version = version.parse::<CargoVersion>().ok()?.0;
    let prerelease = (!version.pre.is_empty()).then(|| version.pre.as_str().split('.'));
    semver_key(
        &version.major.to_string(),
        &version.minor.to_string(),
        &version.patch.to_string(),
        prerelease.into_iter().flatten(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecosystems::python::version::reference_tool;
    use proptest::prelude::*;

    #[test]
    fn precedence_ignores_build_metadata() {
        assert_eq!(compare("1.0.0+a", "1.0.0+b"), Ordering::Equal);
        assert_eq!(
            compare("1.0.0-alpha.10", "1.0.0-alpha.9"),
            Ordering::Greater
        );
        assert_eq!(compare("1.0.0-alpha", "1.0.0"), Ordering::Less);
        assert_eq!(compare("0.10.0", "0.9.30"), Ordering::Greater);
    }

    #[test]
    fn rejects_what_cargo_rejects() {
        for bad in ["1.0", "v1.0.0", "1.0.0-", "01.0.0", " 1.0.0", "1.0.0.0", ""] {
            assert!(bad.parse::<CargoVersion>().is_err(), "{bad:?}");
            assert_eq!(compare(bad, "0.0.0"), Ordering::Less, "{bad:?}");
        }
        let _ = compare(&"9".repeat(1000), "1.0.0");
        assert!("18446744073709551616.0.0".parse::<CargoVersion>().is_err());
    }

    fn strict_semver() -> impl Strategy<Value = String> {
        let identifier = prop_oneof![
            (0u64..20).prop_map(|n| n.to_string()),
            "[a-zA-Z][a-zA-Z0-9-]{0,4}",
            Just("-".to_owned()),
            Just("0a".to_owned()),
        ];
        (
            0u64..5,
            0u64..12,
            0u64..12,
            prop::collection::vec(identifier, 0..3),
            prop::option::of("[a-z0-9]{1,5}"),
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

    /// Cargo has no command that compares two versions, so strict SemVer pairs are checked against an
    /// independent implementation of the same SemVer 2.0 precedence: node's `semver` package, in one process.
    #[test]
    fn agrees_with_node_semver_precedence() {
        let pairs = reference_tool::generate((strict_semver(), strict_semver()), 3000);
        let script = r#"
const semver = require(require("path").join(process.argv[1], "semver"));
const out = [];
for (const line of require("fs").readFileSync(0, "utf8").split("\n")) {
    if (line === "") continue;
    const [a, b] = line.split("\t");
    out.push(String(semver.compare(a, b)));
}
process.stdout.write(out.map((l) => l + "\n").join(""));
"#;
        let node_modules = reference_tool::node_modules()
            .to_string_lossy()
            .into_owned();
        let verdicts = reference_tool::run_pairs(
            std::path::Path::new("node"),
            &["-e", script, &node_modules],
            &pairs,
            "install node and the npm package `semver` (`mkdir -p .ref && cd .ref && npm install semver` at the \
             repository root), or point LUCID_REF_NODE_MODULES at a node_modules holding `semver`",
        );
        reference_tool::assert_covers(&verdicts, &["-1", "0", "1"]);
        let failures: Vec<String> = pairs
            .iter()
            .zip(&verdicts)
            .filter_map(|((a, b), verdict)| {
                let ours = (compare(a, b) as i8).to_string();
                (&ours != verdict)
                    .then(|| format!("{a} vs {b}: ours {ours}, node semver {verdict}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} disagreements:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    /// [`order_key`] against [`compare`] (itself checked against node's SemVer above): same order, equal
    /// keys exactly for equal versions (build metadata aside), no key where `compare` falls back.
    #[test]
    fn order_keys_sort_as_compare_does() {
        let any = prop_oneof![6 => strict_semver(), 1 => "[0-9.a-z+-]{0,8}"];
        let pairs = reference_tool::generate(
            prop_oneof![
                4 => (any.clone(), any),
                1 => strict_semver().prop_map(|a| (a.clone(), format!("{}+other", a.split('+').next().unwrap_or("")))),
            ],
            30_000,
        );
        crate::ecosystems::order_key::assert_keys_sort_as_compare(
            &pairs,
            super::order_key,
            compare,
            |v| v.parse::<CargoVersion>().is_ok(),
            1000,
        );
    }
}
