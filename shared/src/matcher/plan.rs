//! What to look up for an index report: every package placed in the advisory namespace its feed files
//! records under (ecosystem, distribution id, release), with the names and versions to compare. Pure: no
//! database, so the per-distribution rules are unit-tested here.
//!
//! | packages | namespace (`ecosystem`, `did`, `release`) | compared name / version |
//! |---|---|---|
//! | dpkg on Debian | `dpkg`, `debian`, `VERSION_CODENAME` (else [`debian::codename_for_version`] of `VERSION_ID`) | source package (records say `package_is_source`) |
//! | dpkg on Ubuntu | `dpkg`, `ubuntu`, `VERSION_CODENAME` (else the series of `VERSION_ID`) | binary package |
//! | apk on Alpine | `apk`, `alpine`, [`alpine::release_of_distribution`] (`3.19`, `edge`) | origin package |
//! | apk on Wolfi / Chainguard | `apk`, `wolfi` / `chainguard`, empty | origin package |
//! | rpm on RHEL, CentOS, Rocky, AlmaLinux | `rpm`, `rhel`, major of `VERSION_ID` | binary package, same module stream |
//! | rpm on Amazon Linux | `rpm`, `amzn`, `VERSION_ID` (`2023`, `2`, `2018.03`) | binary package |
//! | rpm on Oracle Linux | `rpm`, `ol`, major of `VERSION_ID` (`9.3` → `9`) | binary package |
//! | rpm on SLES | `rpm`, `sles`, major of `VERSION_ID` (`15.6` → `15`) | binary package |
//! | rpm on openSUSE Leap | `rpm`, `opensuse-leap`, `major.minor` of `VERSION_ID` (`15.6`) | binary package |
//! | rpm on Photon OS | `rpm`, `photon`, `VERSION_ID` as `major.minor` (`5.0`) | source package |
//! | language packages | their ecosystem, empty, empty | the package |
//!
//! Which of the binary or the source name a record is compared with is the record's own
//! `package_is_source`, so the table above follows from the feeds' conventions (`crate::feeds`) rather than
//! being repeated here. Names are looked up in [`normalize_package_name`] form.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ecosystems::{alpine, debian, normalize_package_name, version_order_key};
use crate::model::{
    Distribution, Ecosystem, IndexReport, ReportDistribution, ReportPackage, ReportWarning,
};

/// Feed families replaced by another source of the same vendor: `(superseded, by)`. When a feed named `by`
/// is live, the records of feeds named `superseded` or `superseded/…` are not matched and those feeds are
/// not reported, so one advisory is not reported twice under two names (Red Hat's OVAL v2 RHSAs and its
/// CSAF VEX CVEs) while data loaded earlier from the old source (an older database, the offline
/// snapshot) is still live. Until `by` loads, the old family is used as before.
pub const SUPERSEDED_FEEDS: &[(&str, &str)] = &[("rhel-oval", "rhel")];

/// Whether the feed `updater` is superseded ([`SUPERSEDED_FEEDS`]) given the live feed names.
pub fn superseded<'a>(updater: &str, mut live: impl Iterator<Item = &'a str>) -> bool {
    SUPERSEDED_FEEDS.iter().any(|(old, by)| {
        let family = updater.split('/').next().unwrap_or_default();
        family == *old && live.any(|name| name == *by)
    })
}

/// Where a feed files the records for a package: the `vulnerability` table's lookup key without the name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub ecosystem: Ecosystem,
    /// os-release `ID` the records are filed under; empty for language ecosystems.
    pub did: String,
    /// Release as the feeds name it; empty for language ecosystems and rolling distributions.
    pub release: String,
}

impl Namespace {
    fn language(ecosystem: Ecosystem) -> Namespace {
        Namespace {
            ecosystem,
            did: String::new(),
            release: String::new(),
        }
    }

