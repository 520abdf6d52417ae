//! Which feeds exist: the public sources (`online`) and the feeds found in a local folder (`discover`,
//! for air-gapped installs: `lucid update --from DIR`).
//!
//! Source names are stable identifiers: the run lock, the `feed_status` row and (except OSV, split per
//! ecosystem as `osv/<Ecosystem>`) the updater name of the source's update operations.

use std::path::{Path, PathBuf};

use super::source::{FeedFormat, FeedSource, Origin};

/// Base URLs of the public feeds; tests and mirrors point them elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMirrors {
    /// osv.dev's bucket: `<base>/<Ecosystem>/all.zip`.
    pub osv: String,
    /// Alpine secdb: `<base>/<branch>/<repo>.json`.
    pub alpine: String,
    /// Ubuntu OVAL: `<base>/com.ubuntu.<series>.cve.oval.xml.bz2`.
    pub ubuntu: String,
    /// The Debian security tracker's JSON export.
    pub debian_tracker: String,
    /// Red Hat OVAL v2: `<base>/RHEL<major>/rhel-<major>.oval.xml.bz2` (the alternative RHEL source).
    pub rhel_oval: String,
    /// Red Hat CSAF VEX directory: `<base>/archive_latest.txt`, `changes.csv`, `deletions.csv`, documents.
    pub rhel_vex: String,
    /// Amazon Linux repositories: `<base>/al2023/core/mirrors/latest/x86_64/mirror.list` (2023) and
    /// `<base>/2/core/latest/x86_64/mirror.list` (2), each leading to a repository's updateinfo.
    pub amazon: String,
    /// Oracle Linux ELSA OVAL: `<base>/com.oracle.elsa-ol<major>.xml.bz2`.
    pub oracle: String,
    /// SUSE OVAL: `<base>/suse.linux.enterprise.server.<major>.xml.gz`, `<base>/opensuse.leap.<x.y>.xml.gz`.
    pub suse: String,
    /// Photon OS CVE metadata: `<base>/cve_data_photon<release>.json`.
    pub photon: String,
    /// Wolfi's secdb (`<base>/os/security.json`).
    pub wolfi: String,
    /// Chainguard's secdb (`<base>/chainguard/security.json`).
    pub chainguard: String,
    /// NVD's JSON 2.0 feeds: `<base>/nvdcve-2.0-<year>.json.gz`.
    pub nvd: String,
    /// CISA's KEV catalog JSON.
    pub kev: String,
    /// FIRST's current EPSS scores (CSV, gzip).
    pub epss: String,
}

impl Default for FeedMirrors {
    fn default() -> Self {
        FeedMirrors {
            osv: "https://osv-vulnerabilities.storage.googleapis.com".to_owned(),
            alpine: "https://secdb.alpinelinux.org".to_owned(),
            ubuntu: "https://security-metadata.canonical.com/oval".to_owned(),
            debian_tracker: "https://security-tracker.debian.org/tracker/data/json".to_owned(),
            rhel_oval: "https://security.access.redhat.com/data/oval/v2".to_owned(),
            rhel_vex: crate::ecosystems::rhel::vex_feed::DEFAULT_BASE_URL.to_owned(),
            amazon: "https://cdn.amazonlinux.com".to_owned(),
            oracle: "https://linux.oracle.com/security/oval".to_owned(),
            suse: "https://ftp.suse.com/pub/projects/security/oval".to_owned(),
            photon: "https://packages.broadcom.com/photon/photon_cve_metadata".to_owned(),
            wolfi: "https://packages.wolfi.dev".to_owned(),
            chainguard: "https://packages.cgr.dev".to_owned(),
            nvd: "https://nvd.nist.gov/feeds/json/cve/2.0".to_owned(),
            kev: "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
                .to_owned(),
            epss: "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz".to_owned(),
        }
    }
}

