//! [`DistributionScanner`]: every file that names the operating system, for every distribution, in one
//! scanner; and [`resolve`], which turns what one layer yielded into one answer.

use crate::model::{Distribution, LayerContents};
use crate::scanner::{EntryInfo, PackageScanner, ScanError};

use super::{os_release, release_files};

const SCANNER_NAME: &str = "os-release";

/// These files are a few hundred bytes; anything much larger is not one of them.
const MAX_RELEASE_FILE_SIZE: u64 = 64 * 1024;

/// The kinds of file the scanner reads, by path inside the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleaseFile {
    OsRelease,
    LsbRelease,
    AlpineRelease,
    DebianVersion,
    RedHatFamily,
    SuseRelease,
    SuseBrand,
    PhotonRelease,
}

impl ReleaseFile {
    fn for_path(path: &str) -> Option<ReleaseFile> {
        Some(match path {
            "etc/os-release" | "usr/lib/os-release" => ReleaseFile::OsRelease,
            "etc/lsb-release" => ReleaseFile::LsbRelease,
            "etc/alpine-release" => ReleaseFile::AlpineRelease,
            "etc/debian_version" => ReleaseFile::DebianVersion,
            "etc/redhat-release"
            | "etc/system-release"
            | "etc/centos-release"
            | "etc/rocky-release"
            | "etc/almalinux-release"
            | "etc/oracle-release" => ReleaseFile::RedHatFamily,
            "etc/SuSE-release" => ReleaseFile::SuseRelease,
            "etc/SUSE-brand" => ReleaseFile::SuseBrand,
            "etc/photon-release" => ReleaseFile::PhotonRelease,
            _ => return None,
        })
    }
}

/// Reads os-release and the distribution-specific release files; emits one [`Distribution`] per file
/// understood. Records from os-release have `name` set; records from the other files never do (see
/// [`resolve`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct DistributionScanner;

/// A parenthesised lowercase codename inside os-release's `VERSION` (`12 (bookworm)`,
/// `Debian GNU/Linux 12 (bookworm)` in distroless), as Clair's Debian scanner reads it.
fn codename_in_version(version: &str) -> Option<String> {
    let (_, tail) = version.split_once('(')?;
    let (inside, _) = tail.split_once(')')?;
    let is_codename = !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_lowercase());
    is_codename.then(|| inside.to_owned())
}

/// Maps os-release variables onto a [`Distribution`]; `None` without an `ID`.
pub fn from_os_release(text: &str) -> Option<Distribution> {
    let vars = os_release::parse(text);
    let get = |key: &str| {
        vars.get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let did = get("ID");
    if did.is_empty() {
        return None;
    }
    let version = get("VERSION");
    let version_code_name = [get("VERSION_CODENAME"), get("UBUNTU_CODENAME")]
        .into_iter()
        .find(|c| !c.is_empty())
        .or_else(|| codename_in_version(&version))
        .unwrap_or_default();
    let name = match get("NAME") {
        // os-release(5): NAME defaults to "Linux". Keeping it non-empty also marks the record as os-release.
        n if n.is_empty() => "Linux".to_owned(),
        n => n,
    };
    Some(Distribution {
        did,
        name,
        version,
        version_code_name,
        version_id: get("VERSION_ID"),
        arch: String::new(),
        cpe: get("CPE_NAME"),
        pretty_name: get("PRETTY_NAME"),
    })
}

impl PackageScanner for DistributionScanner {
    fn name(&self) -> &'static str {
        SCANNER_NAME
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn claims(&self, entry: &EntryInfo<'_>) -> bool {
        ReleaseFile::for_path(entry.path).is_some()
    }

    fn max_file_size(&self) -> u64 {
        MAX_RELEASE_FILE_SIZE
    }

    fn scan(
        &self,
        entry: &EntryInfo<'_>,
        contents: &[u8],
        out: &mut LayerContents,
    ) -> Result<(), ScanError> {
        let error = |reason: &str| ScanError::new(SCANNER_NAME, entry.path, reason);
        let kind = ReleaseFile::for_path(entry.path).ok_or_else(|| error("not a release file"))?;
        let text = std::str::from_utf8(contents).map_err(|_| error("not UTF-8 text"))?;
        let found = match kind {
            ReleaseFile::OsRelease => from_os_release(text),
            ReleaseFile::LsbRelease => release_files::lsb_release(text),
            ReleaseFile::AlpineRelease => release_files::alpine_release(text),
            ReleaseFile::DebianVersion => release_files::debian_version(text),
            ReleaseFile::RedHatFamily => release_files::red_hat_release(text),
            ReleaseFile::SuseRelease => release_files::suse_release(text),
            ReleaseFile::SuseBrand => release_files::suse_brand(text),
            ReleaseFile::PhotonRelease => release_files::photon_release(text),
        };
        let distribution = found.ok_or_else(|| error("no distribution recognised in the file"))?;
        out.distributions.push(distribution);
        Ok(())
    }
}

/// How many fields a record fills: the tie-breaker between records of the same kind.
fn filled_fields(d: &Distribution) -> usize {
    [
        &d.did,
        &d.name,
        &d.version,
        &d.version_code_name,
        &d.version_id,
        &d.cpe,
        &d.pretty_name,
    ]
    .iter()
    .filter(|f| !f.is_empty())
    .count()
}

/// The first record with the greatest key (`Iterator::max_by_key` keeps the last).
fn first_max<'a, K: Ord>(
    records: impl Iterator<Item = &'a Distribution>,
    key: impl Fn(&Distribution) -> K,
) -> Option<&'a Distribution> {
    records.fold(None, |best: Option<&Distribution>, d| match best {
        Some(b) if key(d) <= key(b) => Some(b),
        _ => Some(d),
    })
}