    /// `ecosystem/did/release`, as `update_operation.namespaces` lists the namespaces an operation's records
    /// are filed under (`feeds::store`).
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.ecosystem.as_str(), self.did, self.release)
    }

    /// The namespace of a [`Namespace::key`] (`None` for an unknown ecosystem or a malformed key).
    pub fn from_key(key: &str) -> Option<Namespace> {
        let mut parts = key.splitn(3, '/');
        let ecosystem = parts.next()?.parse().ok()?;
        Some(Namespace {
            ecosystem,
            did: parts.next()?.to_owned(),
            release: parts.next()?.to_owned(),
        })
    }

    /// Human-readable, for warnings: `dpkg packages of debian bookworm`, `pypi packages`.
    pub fn describe(&self) -> String {
        match (self.did.is_empty(), self.release.is_empty()) {
            (true, _) => format!("{} packages", self.ecosystem),
            (false, true) => format!("{} packages of {}", self.ecosystem, self.did),
            (false, false) => format!(
                "{} packages of {} {}",
                self.ecosystem, self.did, self.release
            ),
        }
    }

    /// Whether a feed named `updater` (a `latest_update_operation` or `feed_status` key) files records in
    /// this namespace, by the naming conventions of `crate::feeds` (`catalog.rs`): the feed's first name
    /// segment is the family (`debian`, `debian-oval`, `alpine`, `ubuntu`, `rhel`; `osv/<Ecosystem>`, or
    /// the `osv` source as a whole), and when it has further segments naming a release (`ubuntu/jammy`,
    /// `alpine/v3.19/main`, `debian-oval/bookworm`), one of them must be this namespace's release.
    pub fn covered_by(&self, updater: &str) -> bool {
        if let Some(osv) = self.ecosystem.osv_name() {
            return updater == format!("osv/{osv}") || updater == "osv";
        }
        if self.did.is_empty() {
            return false;
        }
        let mut segments = updater.split('/');
        let head = segments.next().unwrap_or_default();
        let family_matches = match head.strip_prefix(self.did.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('-'),
            None => false,
        };
        if !family_matches {
            return false;
        }
        let rest: Vec<&str> = segments.collect();
        if self.release.is_empty() || rest.is_empty() {
            return true;
        }
        rest.iter()
            .any(|s| *s == self.release || s.strip_prefix('v') == Some(self.release.as_str()))
    }
}

/// One installed package as the matcher compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The package's id in the report.
    pub package_id: String,
    /// Binary name, normalized.
    pub name: String,
    pub version: String,
    /// Source name (normalized) and version; the binary's own when the package database records none.
    pub source_name: String,
    pub source_version: String,
    pub module: String,
    pub arch: String,
}

impl Subject {
    /// The name and version a record compares against: the source package's for records that name
    /// source packages, the binary's otherwise.
    pub fn compared(&self, record_is_source: bool) -> (&str, &str) {
        if record_is_source {
            (&self.source_name, &self.source_version)
        } else {
            (&self.name, &self.version)
        }
    }
}

/// Everything to look up in one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    pub subjects: Vec<Subject>,
    /// Every name (binary and source) of the subjects, deduplicated and sorted: the query's `ANY` array.
    pub names: Vec<String>,
    /// Each name's version floor ([`version_floor`]), in `names`' order.
    pub floors: Vec<Box<[u8]>>,
    /// Name → indexes into `subjects` of the packages with that binary or source name.
    pub by_name: HashMap<String, Vec<usize>>,
}

/// The lookups for a report, plus what could not be placed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub lookups: BTreeMap<Namespace, Lookup>,
    /// Warnings about packages left unchecked (unsupported distribution or release).
    pub warnings: Vec<ReportWarning>,
}

/// Ubuntu series by release number, for images whose os-release lacks `VERSION_CODENAME`.
const UBUNTU_SERIES: [(&str, &str); 14] = [
    ("14.04", "trusty"),
    ("16.04", "xenial"),
    ("18.04", "bionic"),
    ("20.04", "focal"),
    ("20.10", "groovy"),
    ("21.04", "hirsute"),
    ("21.10", "impish"),
    ("22.04", "jammy"),
    ("22.10", "kinetic"),
    ("23.04", "lunar"),
    ("23.10", "mantic"),
    ("24.04", "noble"),
    ("24.10", "oracular"),
    ("25.04", "plucky"),
];