/// OSV ecosystems fetched from osv.dev.
pub const OSV_ECOSYSTEMS: &[&str] = &[
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "Packagist",
    "NuGet",
];

/// Alpine branches with a secdb (supported and recently ended ones), and their repositories.
pub const ALPINE_BRANCHES: &[&str] = &[
    "v3.16", "v3.17", "v3.18", "v3.19", "v3.20", "v3.21", "v3.22", "edge",
];
const ALPINE_REPOS: &[&str] = &["main", "community"];

/// RHEL major releases with OVAL v2 data (RHEL-family images — CentOS, Rocky, Alma — match them too). OVAL
/// is the alternative RHEL source: the default is Red Hat's CSAF VEX (`rhel`), as in Clair.
pub const RHEL_MAJORS: &[&str] = &["7", "8", "9"];

/// Amazon Linux releases with a live repository, and the path of its mirror list under the mirror base.
/// (Amazon Linux 1 reached end of life; its `ALAS-` advisories still load from a folder.)
pub const AMAZON_RELEASES: &[(&str, &str)] = &[
    ("2023", "al2023/core/mirrors/latest/x86_64/mirror.list"),
    ("2", "2/core/latest/x86_64/mirror.list"),
];

/// Oracle Linux major releases with an ELSA OVAL file (`com.oracle.elsa-ol<major>.xml.bz2`).
pub const ORACLE_RELEASES: &[&str] = &["7", "8", "9", "10"];

/// SUSE products with an OVAL file, as claircore's SUSE updater selects them: SLES by major version,
/// openSUSE Leap by `major.minor` from 15.5 on. (os-release `ID`, release, file name.)
pub const SUSE_PRODUCTS: &[(&str, &str, &str)] = &[
    ("sles", "12", "suse.linux.enterprise.server.12.xml.gz"),
    ("sles", "15", "suse.linux.enterprise.server.15.xml.gz"),
    ("opensuse-leap", "15.5", "opensuse.leap.15.5.xml.gz"),
    ("opensuse-leap", "15.6", "opensuse.leap.15.6.xml.gz"),
];

/// Photon OS releases with CVE metadata (`photon_versions.json` lists the same branches).
pub const PHOTON_RELEASES: &[&str] = &["3.0", "4.0", "5.0"];

/// Ubuntu series with CVE OVAL (LTS and current releases).
pub const UBUNTU_SERIES: &[&str] = &["bionic", "focal", "jammy", "noble", "plucky", "questing"];