/// Fills `target`'s empty fields from `source`.
fn fill_gaps(target: &mut Distribution, source: &Distribution) {
    for (to, from) in [
        (&mut target.version_id, &source.version_id),
        (&mut target.version_code_name, &source.version_code_name),
        (&mut target.version, &source.version),
        (&mut target.pretty_name, &source.pretty_name),
        (&mut target.cpe, &source.cpe),
    ] {
        if to.is_empty() {
            to.clone_from(from);
        }
    }
}

/// Merges the distributions one layer yielded into the single best answer.
///
/// os-release wins: among os-release records (those with `name`) the fullest is kept, and files of the
/// *same* distribution fill only what it lacks (Debian testing's os-release has no `VERSION_ID`/`VERSION`;
/// `debian_version` supplies `trixie/sid`). Without os-release, the most specific fallback wins:
/// anything over `debian_version` (Ubuntu ships one naming its Debian base), then one with a version, then
/// the fullest; `name` is set to the distribution's usual name. Records of another distribution never
/// contribute, so Ubuntu never inherits a Debian codename.
pub fn resolve(found: &[Distribution]) -> Option<Distribution> {
    let from_os_release = first_max(
        found
            .iter()
            .filter(|d| !d.name.is_empty() && !d.did.is_empty()),
        filled_fields,
    );
    let fallbacks = || {
        found
            .iter()
            .filter(|d| d.name.is_empty() && !d.did.is_empty())
    };
    let mut best = match from_os_release {
        Some(os) => os.clone(),
        None => {
            let chosen = first_max(fallbacks(), |d| {
                (
                    d.did != "debian",
                    !d.version_id.is_empty(),
                    filled_fields(d),
                )
            })?;
            let mut chosen = chosen.clone();
            chosen.name = match release_files::usual_name(&chosen.did) {
                "" => chosen.did.clone(),
                usual => usual.to_owned(),
            };
            chosen
        }
    };
    let did = best.did.clone();
    for source in fallbacks().filter(|d| d.did == did) {
        fill_gaps(&mut best, source);
    }
    Some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the scanner on one file the way the layer reader does.
    fn scan(path: &str, contents: &[u8]) -> Result<Vec<Distribution>, ScanError> {
        let entry = EntryInfo {
            path,
            size: contents.len() as u64,
            mode: 0o644,
        };
        let scanner = DistributionScanner;
        assert!(scanner.claims(&entry), "{path} not claimed");
        let mut out = LayerContents::default();
        scanner.scan(&entry, contents, &mut out)?;
        Ok(out.distributions)
    }

    fn one(path: &str, contents: &[u8]) -> Distribution {
        let mut found = scan(path, contents).unwrap();
        assert_eq!(found.len(), 1);
        found.remove(0)
    }

    fn dist(
        did: &str,
        name: &str,
        version: &str,
        version_id: &str,
        code_name: &str,
        pretty_name: &str,
        cpe: &str,
    ) -> Distribution {
        Distribution {
            did: did.into(),
            name: name.into(),
            version: version.into(),
            version_code_name: code_name.into(),
            version_id: version_id.into(),
            arch: String::new(),
            cpe: cpe.into(),
            pretty_name: pretty_name.into(),
        }
    }

    macro_rules! testdata {
        ($file:literal) => {
            include_bytes!(concat!("testdata/", $file)).as_slice()
        };
    }

    #[test]
    fn claims_exactly_the_release_files() {
        let scanner = DistributionScanner;
        for path in [
            "etc/os-release",
            "usr/lib/os-release",
            "etc/lsb-release",
            "etc/alpine-release",
            "etc/debian_version",
            "etc/redhat-release",
            "etc/system-release",
            "etc/centos-release",
            "etc/rocky-release",
            "etc/almalinux-release",
            "etc/oracle-release",
            "etc/SuSE-release",
            "etc/SUSE-brand",
            "etc/photon-release",
        ] {
            assert!(
                scanner.claims(&EntryInfo {
                    path,
                    size: 10,
                    mode: 0o644
                }),
                "{path}"
            );
        }
        for path in [
            "etc/os-release.bak",
            "usr/etc/os-release",
            "etc/issue",
            "home/u/etc/os-release",
            "etc/fedora-release",
            "lib/apk/db/installed",
        ] {
            assert!(
                !scanner.claims(&EntryInfo {
                    path,
                    size: 10,
                    mode: 0o644
                }),
                "{path}"
            );
        }
        assert_eq!(scanner.name(), "os-release");
        assert!(!scanner.error_fails_layer());
    }

    #[test]
    fn os_release_of_every_distribution() {
        let cases = [
            (
                testdata!("debian-12.os-release"),
                dist(
                    "debian",
                    "Debian GNU/Linux",
                    "12 (bookworm)",
                    "12",
                    "bookworm",
                    "Debian GNU/Linux 12 (bookworm)",
                    "",
                ),
            ),
            (
                testdata!("debian-trixie-sid.os-release"),
                dist(
                    "debian",
                    "Debian GNU/Linux",
                    "",
                    "",
                    "trixie",
                    "Debian GNU/Linux trixie/sid",
                    "",
                ),
            ),
            (
                testdata!("distroless-debian12.os-release"),
                dist(
                    "debian",
                    "Debian GNU/Linux",
                    "Debian GNU/Linux 12 (bookworm)",
                    "12",
                    "bookworm",
                    "Distroless",
                    "",
                ),
            ),
            (
                testdata!("ubuntu-22.04.os-release"),
                dist(
                    "ubuntu",
                    "Ubuntu",
                    "22.04.3 LTS (Jammy Jellyfish)",
                    "22.04",
                    "jammy",
                    "Ubuntu 22.04.3 LTS",
                    "",
                ),
            ),
            (
                testdata!("alpine-3.19.os-release"),
                dist(
                    "alpine",
                    "Alpine Linux",
                    "",
                    "3.19.1",
                    "",
                    "Alpine Linux v3.19",
                    "",
                ),
            ),
            (
                testdata!("alpine-edge.os-release"),
                dist(
                    "alpine",
                    "Alpine Linux",
                    "",
                    "3.20_alpha20240329",
                    "",
                    "Alpine Linux edge",
                    "",
                ),
            ),
            (
                testdata!("rhel-9.os-release"),
                dist(
                    "rhel",
                    "Red Hat Enterprise Linux",
                    "9.3 (Plow)",
                    "9.3",
                    "",
                    "Red Hat Enterprise Linux 9.3 (Plow)",
                    "cpe:/o:redhat:enterprise_linux:9::baseos",
                ),
            ),
            (
                testdata!("centos-7.os-release"),
                dist(
                    "centos",
                    "CentOS Linux",
                    "7 (Core)",
                    "7",
                    "",
                    "CentOS Linux 7 (Core)",
                    "cpe:/o:centos:centos:7",
                ),
            ),
            (
                testdata!("rocky-9.os-release"),
                dist(
                    "rocky",
                    "Rocky Linux",
                    "9.3 (Blue Onyx)",
                    "9.3",
                    "",
                    "Rocky Linux 9.3 (Blue Onyx)",
                    "cpe:/o:rocky:rocky:9::baseos",
                ),
            ),
            (
                testdata!("almalinux-9.os-release"),
                dist(
                    "almalinux",
                    "AlmaLinux",
                    "9.3 (Shamrock Pampas Cat)",
                    "9.3",
                    "",
                    "AlmaLinux 9.3 (Shamrock Pampas Cat)",
                    "cpe:/o:almalinux:almalinux:9::baseos",
                ),
            ),
            (
                testdata!("amzn-2.os-release"),
                dist(
                    "amzn",
                    "Amazon Linux",
                    "2",
                    "2",
                    "",
                    "Amazon Linux 2",
                    "cpe:2.3:o:amazon:amazon_linux:2",
                ),
            ),
            (
                testdata!("amzn-2023.os-release"),
                dist(
                    "amzn",
                    "Amazon Linux",
                    "2023",
                    "2023",
                    "",
                    "Amazon Linux 2023.3.20240131",
                    "cpe:2.3:o:amazon:amazon_linux:2023",
                ),
            ),
            (
                testdata!("oracle-8.os-release"),
                dist(
                    "ol",
                    "Oracle Linux Server",
                    "8.9",
                    "8.9",
                    "",
                    "Oracle Linux Server 8.9",
                    "cpe:/o:oracle:linux:8:9:server",
                ),
            ),
            (
                testdata!("sles-15.os-release"),
                dist(
                    "sles",
                    "SLES",
                    "15-SP5",
                    "15.5",
                    "",
                    "SUSE Linux Enterprise Server 15 SP5",
                    "cpe:/o:suse:sles:15:sp5",
                ),
            ),
            (
                testdata!("opensuse-leap-15.os-release"),
                dist(
                    "opensuse-leap",
                    "openSUSE Leap",
                    "15.5",
                    "15.5",
                    "",
                    "openSUSE Leap 15.5",
                    "cpe:/o:opensuse:leap:15.5",
                ),
            ),
            (
                testdata!("photon-5.os-release"),
                dist(
                    "photon",
                    "VMware Photon OS",
                    "5.0",
                    "5.0",
                    "",
                    "VMware Photon OS/Linux",
                    "",
                ),
            ),
            (
                testdata!("wolfi.os-release"),
                dist("wolfi", "Wolfi", "", "20230201", "", "Wolfi", ""),
            ),
            (
                testdata!("chainguard.os-release"),
                dist(
                    "chainguard",
                    "Chainguard",
                    "",
                    "20230214",
                    "",
                    "Chainguard",
                    "",
                ),
            ),
        ];
        for (contents, expected) in cases {
            assert_eq!(one("etc/os-release", contents), expected);
            assert_eq!(one("usr/lib/os-release", contents), expected);
        }
    }

    #[test]
    fn fallback_files() {
        let cases = [
            (
                "etc/debian_version",
                testdata!("debian-12.debian_version"),
                dist("debian", "", "12.11", "12", "bookworm", "", ""),
            ),
            (
                "etc/debian_version",
                testdata!("debian-trixie.debian_version"),
                dist("debian", "", "trixie/sid", "", "trixie", "", ""),
            ),
            (
                "etc/lsb-release",
                testdata!("ubuntu-22.04.lsb-release"),
                dist("ubuntu", "", "", "22.04", "jammy", "Ubuntu 22.04.3 LTS", ""),
            ),
            (
                "etc/alpine-release",
                testdata!("alpine-3.19.alpine-release"),
                dist("alpine", "", "", "3.19.1", "", "Alpine Linux v3.19", ""),
            ),
            (
                "etc/redhat-release",
                testdata!("rhel-9.redhat-release"),
                dist(
                    "rhel",
                    "",
                    "9.3 (Plow)",
                    "9.3",
                    "Plow",
                    "Red Hat Enterprise Linux release 9.3 (Plow)",
                    "",
                ),
            ),
            (
                "etc/centos-release",
                testdata!("centos-7.centos-release"),
                dist(
                    "centos",
                    "",
                    "7.9.2009 (Core)",
                    "7.9.2009",
                    "Core",
                    "CentOS Linux release 7.9.2009 (Core)",
                    "",
                ),
            ),
            (
                "etc/rocky-release",
                testdata!("rocky-9.rocky-release"),
                dist(
                    "rocky",
                    "",
                    "9.3 (Blue Onyx)",
                    "9.3",
                    "Blue Onyx",
                    "Rocky Linux release 9.3 (Blue Onyx)",
                    "",
                ),
            ),
            (
                "etc/almalinux-release",
                testdata!("almalinux-9.almalinux-release"),
                dist(
                    "almalinux",
                    "",
                    "9.3 (Shamrock Pampas Cat)",
                    "9.3",
                    "Shamrock Pampas Cat",
                    "AlmaLinux release 9.3 (Shamrock Pampas Cat)",
                    "",
                ),
            ),
            (
                "etc/oracle-release",
                testdata!("oracle-8.oracle-release"),
                dist(
                    "ol",
                    "",
                    "8.9",
                    "8.9",
                    "",
                    "Oracle Linux Server release 8.9",
                    "",
                ),
            ),
            (
                "etc/system-release",
                testdata!("amzn-2.system-release"),
                dist(
                    "amzn",
                    "",
                    "2 (Karoo)",
                    "2",
                    "Karoo",
                    "Amazon Linux release 2 (Karoo)",
                    "",
                ),
            ),
            (
                "etc/SuSE-release",
                testdata!("sles-12.SuSE-release"),
                dist(
                    "sles",
                    "",
                    "",
                    "12.5",
                    "",
                    "SUSE Linux Enterprise Server 12 (x86_64)",
                    "",
                ),
            ),
            (
                "etc/SUSE-brand",
                testdata!("sles-15.SUSE-brand"),
                dist("sles", "", "", "15", "", "", ""),
            ),
            (
                "etc/photon-release",
                testdata!("photon-5.photon-release"),
                dist("photon", "", "", "5.0", "", "VMware Photon OS 5.0", ""),
            ),
        ];
        for (path, contents, expected) in cases {
            assert_eq!(one(path, contents), expected, "{path}");
        }
    }

    fn layer(files: &[(&str, &[u8])]) -> Vec<Distribution> {
        files
            .iter()
            .flat_map(|(path, contents)| scan(path, contents).unwrap())
            .collect()
    }

    #[test]
    fn resolve_prefers_os_release_and_fills_gaps_from_the_same_distribution() {
        // Debian testing: os-release has no VERSION; debian_version supplies it.
        let testing = layer(&[
            (
                "etc/debian_version",
                testdata!("debian-trixie.debian_version"),
            ),
            (
                "usr/lib/os-release",
                testdata!("debian-trixie-sid.os-release"),
            ),
        ]);
        assert_eq!(
            resolve(&testing),
            Some(dist(
                "debian",
                "Debian GNU/Linux",
                "trixie/sid",
                "",
                "trixie",
                "Debian GNU/Linux trixie/sid",
                ""
            ))
        );
        // Stable Debian: os-release is complete, debian_version changes nothing.
        let stable = layer(&[
            ("etc/os-release", testdata!("debian-12.os-release")),
            ("etc/debian_version", testdata!("debian-12.debian_version")),
        ]);
        assert_eq!(
            resolve(&stable),
            Some(one("etc/os-release", testdata!("debian-12.os-release")))
        );
        // Distroless: os-release with ID=debian and a codename only inside VERSION.
        let distroless = layer(&[
            ("etc/debian_version", testdata!("debian-12.debian_version")),
            (
                "etc/os-release",
                testdata!("distroless-debian12.os-release"),
            ),
        ]);
        let resolved = resolve(&distroless).unwrap();
        assert_eq!(
            (
                resolved.did.as_str(),
                resolved.version_id.as_str(),
                resolved.version_code_name.as_str()
            ),
            ("debian", "12", "bookworm")
        );
        assert_eq!(resolved.pretty_name, "Distroless");
    }

    #[test]
    fn resolve_never_mixes_distributions() {
        // Ubuntu ships a debian_version naming its Debian base; it must not leak into the answer.
        let ubuntu = layer(&[
            (
                "etc/debian_version",
                testdata!("ubuntu-22.04.debian_version"),
            ),
            ("etc/lsb-release", testdata!("ubuntu-22.04.lsb-release")),
            ("etc/os-release", testdata!("ubuntu-22.04.os-release")),
        ]);
        let resolved = resolve(&ubuntu).unwrap();
        assert_eq!(
            resolved,
            one("etc/os-release", testdata!("ubuntu-22.04.os-release"))
        );
        // Without os-release, lsb-release beats debian_version.
        let old_ubuntu = layer(&[
            (
                "etc/debian_version",
                testdata!("ubuntu-22.04.debian_version"),
            ),
            ("etc/lsb-release", testdata!("ubuntu-22.04.lsb-release")),
        ]);
        assert_eq!(
            resolve(&old_ubuntu),
            Some(dist(
                "ubuntu",
                "Ubuntu",
                "",
                "22.04",
                "jammy",
                "Ubuntu 22.04.3 LTS",
                ""
            ))
        );
    }

    #[test]
    fn resolve_fallback_only_layers() {
        let centos = layer(&[
            ("etc/redhat-release", testdata!("centos-7.centos-release")),
            ("etc/centos-release", testdata!("centos-7.centos-release")),
            ("etc/system-release", testdata!("centos-7.centos-release")),
        ]);
        assert_eq!(
            resolve(&centos),
            Some(dist(
                "centos",
                "CentOS Linux",
                "7.9.2009 (Core)",
                "7.9.2009",
                "Core",
                "CentOS Linux release 7.9.2009 (Core)",
                ""
            ))
        );
        let alpine = layer(&[(
            "etc/alpine-release",
            testdata!("alpine-3.19.alpine-release"),
        )]);
        assert_eq!(
            resolve(&alpine),
            Some(dist(
                "alpine",
                "Alpine Linux",
                "",
                "3.19.1",
                "",
                "Alpine Linux v3.19",
                ""
            ))
        );
        let debian_only = layer(&[("etc/debian_version", testdata!("debian-12.debian_version"))]);
        assert_eq!(
            resolve(&debian_only),
            Some(dist(
                "debian",
                "Debian GNU/Linux",
                "12.11",
                "12",
                "bookworm",
                "",
                ""
            ))
        );
        assert_eq!(resolve(&[]), None);
        assert_eq!(resolve(&[Distribution::default()]), None);
    }

    #[test]
    fn resolve_with_rhel_family_and_amazon() {
        let amazon = layer(&[
            ("etc/system-release", testdata!("amzn-2.system-release")),
            ("etc/os-release", testdata!("amzn-2.os-release")),
        ]);
        let resolved = resolve(&amazon).unwrap();
        // os-release wins; the release file fills only the empty codename.
        assert_eq!(
            resolved,
            dist(
                "amzn",
                "Amazon Linux",
                "2",
                "2",
                "Karoo",
                "Amazon Linux 2",
                "cpe:2.3:o:amazon:amazon_linux:2"
            )
        );
        let rocky = layer(&[
            ("etc/redhat-release", testdata!("rocky-9.rocky-release")),
            ("etc/rocky-release", testdata!("rocky-9.rocky-release")),
            ("etc/os-release", testdata!("rocky-9.os-release")),
        ]);
        assert_eq!(resolve(&rocky).unwrap().did, "rocky");
        assert_eq!(resolve(&rocky).unwrap().cpe, "cpe:/o:rocky:rocky:9::baseos");
    }

    #[test]
    fn broken_files_are_clear_errors() {
        let cases: [(&str, &[u8], &str); 9] = [
            ("etc/os-release", b"\xff\xfe\x00garbage", "not UTF-8"),
            (
                "etc/os-release",
                b"NAME=\"Something\"\nVERSION=1\n",
                "no distribution",
            ),
            ("etc/os-release", b"", "no distribution"),
            ("etc/debian_version", b"kali-rolling\n", "no distribution"),
            ("etc/redhat-release", b"Fedora", "no distribution"),
            (
                "etc/redhat-release",
                b"Plan 9 release 4\n",
                "no distribution",
            ),
            ("etc/alpine-release", b"\n\n", "no distribution"),
            ("etc/SUSE-brand", b"SLE\n", "no distribution"),
            ("etc/photon-release", b"\x00\x01\x02", "no distribution"),
        ];
        for (path, contents, expected) in cases {
            let err = scan(path, contents).unwrap_err();
            assert_eq!(err.scanner, "os-release");
            assert_eq!(err.path, path);
            assert!(err.to_string().contains(expected), "{path}: {err}");
        }
    }

    #[test]
    fn truncated_and_huge_inputs_do_not_panic() {
        let full = testdata!("rhel-9.os-release");
        for cut in 0..full.len() {
            // Any prefix either yields a record or a clear error; only the ID line decides which.
            let _ = scan("etc/os-release", &full[..cut]);
        }
        let truncated = scan("etc/os-release", &full[..100]).unwrap();
        assert_eq!(truncated[0].did, "rhel");
        assert_eq!(truncated[0].cpe, "");
        let huge = format!("ID=x\nPRETTY_NAME=\"{}\n", "a".repeat(2_000_000));
        assert_eq!(
            one("etc/os-release", huge.as_bytes()).pretty_name.len(),
            2_000_000
        );
        assert_eq!(DistributionScanner.max_file_size(), 64 * 1024);
        let lone_quotes = scan("etc/os-release", b"ID=\"\nNAME='\nVERSION_ID=\"\\\n");
        assert!(lone_quotes.is_err());
    }
}