fn to_distribution(d: &ReportDistribution) -> Distribution {
    Distribution {
        did: d.did.clone(),
        name: d.name.clone(),
        version: d.version.clone(),
        version_code_name: d.version_code_name.clone(),
        version_id: d.version_id.clone(),
        arch: d.arch.clone(),
        cpe: d.cpe.clone(),
        pretty_name: d.pretty_name.clone(),
    }
}

/// The namespace of an OS package on distribution `d`, or `None` when no rule applies.
pub fn os_namespace(ecosystem: Ecosystem, d: &ReportDistribution) -> Option<Namespace> {
    let codename = || {
        let code = d.version_code_name.trim();
        (!code.is_empty()).then(|| code.to_ascii_lowercase())
    };
    let (did, release) = match (ecosystem, d.did.as_str()) {
        (Ecosystem::Dpkg, "debian") => (
            "debian",
            codename()
                .or_else(|| debian::codename_for_version(&d.version_id).map(str::to_owned))?,
        ),
        (Ecosystem::Dpkg, "ubuntu") => (
            "ubuntu",
            codename().or_else(|| {
                let version = d.version_id.trim();
                UBUNTU_SERIES
                    .iter()
                    .find(|(v, _)| *v == version)
                    .map(|(_, series)| (*series).to_owned())
            })?,
        ),
        (Ecosystem::Apk, "alpine") => (
            "alpine",
            alpine::release_of_distribution(&to_distribution(d))?,
        ),
        (Ecosystem::Apk, did @ ("wolfi" | "chainguard")) => (did, String::new()),
        (Ecosystem::Rpm, "rhel" | "centos" | "rocky" | "almalinux") => {
            let major = d.version_id.trim().split('.').next().unwrap_or_default();
            if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            ("rhel", major.to_owned())
        }
        (Ecosystem::Rpm, did @ ("ol" | "sles")) => (did, major_release(&d.version_id)?),
        (Ecosystem::Rpm, "opensuse-leap") => ("opensuse-leap", major_minor_release(&d.version_id)?),
        (Ecosystem::Rpm, "photon") => ("photon", major_minor_release(&d.version_id)?),
        (Ecosystem::Rpm, "amzn") => {
            let release = d.version_id.trim();
            if release.is_empty() {
                return None;
            }
            ("amzn", release.to_owned())
        }
        _ => return None,
    };
    Some(Namespace {
        ecosystem,
        did: did.to_owned(),
        release,
    })
}

/// The numeric major release of a `VERSION_ID` (`9.3` → `9`, `15` → `15`); `None` when there is none.
fn major_release(version_id: &str) -> Option<String> {
    let major = version_id.trim().split('.').next().unwrap_or_default();
    (!major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())).then(|| major.to_owned())
}

/// `major.minor` of a numeric `VERSION_ID`, the minor defaulting to 0 (`15.6` → `15.6`, `5` → `5.0`,
/// `15.6.1` → `15.6`); `None` when it is not numeric.
fn major_minor_release(version_id: &str) -> Option<String> {
    let mut parts = version_id.trim().split('.');
    let major = major_release(parts.next().unwrap_or_default())?;
    let minor = match parts.next() {
        None => "0",
        Some(minor) if !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()) => minor,
        Some(_) => return None,
    };
    Some(format!("{major}.{minor}"))
}

/// The subject of package `p` (report id `id`) in a namespace of `ecosystem`: names normalized, the
/// source name and version defaulting to the binary's.
pub fn subject(ecosystem: Ecosystem, id: &str, p: &ReportPackage) -> Subject {
    let name = normalize_package_name(Some(ecosystem), &p.name);
    let (source_name, source_version) = match &p.source {
        Some(source) if !source.name.is_empty() => (
            normalize_package_name(Some(ecosystem), &source.name),
            if source.version.is_empty() {
                p.version.clone()
            } else {
                source.version.clone()
            },
        ),
        _ => (name.clone(), p.version.clone()),
    };
    Subject {
        package_id: id.to_owned(),
        name,
        version: p.version.clone(),
        source_name,
        source_version,
        module: p.module.clone(),
        arch: p.arch.clone(),
    }
}