/// Every public source, at `mirrors`.
pub fn online(mirrors: &FeedMirrors) -> Vec<FeedSource> {
    let mut sources = Vec::new();
    sources.push(FeedSource {
        name: "debian".to_owned(),
        origin: Origin::Url(mirrors.debian_tracker.clone()),
        format: FeedFormat::DebianTracker,
    });
    for series in UBUNTU_SERIES {
        sources.push(FeedSource {
            name: format!("ubuntu/{series}"),
            origin: Origin::Url(format!(
                "{}/com.ubuntu.{series}.cve.oval.xml.bz2",
                mirrors.ubuntu.trim_end_matches('/')
            )),
            format: FeedFormat::UbuntuOval {
                series: (*series).to_owned(),
            },
        });
    }
    for branch in ALPINE_BRANCHES {
        for repo in ALPINE_REPOS {
            sources.push(FeedSource {
                name: format!("alpine/{branch}/{repo}"),
                origin: Origin::Url(format!(
                    "{}/{branch}/{repo}.json",
                    mirrors.alpine.trim_end_matches('/')
                )),
                format: FeedFormat::AlpineSecdb,
            });
        }
    }
    sources.push(FeedSource {
        name: "rhel".to_owned(),
        origin: Origin::RedHatVex(mirrors.rhel_vex.clone()),
        format: FeedFormat::RhelVex,
    });
    for (release, path) in AMAZON_RELEASES {
        sources.push(FeedSource {
            name: format!("amzn/{release}"),
            origin: Origin::YumRepository(format!(
                "{}/{path}",
                mirrors.amazon.trim_end_matches('/')
            )),
            format: FeedFormat::AmazonUpdateinfo,
        });
    }
    for major in ORACLE_RELEASES {
        sources.push(FeedSource {
            name: format!("ol/{major}"),
            origin: Origin::Url(format!(
                "{}/com.oracle.elsa-ol{major}.xml.bz2",
                mirrors.oracle.trim_end_matches('/')
            )),
            format: FeedFormat::OracleOval,
        });
    }
    for (did, release, file) in SUSE_PRODUCTS {
        sources.push(FeedSource {
            name: format!("{did}/{release}"),
            origin: Origin::Url(format!("{}/{file}", mirrors.suse.trim_end_matches('/'))),
            format: FeedFormat::SuseOval {
                product: crate::model::DistributionSelector {
                    did: (*did).to_owned(),
                    release: (*release).to_owned(),
                },
            },
        });
    }
    for release in PHOTON_RELEASES {
        sources.push(FeedSource {
            name: format!("photon/{release}"),
            origin: Origin::Url(format!(
                "{}/cve_data_photon{release}.json",
                mirrors.photon.trim_end_matches('/')
            )),
            format: FeedFormat::PhotonCveMetadata {
                release: (*release).to_owned(),
            },
        });
    }
    for (did, url) in [
        (
            "wolfi",
            format!("{}/os/security.json", mirrors.wolfi.trim_end_matches('/')),
        ),
        (
            "chainguard",
            format!(
                "{}/chainguard/security.json",
                mirrors.chainguard.trim_end_matches('/')
            ),
        ),
    ] {
        sources.push(FeedSource {
            name: did.to_owned(),
            origin: Origin::Url(url),
            format: FeedFormat::RollingSecdb {
                did: did.to_owned(),
            },
        });
    }
    for ecosystem in OSV_ECOSYSTEMS {
        sources.push(FeedSource {
            name: format!("osv/{ecosystem}"),
            origin: Origin::Url(format!(
                "{}/{ecosystem}/all.zip",
                mirrors.osv.trim_end_matches('/')
            )),
            format: FeedFormat::OsvZip,
        });
    }
    // Enrichments: CVSS from NVD (one feed per CVE year), exploited-in-the-wild from CISA, EPSS from FIRST.
    let this_year = time::OffsetDateTime::now_utc().year();
    for year in NVD_FIRST_YEAR..=this_year {
        sources.push(FeedSource {
            name: format!("nvd/{year}"),
            origin: Origin::Url(format!(
                "{}/nvdcve-2.0-{year}.json.gz",
                mirrors.nvd.trim_end_matches('/')
            )),
            format: FeedFormat::Nvd,
        });
    }
    sources.push(FeedSource {
        name: "kev".to_owned(),
        origin: Origin::Url(mirrors.kev.clone()),
        format: FeedFormat::Kev,
    });
    sources.push(FeedSource {
        name: "epss".to_owned(),
        origin: Origin::Url(mirrors.epss.clone()),
        format: FeedFormat::Epss,
    });
    sources
}

/// Public sources that duplicate a default one (their records would be reported twice), run only when
/// named: Red Hat OVAL v2 (`rhel-oval/<major>`), superseded by VEX.
pub fn alternatives(mirrors: &FeedMirrors) -> Vec<FeedSource> {
    RHEL_MAJORS
        .iter()
        .map(|major| FeedSource {
            name: format!("rhel-oval/{major}"),
            origin: Origin::Url(format!(
                "{}/RHEL{major}/rhel-{major}.oval.xml.bz2",
                mirrors.rhel_oval.trim_end_matches('/')
            )),
            format: FeedFormat::RhelOval {
                major: (*major).to_owned(),
            },
        })
        .collect()
}

/// The first year NVD publishes a feed for.
const NVD_FIRST_YEAR: i32 = 2002;

/// What a file in a feed folder is, by its name (and, for JSON, a peek at its first bytes).
fn classify(path: &Path) -> Option<Classified> {
    let name = path.file_name()?.to_str()?;
    let lower = name.to_ascii_lowercase();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    // Ubuntu: com.ubuntu.<series>.{cve,usn}.oval.xml[.bz2]
    if let Some(rest) = lower.strip_prefix("com.ubuntu.")
        && (lower.ends_with(".oval.xml") || lower.ends_with(".oval.xml.bz2"))
    {
        let mut parts = rest.split('.');
        let series = parts.next()?.to_owned();
        let kind = parts.next()?;
        let name = if kind == "cve" {
            format!("ubuntu/{series}")
        } else {
            format!("ubuntu/{series}/{kind}")
        };
        return Some(Classified::Single(name, FeedFormat::UbuntuOval { series }));
    }
    // Debian: oval-definitions-<codename>.xml[.bz2]
    if let Some(rest) = lower.strip_prefix("oval-definitions-") {
        let codename = rest
            .strip_suffix(".xml.bz2")
            .or_else(|| rest.strip_suffix(".xml"))?
            .to_owned();
        return Some(Classified::Single(
            format!("debian-oval/{codename}"),
            FeedFormat::DebianOval { codename },
        ));
    }
    // Red Hat OVAL: com.redhat.rhsa-RHEL<major>.xml[.bz2] (v1) or rhel-<major>.oval.xml[.bz2] (v2).
    let rhel_major = lower
        .strip_prefix("com.redhat.rhsa-rhel")
        .and_then(|r| {
            r.strip_suffix(".xml.bz2")
                .or_else(|| r.strip_suffix(".xml"))
        })
        .or_else(|| {
            lower.strip_prefix("rhel-").and_then(|r| {
                r.strip_suffix(".oval.xml.bz2")
                    .or_else(|| r.strip_suffix(".oval.xml"))
            })
        });
    if let Some(major) = rhel_major
        && !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(Classified::Single(
            format!("rhel-oval/{major}"),
            FeedFormat::RhelOval {
                major: major.to_owned(),
            },
        ));
    }
    // Oracle Linux ELSA OVAL: com.oracle.elsa-ol<major>.xml[.bz2] (per release, `ol/9`),
    // com.oracle.elsa-<year>.xml[.bz2] (per year, `ol-2024`) or com.oracle.elsa-all.xml[.bz2] (`ol`).
    if let Some(which) = lower.strip_prefix("com.oracle.elsa-").and_then(|r| {
        r.strip_suffix(".xml.bz2")
            .or_else(|| r.strip_suffix(".xml"))
    }) {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let name = match which {
            "all" => Some("ol".to_owned()),
            year if year.len() == 4 && digits(year) => Some(format!("ol-{year}")),
            release => release
                .strip_prefix("ol")
                .filter(|major| digits(major))
                .map(|major| format!("ol/{major}")),
        };
        if let Some(name) = name {
            return Some(Classified::Single(name, FeedFormat::OracleOval));
        }
    }
    // SUSE OVAL: suse.linux.enterprise.server.<major>.xml[.gz], opensuse.leap.<x.y>.xml[.gz].
    if let Some(product) = crate::ecosystems::suse::oval::product_of_file_name(&lower) {
        return Some(Classified::Single(
            format!("{}/{}", product.did, product.release),
            FeedFormat::SuseOval { product },
        ));
    }
    // Photon OS CVE metadata: cve_data_photon<release>.json[.gz].
    if let Some(release) = crate::ecosystems::photon::cve_metadata::release_of_file_name(&lower) {
        return Some(Classified::Single(
            format!("photon/{release}"),
            FeedFormat::PhotonCveMetadata {
                release: release.to_owned(),
            },
        ));
    }
    // Amazon Linux: a repository's updateinfo (`updateinfo.xml[.gz]`, or repodata's `<hash>-updateinfo…`),
    // in a folder named for its release (`2023/updateinfo.xml.gz`); advisory ids carry the release too.
    if lower.ends_with("updateinfo.xml") || lower.ends_with("updateinfo.xml.gz") {
        return Some(Classified::Single(
            format!("amzn/{parent}"),
            FeedFormat::AmazonUpdateinfo,
        ));
    }
    // The Debian security tracker export, saved under a recognisable name.
    if lower == "debian-security-tracker.json" || lower == "tracker.json" {
        return Some(Classified::Single(
            "debian".to_owned(),
            FeedFormat::DebianTracker,
        ));
    }
    // Wolfi and Chainguard secdb: `security.json` under a folder named for them, or named for them.
    for did in ["wolfi", "chainguard"] {
        if lower == format!("{did}-security.json")
            || (lower == "security.json" && path.components().any(|c| c.as_os_str() == did))
        {
            return Some(Classified::Single(
                did.to_owned(),
                FeedFormat::RollingSecdb {
                    did: did.to_owned(),
                },
            ));
        }
    }
    // Enrichments.
    if let Some(rest) = lower.strip_prefix("nvdcve-2.0-") {
        let year = rest.split('.').next().unwrap_or("");
        return Some(Classified::Single(format!("nvd/{year}"), FeedFormat::Nvd));
    }
    if lower.starts_with("known_exploited_vulnerabilities") && lower.ends_with(".json") {
        return Some(Classified::Single("kev".to_owned(), FeedFormat::Kev));
    }
    if lower.starts_with("epss_scores") && (lower.ends_with(".csv") || lower.ends_with(".csv.gz")) {
        return Some(Classified::Single("epss".to_owned(), FeedFormat::Epss));
    }
    // Red Hat VEX: the directory's archive, and its deletions.csv when next to one.
    if crate::ecosystems::rhel::vex_feed::is_archive_name(name) {
        return Some(Classified::Vex);
    }
    if lower == crate::ecosystems::rhel::vex_feed::DELETIONS_FILE
        && std::fs::read_dir(path.parent()?).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                crate::ecosystems::rhel::vex_feed::is_archive_name(&e.file_name().to_string_lossy())
            })
        })
    {
        return Some(Classified::Vex);
    }
    // osv.dev exports: <Ecosystem>/all.zip
    if lower.ends_with(".zip") {
        return Some(Classified::Single(
            format!("osv-zip/{parent}/{name}"),
            FeedFormat::OsvZip,
        ));
    }
    let is_json = lower.ends_with(".json");
    let is_yaml = lower.ends_with(".yaml") || lower.ends_with(".yml");
    if !is_json && !is_yaml {
        return None;
    }
    if is_yaml {
        return Some(Classified::Osv);
    }
    // Alpine secdb: <branch>/<repo>.json, with the secdb's own keys.
    let head = peek(path, 4096);
    if head.contains("\"distroversion\"") || head.contains("\"secfixes\"") {
        return Some(Classified::Single(
            format!("alpine/{parent}/{}", name.trim_end_matches(".json")),
            FeedFormat::AlpineSecdb,
        ));
    }
    if head.contains("\"csaf_version\"") || head.contains("\"csaf\"") {
        return Some(Classified::Vex);
    }
    if head.contains("\"affected\"")
        || head.contains("\"schema_version\"")
        || head.contains("\"modified\"")
    {
        return Some(Classified::Osv);
    }
    None
}