/// The least order key ([`version_order_key`]) of the versions a record of package `name` is compared with
/// in `lookup`: the source versions of the subjects with that source name, the binary versions of those
/// with that binary name. Empty (every record) when the ecosystem has no order key or one of those versions
/// has none (an unparsable version is older than any fix: every record may affect it).
pub fn version_floor(ecosystem: Ecosystem, name: &str, lookup: &Lookup) -> Box<[u8]> {
    let mut floor: Option<Vec<u8>> = None;
    let indexes = lookup
        .by_name
        .get(name)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for subject in indexes.iter().filter_map(|&i| lookup.subjects.get(i)) {
        let (binary, source) = (subject.compared(false), subject.compared(true));
        // A package that is its own source is compared one way (every report computes these keys).
        let compared = if binary == source {
            [Some(binary), None]
        } else {
            [Some(binary), Some(source)]
        };
        for (compared_name, version) in compared.into_iter().flatten() {
            if compared_name != name {
                continue;
            }
            let Some(key) = version_order_key(ecosystem, version) else {
                return Box::default();
            };
            if floor.as_ref().is_none_or(|f| key < *f) {
                floor = Some(key);
            }
        }
    }
    floor.unwrap_or_default().into()
}

/// Places every package of `index` in its namespace(s). Packages without a known ecosystem are skipped
/// (no feed could describe them); OS packages on a distribution without a rule produce a warning.
pub fn plan(index: &IndexReport) -> Plan {
    let mut lookups: BTreeMap<Namespace, Lookup> = BTreeMap::new();
    // Distribution (did + version) → number of OS packages left unchecked.
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    for (id, package) in &index.packages {
        let Ok(ecosystem) = package.ecosystem.parse::<Ecosystem>() else {
            continue;
        };
        let mut namespaces: BTreeSet<Namespace> = BTreeSet::new();
        if ecosystem.is_os() {
            let environments = index.environments.get(id).map(Vec::as_slice);
            let mut placed = false;
            for environment in environments.unwrap_or_default() {
                let Some(distribution) = index.distributions.get(&environment.distribution_id)
                else {
                    continue;
                };
                match os_namespace(ecosystem, distribution) {
                    Some(ns) => {
                        namespaces.insert(ns);
                        placed = true;
                    }
                    None => {
                        let label = format!(
                            "{} {}",
                            distribution.did,
                            if distribution.version_id.is_empty() {
                                &distribution.version_code_name
                            } else {
                                &distribution.version_id
                            }
                        );
                        *unsupported.entry(label.trim().to_owned()).or_default() += 1;
                        placed = true;
                    }
                }
            }
            if !placed {
                *unsupported
                    .entry("an unidentified distribution".to_owned())
                    .or_default() += 1;
            }
        } else {
            namespaces.insert(Namespace::language(ecosystem));
        }
        for ns in namespaces {
            let lookup = lookups.entry(ns).or_default();
            let s = subject(ecosystem, id, package);
            let index = lookup.subjects.len();
            lookup
                .by_name
                .entry(s.name.clone())
                .or_default()
                .push(index);
            if s.source_name != s.name {
                lookup
                    .by_name
                    .entry(s.source_name.clone())
                    .or_default()
                    .push(index);
            }
            lookup.subjects.push(s);
        }
    }
    for (ns, lookup) in &mut lookups {
        let mut names: Vec<String> = lookup.by_name.keys().cloned().collect();
        names.sort_unstable();
        lookup.floors = names
            .iter()
            .map(|name| version_floor(ns.ecosystem, name, lookup))
            .collect();
        lookup.names = names;
    }
    let warnings = unsupported
        .into_iter()
        .map(|(distribution, count)| {
            ReportWarning::new(
                ReportWarning::UNSUPPORTED_DISTRIBUTION,
                format!(
                    "{count} OS package(s) on {distribution} were not checked: no feed covers this \
                     distribution or release"
                ),
            )
        })
        .collect();
    Plan { lookups, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_keys_read_back() {
        for ns in [
            Namespace {
                ecosystem: Ecosystem::Dpkg,
                did: "debian".into(),
                release: "bookworm".into(),
            },
            Namespace::language(Ecosystem::Npm),
            Namespace {
                ecosystem: Ecosystem::Rpm,
                did: "rhel".into(),
                release: "9/extra".into(),
            },
        ] {
            assert_eq!(Namespace::from_key(&ns.key()), Some(ns));
        }
        assert_eq!(Namespace::from_key("cobol/x/1"), None);
        assert_eq!(Namespace::from_key("dpkg/debian"), None);
    }
    use crate::model::{Digest, Environment, IndexState};

    fn distribution(did: &str, version_id: &str, code: &str) -> ReportDistribution {
        ReportDistribution {
            id: "1".into(),
            did: did.into(),
            version_id: version_id.into(),
            version_code_name: code.into(),
            ..Default::default()
        }
    }

    fn ns(ecosystem: Ecosystem, did: &str, release: &str) -> Option<Namespace> {
        Some(Namespace {
            ecosystem,
            did: did.into(),
            release: release.into(),
        })
    }

    #[test]
    fn os_namespaces_follow_each_distribution() {
        use Ecosystem::*;
        let cases = [
            (
                Dpkg,
                distribution("debian", "12", "bookworm"),
                ns(Dpkg, "debian", "bookworm"),
            ),
            // No VERSION_CODENAME: derived from VERSION_ID.
            (
                Dpkg,
                distribution("debian", "11", ""),
                ns(Dpkg, "debian", "bullseye"),
            ),
            // trixie/sid images carry a codename but no VERSION_ID.
            (
                Dpkg,
                distribution("debian", "", "trixie"),
                ns(Dpkg, "debian", "trixie"),
            ),
            (Dpkg, distribution("debian", "", ""), None),
            (
                Dpkg,
                distribution("ubuntu", "22.04", "jammy"),
                ns(Dpkg, "ubuntu", "jammy"),
            ),
            (
                Dpkg,
                distribution("ubuntu", "24.04", ""),
                ns(Dpkg, "ubuntu", "noble"),
            ),
            (
                Apk,
                distribution("alpine", "3.19.1", ""),
                ns(Apk, "alpine", "3.19"),
            ),
            (
                Apk,
                distribution("alpine", "3.20_alpha20240329", ""),
                ns(Apk, "alpine", "edge"),
            ),
            (
                Apk,
                distribution("wolfi", "20230201", ""),
                ns(Apk, "wolfi", ""),
            ),
            (Rpm, distribution("rhel", "9.3", ""), ns(Rpm, "rhel", "9")),
            (Rpm, distribution("rocky", "9.3", ""), ns(Rpm, "rhel", "9")),
            (
                Rpm,
                distribution("almalinux", "8.9", ""),
                ns(Rpm, "rhel", "8"),
            ),
            (Rpm, distribution("centos", "7", ""), ns(Rpm, "rhel", "7")),
            (Rpm, distribution("rhel", "", ""), None),
            // No feed/rule: Amazon Linux, SUSE; and mismatched formats.
            (
                Rpm,
                distribution("amzn", "2023", ""),
                ns(Rpm, "amzn", "2023"),
            ),
            (Rpm, distribution("amzn", "2", ""), ns(Rpm, "amzn", "2")),
            (Rpm, distribution("amzn", "", ""), None),
            // Oracle Linux and SLES by major release, Leap by major.minor, Photon by its VERSION_ID.
            (Rpm, distribution("ol", "9.3", ""), ns(Rpm, "ol", "9")),
            (Rpm, distribution("ol", "8", ""), ns(Rpm, "ol", "8")),
            (Rpm, distribution("ol", "", ""), None),
            (Rpm, distribution("sles", "15.5", ""), ns(Rpm, "sles", "15")),
            (Rpm, distribution("sles", "12.5", ""), ns(Rpm, "sles", "12")),
            (
                Rpm,
                distribution("opensuse-leap", "15.6", ""),
                ns(Rpm, "opensuse-leap", "15.6"),
            ),
            (
                Rpm,
                distribution("opensuse-leap", "15", ""),
                ns(Rpm, "opensuse-leap", "15.0"),
            ),
            (Rpm, distribution("opensuse-leap", "15.x", ""), None),
            (
                Rpm,
                distribution("photon", "5.0", ""),
                ns(Rpm, "photon", "5.0"),
            ),
            (
                Rpm,
                distribution("photon", "4", ""),
                ns(Rpm, "photon", "4.0"),
            ),
            (Rpm, distribution("photon", "", ""), None),
            // No rule: openSUSE Tumbleweed, and mismatched formats.
            (
                Rpm,
                distribution("opensuse-tumbleweed", "20241101", ""),
                None,
            ),
            (Dpkg, distribution("photon", "5.0", ""), None),
            (Dpkg, distribution("alpine", "3.19.1", ""), None),
        ];
        for (eco, d, want) in cases {
            assert_eq!(os_namespace(eco, &d), want, "{eco} on {d:?}");
        }
    }

    /// Detection to namespace: real os-release files through the distribution scanner's parser, then the
    /// rule of this module.
    #[test]
    fn os_release_files_place_oracle_suse_and_photon_packages() {
        macro_rules! os_release {
            ($file:literal) => {
                include_str!(concat!("../ecosystems/distribution/testdata/", $file))
            };
        }
        let cases = [
            (os_release!("oracle-8.os-release"), "ol", "8"),
            (os_release!("oracle-9.os-release"), "ol", "9"),
            (os_release!("sles-15.os-release"), "sles", "15"),
            (os_release!("sles-15.6-bci.os-release"), "sles", "15"),
            (
                os_release!("opensuse-leap-15.os-release"),
                "opensuse-leap",
                "15.5",
            ),
            (
                os_release!("opensuse-leap-15.6.os-release"),
                "opensuse-leap",
                "15.6",
            ),
            (os_release!("photon-4.os-release"), "photon", "4.0"),
            (os_release!("photon-5.os-release"), "photon", "5.0"),
        ];
        for (text, did, release) in cases {
            let detected =
                crate::ecosystems::distribution::from_os_release(text).expect("a distribution");
            let reported = ReportDistribution::from_distribution("1".into(), &detected);
            assert_eq!(
                os_namespace(Ecosystem::Rpm, &reported),
                ns(Ecosystem::Rpm, did, release),
                "{}",
                detected.pretty_name
            );
        }
    }

    #[test]
    fn coverage_by_updater_name() {
        let bookworm = ns(Ecosystem::Dpkg, "debian", "bookworm").unwrap();
        for covering in [
            "debian",
            "debian-oval",
            "debian-oval/bookworm",
            "debian/bookworm",
        ] {
            assert!(bookworm.covered_by(covering), "{covering}");
        }
        for other in [
            "debian-oval/bullseye",
            "debianish",
            "ubuntu",
            "osv/PyPI",
            "",
            "deb",
        ] {
            assert!(!bookworm.covered_by(other), "{other}");
        }
        let alpine = ns(Ecosystem::Apk, "alpine", "3.19").unwrap();
        assert!(alpine.covered_by("alpine/v3.19/main"));
        assert!(alpine.covered_by("alpine/v3.19/community"));
        assert!(!alpine.covered_by("alpine/v3.18/main"));
        assert!(!alpine.covered_by("alpine/edge/main"));
        let edge = ns(Ecosystem::Apk, "alpine", "edge").unwrap();
        assert!(edge.covered_by("alpine/edge/main"));
        let oracular = ns(Ecosystem::Dpkg, "ubuntu", "oracular").unwrap();
        assert!(oracular.covered_by("ubuntu/oracular"));
        assert!(oracular.covered_by("ubuntu/oracular/usn"));
        assert!(!oracular.covered_by("ubuntu/jammy"));
        let pypi = Namespace::language(Ecosystem::PyPI);
        assert!(pypi.covered_by("osv/PyPI"));
        assert!(pypi.covered_by("osv"));
        assert!(!pypi.covered_by("osv/npm"));
        assert!(!pypi.covered_by("pypi"));
        let rhel = ns(Ecosystem::Rpm, "rhel", "9").unwrap();
        assert!(rhel.covered_by("rhel"));
        assert!(rhel.covered_by("rhel-oval/9"));
        assert!(!rhel.covered_by("rhel-oval/8"));
        assert!(!rhel.covered_by("rhel/8"));
        // Red Hat's OVAL feeds give way to its VEX feed once that has loaded.
        assert!(superseded("rhel-oval/9", ["rhel", "alpine"].into_iter()));
        assert!(!superseded("rhel-oval/9", ["alpine"].into_iter()));
        assert!(!superseded("rhel", ["rhel"].into_iter()));
        assert!(!superseded("rhel-ovalish", ["rhel"].into_iter()));
        let wolfi = ns(Ecosystem::Apk, "wolfi", "").unwrap();
        assert!(wolfi.covered_by("wolfi"));
        // The feeds of the catalog's names for Oracle, SUSE and Photon (`feeds::catalog`).
        let ol9 = ns(Ecosystem::Rpm, "ol", "9").unwrap();
        for covering in ["ol/9", "ol", "ol-2024"] {
            assert!(ol9.covered_by(covering), "{covering}");
        }
        assert!(!ol9.covered_by("ol/8"));
        assert!(!ol9.covered_by("opensuse-leap/15.6"));
        let sles = ns(Ecosystem::Rpm, "sles", "15").unwrap();
        assert!(sles.covered_by("sles/15"));
        assert!(!sles.covered_by("sles/12"));
        assert!(!sles.covered_by("opensuse-leap/15.6"));
        let leap = ns(Ecosystem::Rpm, "opensuse-leap", "15.6").unwrap();
        assert!(leap.covered_by("opensuse-leap/15.6"));
        assert!(!leap.covered_by("opensuse-leap/15.5"));
        let photon = ns(Ecosystem::Rpm, "photon", "5.0").unwrap();
        assert!(photon.covered_by("photon/5.0"));
        assert!(!photon.covered_by("photon/4.0"));
    }

    #[test]
    fn plan_groups_packages_and_flags_unsupported_ones() {
        let mut index = IndexReport::new(Digest::sha256_of(b"m"), IndexState::IndexFinished);
        index
            .distributions
            .insert("1".into(), distribution("debian", "12", "bookworm"));
        index.distributions.insert(
            "2".into(),
            distribution("opensuse-tumbleweed", "20241101", ""),
        );
        let package =
            |name: &str, version: &str, eco: &str, source: Option<(&str, &str)>| ReportPackage {
                name: name.into(),
                version: version.into(),
                ecosystem: eco.into(),
                source: source.map(|(n, v)| {
                    Box::new(ReportPackage {
                        name: n.into(),
                        version: v.into(),
                        ..Default::default()
                    })
                }),
                ..Default::default()
            };
        let env = |d: &str| {
            vec![Environment {
                distribution_id: d.into(),
                ..Default::default()
            }]
        };
        index.packages.insert(
            "1".into(),
            package(
                "libssl3",
                "3.0.11-1~deb12u2",
                "dpkg",
                Some(("openssl", "3.0.11-1~deb12u2")),
            ),
        );
        index.environments.insert("1".into(), env("1"));
        index.packages.insert(
            "2".into(),
            package("tzdata", "2024a-0+deb12u1", "dpkg", None),
        );
        index.environments.insert("2".into(), env("1"));
        index
            .packages
            .insert("3".into(), package("PyYAML", "5.3", "pypi", None));
        index.packages.insert(
            "4".into(),
            package("curl", "8.0.1-150400.5.41.1", "rpm", None),
        );
        index.environments.insert("4".into(), env("2"));
        index
            .packages
            .insert("5".into(), package("mystery", "1", "", None));

        let plan = plan(&index);
        let keys: Vec<&Namespace> = plan.lookups.keys().collect();
        assert_eq!(
            keys,
            [
                &ns(Ecosystem::Dpkg, "debian", "bookworm").unwrap(),
                &Namespace::language(Ecosystem::PyPI)
            ]
        );
        let debian = &plan.lookups[keys[0]];
        assert_eq!(debian.names, ["libssl3", "openssl", "tzdata"]);
        assert_eq!(
            debian.subjects[0].compared(true),
            ("openssl", "3.0.11-1~deb12u2")
        );
        assert_eq!(
            debian.subjects[0].compared(false),
            ("libssl3", "3.0.11-1~deb12u2")
        );
        // No Source field: the binary is its own source.
        assert_eq!(
            debian.subjects[1].compared(true),
            ("tzdata", "2024a-0+deb12u1")
        );
        assert_eq!(debian.by_name["openssl"], [0]);
        let pypi = &plan.lookups[keys[1]];
        assert_eq!(pypi.names, ["pyyaml"]);
        assert_eq!(
            plan.warnings,
            [ReportWarning::new(
                ReportWarning::UNSUPPORTED_DISTRIBUTION,
                "1 OS package(s) on opensuse-tumbleweed 20241101 were not checked: no feed covers \
                 this distribution or release"
            )]
        );
    }

    #[test]
    fn each_name_floors_at_its_least_compared_version() {
        let mut index = IndexReport::new(Digest::sha256_of(b"m"), IndexState::IndexFinished);
        index
            .distributions
            .insert("1".into(), distribution("debian", "12", "bookworm"));
        let package = |name: &str, version: &str, eco: &str, source: Option<&str>| ReportPackage {
            name: name.into(),
            version: version.into(),
            ecosystem: eco.into(),
            source: source.map(|n| {
                Box::new(ReportPackage {
                    name: n.into(),
                    version: version.into(),
                    ..Default::default()
                })
            }),
            ..Default::default()
        };
        let installed = [
            package("libssl3", "3.0.11-1~deb12u2", "dpkg", Some("openssl")),
            // The source's own binary, older: openssl's floor is this one.
            package("openssl", "3.0.9-1", "dpkg", None),
            // dpkg refuses the version: every record of the name may affect it.
            package("tzdata", "2024a-", "dpkg", None),
            package("PyYAML", "5.3", "pypi", None),
            package("org.yaml:snakeyaml", "2.0-SNAPSHOT", "maven", None),
        ];
        for (n, p) in installed.into_iter().enumerate() {
            let id = n.to_string();
            index.environments.insert(
                id.clone(),
                vec![Environment {
                    distribution_id: "1".into(),
                    ..Default::default()
                }],
            );
            index.packages.insert(id, p);
        }
        let plan = plan(&index);
        let debian = &plan.lookups[&ns(Ecosystem::Dpkg, "debian", "bookworm").unwrap()];
        let key = |v: &str| {
            crate::ecosystems::dpkg::version::order_key(v)
                .unwrap()
                .into()
        };
        assert_eq!(debian.names, ["libssl3", "openssl", "tzdata"]);
        let expected: [Box<[u8]>; 3] = [key("3.0.11-1~deb12u2"), key("3.0.9-1"), Box::default()];
        assert_eq!(debian.floors, expected);
        // Language ecosystems floor by their own keys.
        let pypi = &plan.lookups[&Namespace::language(Ecosystem::PyPI)];
        let pep440 = crate::ecosystems::python::version::order_key("5.3");
        assert_eq!(pypi.floors, [pep440.unwrap().into_boxed_slice()]);
        // No order key for a Maven version other than a plain number: no floor.
        let maven = &plan.lookups[&Namespace::language(Ecosystem::Maven)];
        assert_eq!(maven.floors, [Box::<[u8]>::default()]);
    }
}