enum Classified {
    /// A file that is a whole source by itself.
    Single(String, FeedFormat),
    /// One OSV record (all of them form one source, split per ecosystem).
    Osv,
    /// One Red Hat VEX document, archive or deletions list (all of them form the `rhel` source).
    Vex,
}

fn peek(path: &Path, bytes: usize) -> String {
    use std::io::Read;
    let mut buffer = vec![0u8; bytes];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buffer))
        .unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n]).into_owned()
}

/// The feeds in a local folder (any layout: files are recognised by name and content), skipping hidden
/// files and folders. Unrecognised files are returned separately so the caller can say what it ignored.
pub fn discover(root: &Path) -> (Vec<FeedSource>, Vec<PathBuf>) {
    let mut sources = Vec::new();
    let mut osv_files = Vec::new();
    let mut vex_files = Vec::new();
    let mut ignored = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.into_path();
        match classify(&path) {
            Some(Classified::Single(name, format)) => sources.push(FeedSource {
                name,
                origin: Origin::Files(vec![path]),
                format,
            }),
            Some(Classified::Osv) => osv_files.push(path),
            Some(Classified::Vex) => vex_files.push(path),
            None => ignored.push(path),
        }
    }
    if !osv_files.is_empty() {
        sources.push(FeedSource {
            name: "osv".to_owned(),
            origin: Origin::Files(osv_files),
            format: FeedFormat::OsvFiles,
        });
    }
    if !vex_files.is_empty() {
        sources.push(FeedSource {
            name: "rhel".to_owned(),
            origin: Origin::Files(vex_files),
            format: FeedFormat::RhelVex,
        });
    }
    sources.sort_by(|a, b| a.name.cmp(&b.name));
    (sources, ignored)
}

/// The sources a configuration runs: the folder's feeds when `LUCID_FEED_DIR` (or `lucid update --from`)
/// names one, else the public feeds at their (mirrored) URLs; narrowed to the `LUCID_FEEDS` prefixes.
pub fn configured_sources(
    config: &crate::config::FeedConfig,
) -> Result<Vec<FeedSource>, super::FeedError> {
    sources_named(config, &[])
}

/// [`configured_sources`] narrowed further to `only` (`lucid update NAME…`, an EventBridge rule's
/// `detail.feeds`); [`alternatives`] join when `only` or `LUCID_FEEDS` name them.
pub fn sources_named(
    config: &crate::config::FeedConfig,
    only: &[String],
) -> Result<Vec<FeedSource>, super::FeedError> {
    let mut sources = configured_folder_or_online(config)?;
    if config.dir.is_none() {
        let named: Vec<String> = config.only.iter().chain(only).cloned().collect();
        if !named.is_empty() {
            sources.extend(select(alternatives(&config.mirrors), &named));
        }
    }
    Ok(select(select(sources, &config.only), only))
}

fn configured_folder_or_online(
    config: &crate::config::FeedConfig,
) -> Result<Vec<FeedSource>, super::FeedError> {
    let sources = match &config.dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(super::FeedError::Fetch {
                    feed: dir.display().to_string(),
                    reason: "not a readable folder".to_owned(),
                    retryable: false,
                });
            }
            let (sources, ignored) = discover(dir);
            for path in ignored {
                tracing::debug!(path = %path.display(), "not a recognised feed file");
            }
            sources
        }
        None => online(&config.mirrors),
    };
    Ok(sources)
}

/// The sources whose name starts with one of `prefixes` (all when `prefixes` is empty). A prefix matches
/// whole name segments: `alpine` selects `alpine/v3.19/main`, not `alpine-foo`.
pub fn select(sources: Vec<FeedSource>, prefixes: &[String]) -> Vec<FeedSource> {
    if prefixes.is_empty() {
        return sources;
    }
    sources
        .into_iter()
        .filter(|s| {
            prefixes.iter().any(|p| {
                s.name == *p
                    || s.name
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_matches_whole_name_segments() {
        let sources = online(&FeedMirrors::default());
        let picked = select(
            sources,
            &[
                "alpine/v3.19".to_owned(),
                "osv/PyPI".to_owned(),
                "debian".to_owned(),
            ],
        );
        let names: Vec<&str> = picked.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "debian",
                "alpine/v3.19/main",
                "alpine/v3.19/community",
                "osv/PyPI"
            ]
        );
    }
}
