//! The matcher against real PostgreSQL: real advisories from the repository's testdata (Debian and Ubuntu
//! OVAL, Alpine secdb, Red Hat VEX, OSV records; sources and licenses in each testdata folder's SOURCE.md),
//! parsed by the feed parsers, stored in the feed tables, and matched against index reports built the way
//! the indexer builds them (real package databases scanned from a root filesystem, coalesced across layers).
//! Each test writes out the expected hits and the expected non-hits.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use lucid::ecosystems::{alpine, amazon, debian, oracle, photon, rhel, suse, ubuntu};
use lucid::feeds::enrichment::Enrichment;
use lucid::feeds::store::FeedStore;
use lucid::feeds::{osv, oval};
use lucid::layer::{LayerLimits, coalesce, rootfs};
use lucid::matcher::{MatchError, Matcher};
use lucid::model::{
    Digest, Ecosystem, IndexReport, IndexState, LayerContents, Package, ReportWarning,
    Vulnerability, VulnerabilityReport,
};
use lucid::store::Database;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src");

fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{SHARED}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Stores `records` as the live data of `updater` with the feed store, as the updater does after a
/// successful run (operation committed, status recorded).
async fn commit_feed(db: &Database, updater: &str, records: &[Vulnerability]) -> Result<()> {
    let store = FeedStore::new(db.clone());
    store.commit(updater, "test", records).await?;
    store
        .record_attempt(updater, Ok(("test", records.len() as i64)))
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Feeds from the repository's testdata.
// ---------------------------------------------------------------------------------------------------------

fn debian_bookworm_oval() -> Vec<Vulnerability> {
    debian::oval::parse_oval(
        testdata("ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml").as_slice(),
        "bookworm",
    )
    .unwrap()
}

fn ubuntu_oracular_oval() -> Vec<Vulnerability> {
    let bz2 = testdata("ecosystems/ubuntu/testdata/com.ubuntu.oracular.usn.oval.xml.bz2");
    ubuntu::oval::parse_oval(oval::bz2_decoder(bz2.as_slice()), "oracular").unwrap()
}

fn alpine_v319_main() -> Vec<Vulnerability> {
    alpine::parse_alpine_secdb(&testdata("ecosystems/alpine/testdata/v3.19-main.json")).unwrap()
}

fn rhel_curl_vex() -> Vec<Vulnerability> {
    rhel::vex::parse_vex(&testdata("ecosystems/rhel/testdata/cve-2023-38545.json")).unwrap()
}

fn osv_samples() -> Vec<Vulnerability> {
    osv::parse_directory(Path::new(&format!("{SHARED}/feeds/testdata/osv"))).unwrap()
}

fn of_updater(records: &[Vulnerability], updater: &str) -> Vec<Vulnerability> {
    records
        .iter()
        .filter(|r| r.updater == updater)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Index reports, built as the indexer builds them.
// ---------------------------------------------------------------------------------------------------------

/// Scans a root filesystem made of `files` (path, contents) with the default scanners.
fn scan_rootfs(files: &[(&str, Vec<u8>)]) -> LayerContents {
    let dir = tempfile::tempdir().unwrap();
    for (path, data) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, data).unwrap();
    }
    let scanners = lucid::ecosystems::default_scanners();
    let refs: Vec<&dyn lucid::scanner::PackageScanner> = scanners.iter().map(|s| &**s).collect();
    let scan = rootfs::scan_directory(dir.path(), &refs, &LayerLimits::default()).unwrap();
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    scan.contents
}

/// The index report of an image whose layers have the given contents (base first).
fn index_of(layers: Vec<LayerContents>) -> IndexReport {
    let layers: Vec<(Digest, LayerContents)> = layers
        .into_iter()
        .enumerate()
        .map(|(n, c)| (Digest::sha256_of(format!("layer {n}").as_bytes()), c))
        .collect();
    let mut id = Vec::new();
    for (digest, _) in &layers {
        id.extend_from_slice(digest.to_string().as_bytes());
    }
    coalesce(&Digest::sha256_of(&id), &layers)
}

fn os_release(id: &str, version_id: &str, codename: &str) -> Vec<u8> {
    let mut text = format!("ID={id}\nVERSION_ID=\"{version_id}\"\n");
    if !codename.is_empty() {
        text.push_str(&format!("VERSION_CODENAME={codename}\n"));
    }
    text.into_bytes()
}

/// A dpkg status stanza for an installed package.
fn dpkg_stanza(name: &str, source: Option<&str>, version: &str) -> String {
    let source = source.map(|s| format!("Source: {s}\n")).unwrap_or_default();
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 100\nMaintainer: Debian <debian@example.org>\nArchitecture: amd64\n{source}\
         Version: {version}\nDescription: {name}\n\n"
    )
}

/// A bookworm image: the real minbase plus OpenSSL (binary libssl3 of source openssl) at `openssl`.
fn bookworm_with_openssl(openssl: &str) -> Result<IndexReport> {
    let mut status =
        String::from_utf8(testdata("ecosystems/dpkg/testdata/bookworm-minbase-status"))?;
    status.push('\n');
    status.push_str(&dpkg_stanza("libssl3", Some("openssl"), openssl));
    Ok(index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("debian", "12", "bookworm")),
        ("var/lib/dpkg/status", status.into_bytes()),
    ])]))
}

fn package(eco: Ecosystem, name: &str, version: &str, filepath: &str) -> Package {
    Package {
        ecosystem: Some(eco),
        name: name.into(),
        version: version.into(),
        package_db: format!("{eco}:{filepath}"),
        filepath: filepath.into(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading reports.
// ---------------------------------------------------------------------------------------------------------

/// (package name, package version) → sorted vulnerability names with their fixed_in_version.
fn findings(report: &VulnerabilityReport) -> BTreeMap<(String, String), Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for (package_id, ids) in &report.package_vulnerabilities {
        let p = &report.packages[package_id];
        let mut list: Vec<(String, String)> = ids
            .iter()
            .map(|id| {
                let v = &report.vulnerabilities[id];
                (v.name.clone(), v.fixed_in_version.clone())
            })
            .collect();
        list.sort();
        list.dedup();
        out.insert((p.name.clone(), p.version.clone()), list);
    }
    out
}

fn hits_of(report: &VulnerabilityReport, name: &str) -> Vec<(String, String)> {
    findings(report)
        .into_iter()
        .filter(|((n, _), _)| n == name)
        .flat_map(|(_, v)| v)
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

async fn matcher_with(feeds: &[(&str, Vec<Vulnerability>)]) -> Result<(Database, Matcher)> {
    let db = harness::database().await?;
    for (updater, records) in feeds {
        commit_feed(&db, updater, records)
            .await
            .with_context(|| format!("storing {updater}"))?;
    }
    Ok((db.clone(), Matcher::new(db)))
}

// ---------------------------------------------------------------------------------------------------------
// Debian: source packages, release codename, dpkg ordering, unfixed records.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn debian_matches_source_packages_of_the_release() -> Result<()> {
    let (_db, matcher) = matcher_with(&[("debian-oval/bookworm", debian_bookworm_oval())]).await?;

    // A real bookworm minbase (debootstrap, Debian 12.15) plus OpenSSL from before the CVE-2022-4304 fix.
    let mut status =
        String::from_utf8(testdata("ecosystems/dpkg/testdata/bookworm-minbase-status"))?;
    status.push('\n');
    status.push_str(&dpkg_stanza("libssl3", Some("openssl"), "3.0.7-1"));
    status.push_str(&dpkg_stanza("openssl", None, "3.0.7-1"));
    let bookworm = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("debian", "12", "bookworm")),
        ("var/lib/dpkg/status", status.clone().into_bytes()),
    ])]);
    let report = matcher.vulnerability_report(&bookworm).await?;

    // Hits: OpenSSL below 3.0.8-1 (both binaries of the source), and the two unfixed bookworm issues
    // (tar's CVE-2005-2541, source apt's CVE-2011-3374, on both its binaries apt and libapt-pkg6.0),
    // reported with no fixed version.
    let found = findings(&report);
    let expected: BTreeMap<(String, String), Vec<(String, String)>> = [
        (("apt", "2.6.1"), vec![("CVE-2011-3374", "")]),
        (("libapt-pkg6.0", "2.6.1"), vec![("CVE-2011-3374", "")]),
        (("libssl3", "3.0.7-1"), vec![("CVE-2022-4304", "3.0.8-1")]),
        (("openssl", "3.0.7-1"), vec![("CVE-2022-4304", "3.0.8-1")]),
        (
            ("tar", "1.34+dfsg-1.2+deb12u1"),
            vec![("CVE-2005-2541", "")],
        ),
    ]
    .into_iter()
    .map(|((n, v), list)| ((n.to_owned(), v.to_owned()), pairs(&list)))
    .collect();
    assert_eq!(found, expected);
    // Non-hits, spelled out: libc6 (source glibc, 2.36-9+deb12u14) is far above CVE-1999-0199's 2.2-1; no
    // openssh, mediawiki or chromium is installed.
    assert!(hits_of(&report, "libc6").is_empty());
    assert_eq!(report.vulnerabilities.len(), 3);
    let openssl_vuln = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "CVE-2022-4304")
        .unwrap();
    assert_eq!(openssl_vuln.updater, "debian-oval");
    assert_eq!(openssl_vuln.package.as_ref().unwrap().name, "openssl");
    assert_eq!(openssl_vuln.package.as_ref().unwrap().kind, "source");
    let d = openssl_vuln.distribution.as_ref().unwrap();
    assert_eq!(
        (d.did.as_str(), d.version_code_name.as_str()),
        ("debian", "bookworm")
    );
    assert!(
        openssl_vuln
            .links
            .starts_with("https://security-tracker.debian.org/tracker/CVE-2022-4304")
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let feeds: Vec<&str> = report.feeds.keys().map(String::as_str).collect();
    assert_eq!(feeds, ["debian-oval/bookworm"]);
    assert!(report.feeds["debian-oval/bookworm"].updated_at.is_some());
    assert_eq!(report.feeds["debian-oval/bookworm"].record_count, 7);

    // The fixed OpenSSL (bookworm's 3.0.11-1~deb12u2): no hit.
    let mut fixed_status =
        String::from_utf8(testdata("ecosystems/dpkg/testdata/bookworm-minbase-status"))?;
    fixed_status.push('\n');
    fixed_status.push_str(&dpkg_stanza("libssl3", Some("openssl"), "3.0.11-1~deb12u2"));
    let fixed = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("debian", "12", "bookworm")),
        ("var/lib/dpkg/status", fixed_status.into_bytes()),
    ])]);
    let report = matcher.vulnerability_report(&fixed).await?;
    assert!(hits_of(&report, "libssl3").is_empty());
    assert_eq!(hits_of(&report, "tar"), pairs(&[("CVE-2005-2541", "")]));

    // No VERSION_CODENAME: the release is derived from VERSION_ID 12; same findings.
    let no_codename = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("debian", "12", "")),
        ("var/lib/dpkg/status", status.clone().into_bytes()),
    ])]);
    let report = matcher.vulnerability_report(&no_codename).await?;
    assert_eq!(findings(&report), expected);

    // The same packages on bullseye: the records are bookworm's, so nothing, and the report says that no
    // loaded feed covers bullseye instead of looking clean.
    let bullseye = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("debian", "11", "bullseye")),
        ("var/lib/dpkg/status", status.into_bytes()),
    ])]);
    let report = matcher.vulnerability_report(&bullseye).await?;
    assert!(report.package_vulnerabilities.is_empty());
    assert!(report.vulnerabilities.is_empty());
    assert!(report.feeds.is_empty(), "{:?}", report.feeds);
    assert_eq!(
        report.warnings,
        [ReportWarning::new(
            ReportWarning::FEED_NOT_LOADED,
            "90 dpkg packages of debian bullseye were not checked: no feed covering them has loaded"
        )]
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Ubuntu: binary packages, series.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn ubuntu_matches_binary_packages_of_the_series() -> Result<()> {
    let (_db, matcher) = matcher_with(&[("ubuntu/oracular/usn", ubuntu_oracular_oval())]).await?;
    let image = |version: &str, series: &str, version_id: &str| {
        let mut status = dpkg_stanza("libcurl4t64", Some("curl"), version);
        status.push_str(&dpkg_stanza("curl", None, version));
        status.push_str(&dpkg_stanza("libexpat1", Some("expat"), "2.6.2-2ubuntu0.1"));
        index_of(vec![scan_rootfs(&[
            ("etc/os-release", os_release("ubuntu", version_id, series)),
            ("var/lib/dpkg/status", status.into_bytes()),
        ])])
    };

    // Oracular's release version of curl: both curl USNs apply, to both binaries.
    let report = matcher
        .vulnerability_report(&image("8.9.1-2ubuntu2", "oracular", "24.10"))
        .await?;
    let both = pairs(&[
        ("USN-7104-1", "8.9.1-2ubuntu2.1"),
        ("USN-7162-1", "8.9.1-2ubuntu2.2"),
    ]);
    assert_eq!(hits_of(&report, "libcurl4t64"), both);
    assert_eq!(hits_of(&report, "curl"), both);
    // libexpat1 2.6.2-2ubuntu0.1 is USN-7145-1's fixed version: not affected.
    assert!(hits_of(&report, "libexpat1").is_empty());
    let usn = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "USN-7104-1" && v.package.as_ref().unwrap().name == "curl")
        .unwrap();
    assert_eq!(usn.package.as_ref().unwrap().kind, "binary");
    assert_eq!(
        usn.distribution.as_ref().unwrap().version_code_name,
        "oracular"
    );

    // After the first update only the second USN remains; after both, nothing.
    let report = matcher
        .vulnerability_report(&image("8.9.1-2ubuntu2.1", "oracular", "24.10"))
        .await?;
    assert_eq!(
        hits_of(&report, "libcurl4t64"),
        pairs(&[("USN-7162-1", "8.9.1-2ubuntu2.2")])
    );
    let report = matcher
        .vulnerability_report(&image("8.9.1-2ubuntu2.2", "oracular", "24.10"))
        .await?;
    assert!(report.package_vulnerabilities.is_empty());

    // Series from VERSION_ID when VERSION_CODENAME is missing; another series gets nothing.
    let report = matcher
        .vulnerability_report(&image("8.9.1-2ubuntu2", "", "24.10"))
        .await?;
    assert_eq!(hits_of(&report, "curl"), both);
    let report = matcher
        .vulnerability_report(&image("8.5.0-2ubuntu10", "noble", "24.04"))
        .await?;
    assert!(report.package_vulnerabilities.is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Alpine: origin packages, branch, apk ordering, kernel packages like any other.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn alpine_matches_origin_packages_of_the_branch() -> Result<()> {
    let (_db, matcher) = matcher_with(&[("alpine/v3.19/main", alpine_v319_main())]).await?;
    // The alpine:3.19.1 package set (apk testdata) plus the LTS kernel below the CVE-2023-32233 fix.
    let mut installed = String::from_utf8(testdata("ecosystems/apk/testdata/installed"))?;
    installed.push_str(
        "\nC:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:linux-lts\nV:6.1.27-r2\nA:x86_64\nS:1\nI:1\n\
         T:Linux lts kernel\nU:https://www.kernel.org\nL:GPL-2.0-only\no:linux-lts\n\n",
    );
    let image = |version_id: &str| {
        index_of(vec![scan_rootfs(&[
            ("etc/os-release", os_release("alpine", version_id, "")),
            ("lib/apk/db/installed", installed.clone().into_bytes()),
        ])])
    };
    let report = matcher.vulnerability_report(&image("3.19.1")).await?;

    // busybox 1.36.1-r15: fixed in r16, r17, r19 → hits; r2 and the "0" (never affected) entries → not.
    let busybox = pairs(&[
        ("CVE-2023-42363", "1.36.1-r17"),
        ("CVE-2023-42364", "1.36.1-r19"),
        ("CVE-2023-42365", "1.36.1-r19"),
        ("CVE-2023-42366", "1.36.1-r16"),
    ]);
    assert_eq!(hits_of(&report, "busybox"), busybox);
    // Binaries of the busybox origin match by origin.
    assert_eq!(hits_of(&report, "busybox-binsh"), busybox);
    assert_eq!(hits_of(&report, "ssl_client"), busybox);
    // libcrypto3 3.1.4-r5 (origin openssl): CVE-2024-0727 is fixed in exactly r5 → no hit; later fixes hit.
    let openssl = pairs(&[
        ("CVE-2024-2511", "3.1.4-r6"),
        ("CVE-2024-4603", "3.1.5-r0"),
        ("CVE-2024-4741", "3.1.6-r0"),
        ("CVE-2024-5535", "3.1.6-r0"),
        ("CVE-2024-6119", "3.1.7-r0"),
        ("CVE-2024-9143", "3.1.7-r1"),
    ]);
    assert_eq!(hits_of(&report, "libcrypto3"), openssl);
    assert_eq!(hits_of(&report, "libssl3"), openssl);
    // The kernel package is reported like any other ("CVE-46838" is the secdb's own spelling of
    // CVE-2023-46838, kept as published).
    assert_eq!(
        hits_of(&report, "linux-lts"),
        pairs(&[("CVE-2023-32233", "6.1.27-r3"), ("CVE-46838", "6.6.13-r0")])
    );
    // Not hits: zlib 1.3.1-r0 (fixes at 1.2.x; CVE-2023-45853 is "0"), musl, apk-tools 2.14.0-r5.
    for name in ["zlib", "musl", "apk-tools", "alpine-baselayout"] {
        assert!(hits_of(&report, name).is_empty(), "{name}");
    }
    let v = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "CVE-2024-2511")
        .unwrap();
    assert_eq!(v.distribution.as_ref().unwrap().version_id, "3.19");
    assert_eq!(v.package.as_ref().unwrap().name, "openssl");

    let feeds: Vec<&str> = report.feeds.keys().map(String::as_str).collect();
    assert_eq!(feeds, ["alpine/v3.19/main"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // Another branch: the v3.19 records do not apply to 3.18, and the report says 3.18 is not covered.
    let report = matcher.vulnerability_report(&image("3.18.6")).await?;
    assert!(report.package_vulnerabilities.is_empty());
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(
        report.warnings[0].message,
        "16 apk packages of alpine 3.18 were not checked: no feed covering them has loaded"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// RHEL family: major release, binary packages, rpm ordering, module streams.
// ---------------------------------------------------------------------------------------------------------

fn rpm_image(did: &str, version_id: &str, packages: &[(&str, &str, &str)]) -> IndexReport {
    let contents = LayerContents {
        packages: packages
            .iter()
            .map(|(name, version, module)| Package {
                ecosystem: Some(Ecosystem::Rpm),
                name: (*name).into(),
                version: (*version).into(),
                module: (*module).into(),
                arch: "x86_64".into(),
                package_db: "sqlite:var/lib/rpm".into(),
                filepath: "var/lib/rpm/rpmdb.sqlite".into(),
                source: Some(lucid::model::SourcePackage {
                    name: "curl".into(),
                    version: (*version).into(),
                }),
                ..Default::default()
            })
            .collect(),
        distributions: vec![lucid::model::Distribution {
            did: did.into(),
            version_id: version_id.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    index_of(vec![contents])
}

#[tokio::test]
async fn rhel_family_matches_by_major_release_and_module() -> Result<()> {
    let mut records = rhel_curl_vex();
    // A modular record in Red Hat's shape (as the VEX parser produces for module components), to check
    // that module streams must agree: nodejs:18 is not nodejs:20 nor the non-modular package.
    let mut modular = records[0].clone();
    modular.name = "CVE-2023-0000".into();
    modular.package_name = "nodejs".into();
    modular.module = "nodejs:18".into();
    modular.ranges = vec![lucid::model::AffectedRange {
        fixed: Some("1:18.17.1-1.module+el9.2.0+19753+58118bc0".into()),
        ..Default::default()
    }];
    modular.fixed_in_version = "1:18.17.1-1.module+el9.2.0+19753+58118bc0".into();
    records.push(modular);
    let (_db, matcher) = matcher_with(&[("rhel", records)]).await?;

    // Rocky 9.2 with curl from before the fix, and RHEL 9's fixed build.
    let report = matcher
        .vulnerability_report(&rpm_image(
            "rocky",
            "9.2",
            &[
                ("curl-minimal", "7.76.1-23.el9_2.2", ""),
                ("libcurl-minimal", "7.76.1-26.el9_3.2", ""),
                (
                    "nodejs",
                    "1:18.14.2-3.module+el9.2.0+18196+cad6d7ec",
                    "nodejs:18",
                ),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "curl-minimal"),
        pairs(&[("CVE-2023-38545", "0:7.76.1-26.el9_3.2")])
    );
    assert!(hits_of(&report, "libcurl-minimal").is_empty());
    assert_eq!(
        hits_of(&report, "nodejs"),
        pairs(&[("CVE-2023-0000", "1:18.17.1-1.module+el9.2.0+19753+58118bc0")])
    );

    // Another module stream, or no module: the modular record does not apply.
    let report = matcher
        .vulnerability_report(&rpm_image(
            "almalinux",
            "9.3",
            &[
                (
                    "nodejs",
                    "1:20.8.1-1.module+el9.3.0+20462+1c5bb1dd",
                    "nodejs:20",
                ),
                ("curl", "7.76.1-26.el9_3.2", ""),
            ],
        ))
        .await?;
    assert!(report.package_vulnerabilities.is_empty());

    // RHEL 8 (the CVE does not affect curl 7.61 in RHEL 8): no records, no hits.
    let report = matcher
        .vulnerability_report(&rpm_image("rhel", "8.9", &[("curl", "7.61.1-33.el8", "")]))
        .await?;
    assert!(report.package_vulnerabilities.is_empty());
    Ok(())
}

/// Red Hat's VEX (the default source) and OVAL v2 (the alternative) describe the same fix of sudo's
/// CVE-2023-22809 (RHSA-2023:0282): a RHEL 9 image gets the same answers from either, package by package.
#[tokio::test]
async fn rhel_vex_and_oval_give_the_same_answers_for_the_same_advisory() -> Result<()> {
    let vex = rhel::vex::parse_vex(&testdata(
        "ecosystems/rhel/testdata/cve-2023-22809-rhel-excerpt.json",
    ))?;
    let oval = rhel::oval::parse_oval(
        testdata("feeds/testdata/oval/rhsa-RHEL9-excerpt.xml").as_slice(),
        "9",
    )?;
    let image = || {
        rpm_image(
            "rhel",
            "9.1",
            &[
                // Before the fix, at the fix, after it.
                ("sudo", "1.9.5p2-7.el9", ""),
                ("sudo-python-plugin", "1.9.5p2-7.el9_1.1", ""),
                ("sudo-debuginfo", "1.9.5p2-8.el9", ""),
            ],
        )
    };
    let (_vex_db, vex_matcher) = matcher_with(&[("rhel", vex)]).await?;
    let (_oval_db, oval_matcher) = matcher_with(&[("rhel-oval/9", oval)]).await?;
    let from_vex = vex_matcher.vulnerability_report(&image()).await?;
    let from_oval = oval_matcher.vulnerability_report(&image()).await?;

    assert_eq!(
        hits_of(&from_vex, "sudo"),
        pairs(&[("CVE-2023-22809", "0:1.9.5p2-7.el9_1.1")])
    );
    assert_eq!(
        hits_of(&from_oval, "sudo"),
        pairs(&[("RHSA-2023:0282", "0:1.9.5p2-7.el9_1.1")])
    );
    for report in [&from_vex, &from_oval] {
        // Same packages hit, same fixed version, same severity, and both name the CVE.
        let hit: Vec<&str> = findings(report)
            .into_iter()
            .filter(|(_, hits)| !hits.is_empty())
            .map(|((name, _), _)| if name == "sudo" { "sudo" } else { "other" })
            .collect();
        assert_eq!(hit, ["sudo"]);
        assert_eq!(report.vulnerabilities.len(), 1);
        let vulnerability = report.vulnerabilities.values().next().expect("one");
        assert_eq!(
            vulnerability.normalized_severity,
            lucid::model::Severity::High
        );
        assert!(
            vulnerability
                .links
                .contains("https://access.redhat.com/security/cve/CVE-2023-22809")
                || vulnerability.links.contains("CVE-2023-22809"),
            "{}",
            vulnerability.links
        );
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    // A release neither source's records cover for this advisory: no hits from either.
    for matcher in [&vex_matcher, &oval_matcher] {
        let report = matcher
            .vulnerability_report(&rpm_image("rocky", "9.3", &[("sudo", "1.9.5p2-9.el9", "")]))
            .await?;
        assert!(report.package_vulnerabilities.values().all(Vec::is_empty));
    }
    Ok(())
}

#[tokio::test]
async fn rhel_vex_supersedes_oval_data_still_live() -> Result<()> {
    // A database that loaded Red Hat's OVAL (an older Lucid, or the offline snapshot) and then its VEX: the
    // same advisory must not be reported twice, once as the RHSA and once as the CVE.
    let vex = rhel::vex::parse_vex(&testdata(
        "ecosystems/rhel/testdata/cve-2023-22809-rhel-excerpt.json",
    ))?;
    let oval = rhel::oval::parse_oval(
        testdata("feeds/testdata/oval/rhsa-RHEL9-excerpt.xml").as_slice(),
        "9",
    )?;
    let image = || rpm_image("rhel", "9.1", &[("sudo", "1.9.5p2-7.el9", "")]);

    // OVAL alone: used as before.
    let (db, matcher) = matcher_with(&[("rhel-oval/9", oval)]).await?;
    let report = matcher.vulnerability_report(&image()).await?;
    assert_eq!(
        hits_of(&report, "sudo"),
        pairs(&[("RHSA-2023:0282", "0:1.9.5p2-7.el9_1.1")])
    );
    assert!(report.feeds.contains_key("rhel-oval/9"));

    // VEX loads too: only its record is matched, and only it is listed as the report's source, by the
    // same long-lived matcher and by a new one.
    commit_feed(&db, "rhel", &vex).await?;
    for matcher in [&matcher, &Matcher::new(db.clone())] {
        let report = matcher.vulnerability_report(&image()).await?;
        assert_eq!(
            hits_of(&report, "sudo"),
            pairs(&[("CVE-2023-22809", "0:1.9.5p2-7.el9_1.1")])
        );
        assert_eq!(report.vulnerabilities.len(), 1);
        assert_eq!(report.feeds.keys().collect::<Vec<_>>(), ["rhel"]);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }
    Ok(())
}

#[tokio::test]
async fn amazon_linux_matches_alas_by_release_with_epochs() -> Result<()> {
    let updateinfo = |file: &str| {
        amazon::updateinfo::parse_updateinfo(
            &testdata(&format!("ecosystems/amazon/testdata/{file}"))[..],
        )
    };
    let (_db, matcher) = matcher_with(&[
        ("amzn/2023", updateinfo("updateinfo-al2023.xml")?),
        ("amzn/2", updateinfo("updateinfo-al2.xml")?),
    ])
    .await?;

    let report = matcher
        .vulnerability_report(&rpm_image(
            "amzn",
            "2023",
            &[
                // Before ALAS2023-2023-001's build: affected.
                ("rsyslog", "8.2204.0-2.amzn2023.0.1", ""),
                // The fixed build itself: not affected.
                ("curl-minimal", "8.5.0-1.amzn2023.0.2", ""),
                // Epoch 1 counts: 1:3.0.8-1…0.11 is older than the fix 1:3.0.8-1…0.12.
                ("openssl-libs", "1:3.0.8-1.amzn2023.0.11", ""),
                // A package only an Amazon Linux 2 advisory names.
                ("glibc", "2.34-52.amzn2023.0.8", ""),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "rsyslog"),
        pairs(&[("ALAS2023-2023-001", "8.2204.0-3.amzn2023.0.1")])
    );
    assert!(hits_of(&report, "curl-minimal").is_empty());
    assert_eq!(
        hits_of(&report, "openssl-libs"),
        pairs(&[("ALAS2023-2024-500", "1:3.0.8-1.amzn2023.0.12")])
    );
    assert!(
        hits_of(&report, "glibc").is_empty(),
        "AL2 advisories stay on AL2"
    );
    assert!(
        report.warnings.is_empty(),
        "amzn 2023 is covered: {:?}",
        report.warnings
    );

    // Amazon Linux 2 gets its own advisories.
    let report = matcher
        .vulnerability_report(&rpm_image(
            "amzn",
            "2",
            &[
                ("glibc", "2.26-63.amzn2", ""),
                ("rsyslog", "8.24.0-57.amzn2", ""),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "glibc"),
        pairs(&[("ALAS2-2023-2290", "2.26-64.amzn2.0.3")])
    );
    assert!(hits_of(&report, "rsyslog").is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Oracle Linux, SUSE, Photon OS: release rules, epochs, build variants, not-affected and unfixed records.
// ---------------------------------------------------------------------------------------------------------

/// An rpm image of distribution `did`/`version_id` whose packages are (name, `[epoch:]version-release`,
/// source package name; empty for a package built from a spec of its own name).
fn rpm_image_with_sources(
    did: &str,
    version_id: &str,
    packages: &[(&str, &str, &str)],
) -> IndexReport {
    let contents = LayerContents {
        packages: packages
            .iter()
            .map(|(name, version, source)| Package {
                ecosystem: Some(Ecosystem::Rpm),
                name: (*name).into(),
                version: (*version).into(),
                arch: "x86_64".into(),
                package_db: "sqlite:var/lib/rpm".into(),
                filepath: "var/lib/rpm/rpmdb.sqlite".into(),
                // A SOURCERPM file name carries no epoch.
                source: Some(lucid::model::SourcePackage {
                    name: if source.is_empty() { *name } else { *source }.into(),
                    version: version
                        .split_once(':')
                        .map_or(*version, |(_, rest)| rest)
                        .into(),
                }),
                ..Default::default()
            })
            .collect(),
        distributions: vec![lucid::model::Distribution {
            did: did.into(),
            version_id: version_id.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    index_of(vec![contents])
}

#[tokio::test]
async fn oracle_linux_matches_elsa_by_major_release_with_epochs_and_no_build_variants() -> Result<()>
{
    let records = oracle::elsa::parse_elsa(
        &testdata("ecosystems/oracle/testdata/com.oracle.elsa-excerpt.xml")[..],
    )?;
    let (_db, matcher) = matcher_with(&[("ol", records)]).await?;

    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "ol",
            "9.3",
            &[
                // Before ELSA-2023-5763's build: affected.
                ("curl-minimal", "7.76.1-26.el9_3.1", "curl"),
                // The fixed build: not affected.
                ("libcurl-minimal", "7.76.1-26.el9_3.2", "curl"),
                // Epoch 1 counts: 1:3.0.7-24.0.1 is older than 1:3.0.7-25.0.1.
                ("openssl-libs", "1:3.0.7-24.0.1.el9", "openssl"),
                // The fixed regular build is not flagged by the ksplice fix (epoch 2) nor the FIPS one (10).
                ("openssl", "1:3.0.7-25.0.1.el9_3", ""),
                // UEK kernels match like any package.
                ("kernel-uek", "5.15.0-200.131.26.el9uek", ""),
                ("kernel-uek-core", "5.15.0-200.131.27.el9uek", "kernel-uek"),
                // Only an Oracle Linux 7 advisory names perl.
                ("perl", "4:5.32.1-480.el9", ""),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "curl-minimal"),
        pairs(&[("ELSA-2023-5763", "0:7.76.1-26.el9_3.2")])
    );
    assert!(hits_of(&report, "libcurl-minimal").is_empty());
    assert_eq!(
        hits_of(&report, "openssl-libs"),
        pairs(&[("ELSA-2024-0310", "1:3.0.7-25.0.1.el9_3")])
    );
    assert!(hits_of(&report, "openssl").is_empty());
    assert_eq!(
        hits_of(&report, "kernel-uek"),
        pairs(&[("ELSA-2023-12955", "0:5.15.0-200.131.27.el9uek")])
    );
    assert!(hits_of(&report, "kernel-uek-core").is_empty());
    assert!(
        hits_of(&report, "perl").is_empty(),
        "OL7 advisories stay on OL7"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let elsa = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "ELSA-2023-5763")
        .expect("ELSA-2023-5763 reported");
    assert_eq!(elsa.normalized_severity, lucid::model::Severity::High);
    assert!(
        elsa.links
            .contains("https://linux.oracle.com/errata/ELSA-2023-5763.html")
    );

    // Oracle Linux 7 and 8 get their own advisories; glibc's ksplice fix never flags a regular build.
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "ol",
            "7.9",
            &[
                ("perl", "4:5.16.3-293.el7", ""),
                ("perl-Pod-Escapes", "1:1.04-294.el7_6", "perl"),
                ("curl", "7.29.0-59.0.1.el7", ""),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "perl"),
        pairs(&[("ELSA-2019-0109", "4:5.16.3-294.el7_6")])
    );
    assert!(hits_of(&report, "perl-Pod-Escapes").is_empty());
    assert!(hits_of(&report, "curl").is_empty());
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "ol",
            "8.8",
            &[
                ("glibc", "2.28-225.0.4.el8_8.6", ""),
                ("glibc-common", "2.28-225.0.3.el8", "glibc"),
            ],
        ))
        .await?;
    assert!(hits_of(&report, "glibc").is_empty());
    assert_eq!(
        hits_of(&report, "glibc-common"),
        pairs(&[("ELSA-2023-5453", "0:2.28-225.0.4.el8_8.6")])
    );
    Ok(())
}

#[tokio::test]
async fn suse_matches_sles_by_major_and_leap_by_major_minor() -> Result<()> {
    let oval = |file: &str, did: &str, release: &str| {
        suse::oval::parse_oval(
            &testdata(&format!("ecosystems/suse/testdata/{file}"))[..],
            &lucid::model::DistributionSelector {
                did: did.into(),
                release: release.into(),
            },
        )
    };
    let (_db, matcher) = matcher_with(&[
        (
            "sles/15",
            oval("suse.linux.enterprise.server.15-excerpt.xml", "sles", "15")?,
        ),
        (
            "opensuse-leap/15.6",
            oval("opensuse.leap.15.6-excerpt.xml", "opensuse-leap", "15.6")?,
        ),
    ])
    .await?;

    // SLES 15 SP5 (os-release VERSION_ID 15.5) reads the SLES 15 file.
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "sles",
            "15.5",
            &[
                ("libcurl4", "8.0.1-150400.5.26.1", "curl"),
                ("curl", "8.0.1-150400.5.32.1", ""),
                // SP4's fix applies; SP1-LTSS's older fix (1.1.0i) is below the installed build.
                ("libopenssl1_1", "1.1.1l-150400.7.22.1", "openssl-1_1"),
                // SUSE says CVE-2024-3094 does not affect SLES 15: never reported.
                ("xz", "5.2.3-150000.4.7.1", ""),
                ("liblzma5", "5.2.3-150000.4.7.1", "xz"),
                // A package only the Leap file names.
                ("glibc", "2.31-150300.63.1", ""),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "libcurl4"),
        pairs(&[("CVE-2023-38545", "0:8.0.1-150400.5.32.1")])
    );
    assert!(hits_of(&report, "curl").is_empty());
    assert_eq!(
        hits_of(&report, "libopenssl1_1"),
        pairs(&[("CVE-2023-0286", "0:1.1.1l-150400.7.25.1")])
    );
    assert!(hits_of(&report, "xz").is_empty());
    assert!(hits_of(&report, "liblzma5").is_empty());
    assert!(
        hits_of(&report, "glibc").is_empty(),
        "Leap records stay on Leap"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // openSUSE Leap 15.6 reads its own file, not SLES's.
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "opensuse-leap",
            "15.6",
            &[
                ("libcurl4", "8.0.1-150400.5.26.1", "curl"),
                ("glibc", "2.38-150600.14.3.1", ""),
                ("glibc-locale-base", "2.38-150600.14.5.1", "glibc"),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "libcurl4"),
        pairs(&[("CVE-2024-2398", "0:8.6.0-150600.4.3.1")])
    );
    assert_eq!(
        hits_of(&report, "glibc"),
        pairs(&[("CVE-2024-2961", "0:2.38-150600.14.5.1")])
    );
    assert!(hits_of(&report, "glibc-locale-base").is_empty());

    // Leap 15.5 has no loaded feed: nothing matched, and the report says why.
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "opensuse-leap",
            "15.5",
            &[("glibc", "2.31-150300.63.1", "")],
        ))
        .await?;
    assert!(report.package_vulnerabilities.is_empty());
    assert_eq!(
        report.warnings,
        [ReportWarning::new(
            ReportWarning::FEED_NOT_LOADED,
            "1 rpm packages of opensuse-leap 15.5 were not checked: no feed covering them has loaded"
        )]
    );
    Ok(())
}

#[tokio::test]
async fn photon_matches_source_packages_of_the_release_with_unfixed_cves() -> Result<()> {
    let metadata = |release: &str| {
        photon::cve_metadata::parse_cve_metadata(
            &testdata(&format!(
                "ecosystems/photon/testdata/cve_data_photon{release}.json"
            ))[..],
            release,
        )
    };
    let (_db, matcher) = matcher_with(&[
        ("photon/5.0", metadata("5.0")?),
        ("photon/4.0", metadata("4.0")?),
    ])
    .await?;

    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "photon",
            "5.0",
            &[
                // Subpackages match by their spec (source package).
                ("curl-libs", "8.3.0-1.ph5", "curl"),
                ("glibc", "2.36-5.ph5", ""),
                // No fix published: affected, reported without a fixed version.
                ("expat-libs", "2.5.0-1.ph5", "expat"),
                // "Not Affected": never reported.
                ("xz-libs", "5.4.1-1.ph5", "xz"),
                // Newer than CVE-2023-0466's fix, older than CVE-2023-5678's.
                ("openssl-libs", "3.0.9-1.ph5", "openssl"),
            ],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "curl-libs"),
        pairs(&[
            ("CVE-2023-38545", "8.4.0-1.ph5"),
            ("CVE-2023-38546", "8.4.0-1.ph5")
        ])
    );
    assert!(hits_of(&report, "glibc").is_empty());
    assert_eq!(
        hits_of(&report, "expat-libs"),
        pairs(&[("CVE-2023-52425", "")])
    );
    assert!(hits_of(&report, "xz-libs").is_empty());
    assert_eq!(
        hits_of(&report, "openssl-libs"),
        pairs(&[("CVE-2023-5678", "3.0.12-2.ph5")])
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let critical = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "CVE-2023-38545")
        .expect("reported");
    assert_eq!(
        critical.normalized_severity,
        lucid::model::Severity::Critical
    );

    // Photon 4.0 gets its own release's data.
    let report = matcher
        .vulnerability_report(&rpm_image_with_sources(
            "photon",
            "4.0",
            &[("glibc", "2.32-14.ph4", ""), ("expat", "2.4.9-1.ph4", "")],
        ))
        .await?;
    assert_eq!(
        hits_of(&report, "glibc"),
        pairs(&[("CVE-2023-4911", "2.32-15.ph4")])
    );
    assert!(hits_of(&report, "expat").is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Language ecosystems: OSV ranges, versions lists, name normalization.
// ---------------------------------------------------------------------------------------------------------

/// A matcher over the PyPI, npm, Go and crates.io samples of `feeds/testdata/osv`.
async fn matcher_with_language_feeds() -> Result<(Database, Matcher)> {
    let records = osv_samples();
    matcher_with(&[
        ("osv/PyPI", of_updater(&records, "osv/PyPI")),
        ("osv/npm", of_updater(&records, "osv/npm")),
        ("osv/Go", of_updater(&records, "osv/Go")),
        ("osv/crates.io", of_updater(&records, "osv/crates.io")),
    ])
    .await
}

#[tokio::test]
async fn language_packages_match_osv_ranges() -> Result<()> {
    let (_db, matcher) = matcher_with_language_feeds().await?;

    let layer = LayerContents {
        packages: vec![
            // PYSEC-2023-74: requests [2.3.0, 2.31.0). Spelled as the wheel's METADATA may spell it.
            package(
                Ecosystem::PyPI,
                "Requests",
                "2.28.2",
                "usr/lib/python3/dist-packages/requests-2.28.2.dist-info/METADATA",
            ),
            // PYSEC-2026-1356: fastapi-admin, last_affected 0.1.4, unfixed.
            package(
                Ecosystem::PyPI,
                "fastapi_admin",
                "0.1.4",
                "app/fastapi_admin-0.1.4.dist-info/METADATA",
            ),
            // lodash 4.17.15: GHSA-p6mc-m468-83gw (< 4.17.20) and GHSA-29mw-wpgm-hmr9 (< 4.17.21) hit;
            // GHSA-jf85-cpcp-j695 (< 4.17.12) must not.
            package(
                Ecosystem::Npm,
                "lodash",
                "4.17.15",
                "app/node_modules/lodash/package.json",
            ),
            // Go: the standard library of go1.20 as the Go scanner reports it (GO-2023-1570: < 1.19.6, [1.20.0-0, 1.20.1)).
            package(Ecosystem::Go, "stdlib", "v1.20.0", "usr/bin/app"),
            // docker/distribution v2.7.1+incompatible is fixed (GO-2021-0072 < v2.7.0-rc.0).
            package(
                Ecosystem::Go,
                "github.com/docker/distribution",
                "v2.7.1+incompatible",
                "usr/bin/app",
            ),
            // RUSTSEC-2020-0071: time 0.1.43 hits, time 0.2.23 does not.
            package(Ecosystem::Cargo, "time", "0.1.43", "usr/bin/rustapp"),
        ],
        ..Default::default()
    };
    let mut other = layer.clone();
    other.packages = vec![
        package(
            Ecosystem::PyPI,
            "requests",
            "2.31.0",
            "venv/requests-2.31.0.dist-info/METADATA",
        ),
        package(Ecosystem::Cargo, "time", "0.2.23", "usr/bin/other"),
    ];
    let report = matcher
        .vulnerability_report(&index_of(vec![layer, other]))
        .await?;
    let found = findings(&report);
    let expected: BTreeMap<(String, String), Vec<(String, String)>> = [
        (("Requests", "2.28.2"), vec![("PYSEC-2023-74", "2.31.0")]),
        (("fastapi_admin", "0.1.4"), vec![("PYSEC-2026-1356", "")]),
        (
            ("lodash", "4.17.15"),
            vec![
                ("GHSA-29mw-wpgm-hmr9", "4.17.21"),
                ("GHSA-p6mc-m468-83gw", "4.17.20"),
            ],
        ),
        (("stdlib", "v1.20.0"), vec![("GO-2023-1570", "1.19.6")]),
        (("time", "0.1.43"), vec![("RUSTSEC-2020-0071", "0.2.0")]),
    ]
    .into_iter()
    .map(|((n, v), list)| ((n.to_owned(), v.to_owned()), pairs(&list)))
    .collect();
    assert_eq!(found, expected);
    // Non-hits written out: requests 2.31.0 (the fix), time 0.2.23 (the fix), docker/distribution.
    assert!(!found.contains_key(&("requests".into(), "2.31.0".into())));
    assert!(!found.contains_key(&("time".into(), "0.2.23".into())));
    assert!(hits_of(&report, "github.com/docker/distribution").is_empty());
    let requests = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "PYSEC-2023-74")
        .unwrap();
    assert_eq!(requests.updater, "osv/PyPI");
    assert_eq!(requests.repository.as_ref().unwrap().name, "pypi");
    assert!(requests.distribution.is_none());
    let feeds: Vec<&str> = report.feeds.keys().map(String::as_str).collect();
    assert_eq!(feeds, ["osv/Go", "osv/PyPI", "osv/crates.io", "osv/npm"]);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Layers: whiteouts and duplicates.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn whiteouts_hide_findings_and_duplicates_are_reported_once() -> Result<()> {
    let records = osv_samples();
    let (_db, matcher) = matcher_with(&[("osv/npm", of_updater(&records, "osv/npm"))]).await?;
    let lodash = |dir: &str| {
        package(
            Ecosystem::Npm,
            "lodash",
            "4.17.15",
            &format!("{dir}/node_modules/lodash/package.json"),
        )
    };
    let base = LayerContents {
        packages: vec![lodash("app"), lodash("tools")],
        ..Default::default()
    };
    // The next layer deletes tools/node_modules/lodash; the one after re-adds app's lodash unchanged.
    let delete = LayerContents {
        whiteouts: vec!["tools/node_modules/lodash".into()],
        ..Default::default()
    };
    let again = LayerContents {
        packages: vec![lodash("app")],
        ..Default::default()
    };
    let index = index_of(vec![base, delete, again]);
    // Coalescing already merged the two copies of app's lodash, and dropped the whited-out one.
    assert_eq!(index.packages.len(), 1);
    let report = matcher.vulnerability_report(&index).await?;
    assert_eq!(report.package_vulnerabilities.len(), 1);
    let (package_id, ids) = report.package_vulnerabilities.iter().next().unwrap();
    let mut names: Vec<&str> = ids
        .iter()
        .map(|id| report.vulnerabilities[id].name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["GHSA-29mw-wpgm-hmr9", "GHSA-p6mc-m468-83gw"],
        "each finding once, not once per layer"
    );
    assert_eq!(
        report.environments[package_id][0].package_db,
        "npm:app/node_modules/lodash/package.json"
    );

    // Deleting the last copy leaves nothing to report.
    let only = LayerContents {
        packages: vec![lodash("app")],
        ..Default::default()
    };
    let gone = LayerContents {
        whiteouts: vec!["app/node_modules/lodash/package.json".into()],
        ..Default::default()
    };
    let report = matcher
        .vulnerability_report(&index_of(vec![only, gone]))
        .await?;
    assert!(report.packages.is_empty());
    assert!(report.vulnerabilities.is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Freshness and warnings.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_report_before_any_feed_loaded_says_so() -> Result<()> {
    let db = harness::database().await?;
    let matcher = Matcher::new(db.clone());
    let index = index_of(vec![LayerContents {
        packages: vec![package(
            Ecosystem::Npm,
            "lodash",
            "4.17.15",
            "node_modules/lodash/package.json",
        )],
        ..Default::default()
    }]);
    let report = matcher.vulnerability_report(&index).await?;
    assert!(report.vulnerabilities.is_empty());
    let codes: Vec<&str> = report.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            ReportWarning::NO_FEEDS_LOADED,
            ReportWarning::FEED_NOT_LOADED
        ]
    );
    assert_eq!(
        report.warnings[1].message,
        "1 npm packages were not checked"
    );
    // The JSON says it too (Lucid extension fields next to Clair's).
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["warnings"][0]["code"], "no_feeds_loaded");
    assert!(json["feeds"].as_object().unwrap().is_empty());
    for key in [
        "manifest_hash",
        "packages",
        "distributions",
        "repository",
        "environments",
        "vulnerabilities",
        "package_vulnerabilities",
        "enrichments",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }

    // A failed first attempt is listed with its error; still nothing loaded.
    db.client()
        .await?
        .execute(
            "INSERT INTO feed_status (updater, last_attempt, last_error) VALUES ('osv/npm', now(), 'HTTP 503')",
            &[],
        )
        .await?;
    let report = matcher.vulnerability_report(&index).await?;
    let codes: Vec<&str> = report.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(
        codes,
        [
            ReportWarning::NO_FEEDS_LOADED,
            ReportWarning::FEED_NOT_LOADED,
            ReportWarning::FEED_UPDATE_FAILED
        ]
    );
    assert_eq!(report.feeds["osv/npm"].last_error, "HTTP 503");
    assert_eq!(report.feeds["osv/npm"].updated_at, None);

    // Once the npm feed loads: findings, freshness, no warnings. A Debian-only feed would not have helped.
    let records = osv_samples();
    commit_feed(&db, "osv/npm", &of_updater(&records, "osv/npm")).await?;
    let report = matcher.vulnerability_report(&index).await?;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        hits_of(&report, "lodash"),
        pairs(&[
            ("GHSA-29mw-wpgm-hmr9", "4.17.21"),
            ("GHSA-p6mc-m468-83gw", "4.17.20")
        ])
    );
    let npm = &report.feeds["osv/npm"];
    assert!(npm.updated_at.is_some() && npm.last_success.is_some());
    assert_eq!(
        npm.record_count,
        of_updater(&records, "osv/npm").len() as i64
    );

    // A PyPI package in the same image: no PyPI feed is loaded, so it is flagged as unchecked.
    let mixed = index_of(vec![LayerContents {
        packages: vec![
            package(
                Ecosystem::Npm,
                "lodash",
                "4.17.15",
                "node_modules/lodash/package.json",
            ),
            package(
                Ecosystem::PyPI,
                "requests",
                "2.28.2",
                "site-packages/requests-2.28.2.dist-info/METADATA",
            ),
        ],
        ..Default::default()
    }]);
    let report = matcher.vulnerability_report(&mixed).await?;
    assert_eq!(
        report.warnings,
        [ReportWarning::new(
            ReportWarning::FEED_NOT_LOADED,
            "1 pypi packages were not checked: no feed covering them has loaded"
        )]
    );

    // OS packages of a distribution no feed covers are flagged too.
    let tumbleweed = rpm_image(
        "opensuse-tumbleweed",
        "20241101",
        &[("curl", "8.10.1-1.1", "")],
    );
    let report = matcher.vulnerability_report(&tumbleweed).await?;
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(
        report.warnings[0].code,
        ReportWarning::UNSUPPORTED_DISTRIBUTION
    );
    // SLES has a rule (and feeds): with none of them loaded, that is what the report says.
    let sles = rpm_image("sles", "15.5", &[("curl", "8.0.1-150400.5.41.1", "")]);
    let report = matcher.vulnerability_report(&sles).await?;
    assert_eq!(
        report.warnings,
        [ReportWarning::new(
            ReportWarning::FEED_NOT_LOADED,
            "1 rpm packages of sles 15 were not checked: no feed covering them has loaded"
        )]
    );
    Ok(())
}

#[tokio::test]
async fn unfinished_index_reports_are_refused() -> Result<()> {
    let db = harness::database().await?;
    let matcher = Matcher::new(db);
    let index = IndexReport::new(Digest::sha256_of(b"m"), IndexState::ScanLayers);
    match matcher.vulnerability_report(&index).await {
        Err(MatchError::NotIndexed { state, .. }) => assert_eq!(state, "ScanLayers"),
        other => panic!("expected NotIndexed, got {other:?}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Enrichments.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn enrichments_are_attached_by_cve() -> Result<()> {
    let records = osv_samples();
    let (db, matcher) = matcher_with(&[("osv/PyPI", of_updater(&records, "osv/PyPI"))]).await?;
    // NVD enrichments through the feed store: an older operation with a stale record, then the live one,
    // for the alias of PYSEC-2023-74 (CVE-2023-32681), plus one for a CVE this image does not have.
    let store = FeedStore::new(db.clone());
    let enrichment = |cve: &str, data: serde_json::Value| Enrichment {
        updater: "nvd".into(),
        cve: cve.into(),
        data,
    };
    let stale_data = serde_json::json!({"kind": "cvss", "stale": true});
    let live_data = serde_json::json!({
        "kind": "cvss",
        "baseScore": 6.1,
        "vectorString": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N"
    });
    store
        .commit_enrichments("nvd", "1", &[enrichment("CVE-2023-32681", stale_data)])
        .await?;
    store
        .commit_enrichments(
            "nvd",
            "2",
            &[
                enrichment("CVE-2023-32681", live_data.clone()),
                enrichment(
                    "CVE-2021-44228",
                    serde_json::json!({"kind": "cvss", "baseScore": 10.0}),
                ),
            ],
        )
        .await?;
    store.record_attempt("nvd", Ok(("2", 2))).await?;

    let index = index_of(vec![LayerContents {
        packages: vec![package(
            Ecosystem::PyPI,
            "requests",
            "2.30.0",
            "site-packages/requests-2.30.0.dist-info/METADATA",
        )],
        ..Default::default()
    }]);
    let report = matcher.vulnerability_report(&index).await?;
    let id = report
        .vulnerabilities
        .values()
        .find(|v| v.name == "PYSEC-2023-74")
        .map(|v| v.id.clone())
        .context("PYSEC-2023-74 not reported")?;
    let key = "message/vnd.clair.map.vulnerability; enricher=nvd";
    assert_eq!(report.enrichments.keys().collect::<Vec<_>>(), [key]);
    assert_eq!(
        report.enrichments[key],
        vec![serde_json::json!({ id.clone(): [live_data] })]
    );
    // The enrichment source is listed with the vulnerability feed.
    let feeds: Vec<&str> = report.feeds.keys().map(String::as_str).collect();
    assert_eq!(feeds, ["nvd", "osv/PyPI"]);

    // The matcher keeps what it read: the same report again (from its cache) is identical, and a new NVD
    // operation (a feed switch) is seen at once by the same long-lived matcher.
    assert_eq!(matcher.vulnerability_report(&index).await?, report);
    let rescored = serde_json::json!({"kind": "cvss", "baseScore": 7.5});
    store
        .commit_enrichments(
            "nvd",
            "3",
            &[enrichment("CVE-2023-32681", rescored.clone())],
        )
        .await?;
    let report = matcher.vulnerability_report(&index).await?;
    assert_eq!(
        report.enrichments[key],
        vec![serde_json::json!({ id.clone(): [rescored] })]
    );
    assert_eq!(
        Matcher::new(db.clone())
            .vulnerability_report(&index)
            .await?,
        report,
        "a cold matcher agrees with the warm one"
    );

    // With the fixed version installed there is nothing to enrich, and the enrichment source is not listed.
    let fixed = index_of(vec![LayerContents {
        packages: vec![package(
            Ecosystem::PyPI,
            "requests",
            "2.31.0",
            "site-packages/requests-2.31.0.dist-info/METADATA",
        )],
        ..Default::default()
    }]);
    let report = matcher.vulnerability_report(&fixed).await?;
    assert!(report.enrichments.is_empty());
    assert_eq!(report.feeds.keys().collect::<Vec<_>>(), ["osv/PyPI"]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Stable ids and live data only.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn only_the_latest_operation_counts_and_ids_are_stable() -> Result<()> {
    let records = alpine_v319_main();
    let (db, matcher) = matcher_with(&[("alpine/v3.19/main", records.clone())]).await?;
    let index = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ])]);
    let first = matcher.vulnerability_report(&index).await?;
    let again = matcher.vulnerability_report(&index).await?;
    assert_eq!(first.vulnerabilities, again.vulnerabilities);
    assert_eq!(first.package_vulnerabilities, again.package_vulnerabilities);
    assert!(!first.vulnerabilities.is_empty());

    // A new operation without busybox's records: the old rows stay in the table, but are no longer live.
    let without: Vec<Vulnerability> = records
        .into_iter()
        .filter(|r| r.package_name != "busybox")
        .collect();
    commit_feed(&db, "alpine/v3.19/main", &without).await?;
    let report = matcher.vulnerability_report(&index).await?;
    assert!(hits_of(&report, "busybox").is_empty());
    assert!(!hits_of(&report, "libcrypto3").is_empty());
    // Unchanged records keep their ids across operations (rows are deduplicated by content).
    for (id, v) in &report.vulnerabilities {
        assert_eq!(first.vulnerabilities.get(id), Some(v));
    }
    // The matcher caches what it read (busybox now has no records); a feed switch must invalidate that:
    // busybox's records come back with the next operation, for the same matcher.
    commit_feed(&db, "alpine/v3.19/main", &alpine_v319_main()).await?;
    let restored = matcher.vulnerability_report(&index).await?;
    assert_eq!(restored.vulnerabilities, first.vulnerabilities);
    assert_eq!(
        restored.package_vulnerabilities,
        first.package_vulnerabilities
    );
    // A fresh matcher (no cache) agrees with the warm one.
    let cold = Matcher::new(db.clone())
        .vulnerability_report(&index)
        .await?;
    assert_eq!(cold.vulnerabilities, restored.vulnerabilities);
    assert_eq!(
        cold.package_vulnerabilities,
        restored.package_vulnerabilities
    );
    Ok(())
}

/// Checks migration V8's invariant: a `vulnerability` row is in `vulnerability_dead` exactly when no live
/// operation links it. Returns how many rows are dead.
async fn dead_set_is_exact(db: &Database) -> Result<i64> {
    let client = db.client().await?;
    let row = client
        .query_one(
            "WITH computed AS (
                 SELECT v.id FROM vulnerability v
                 WHERE NOT EXISTS (
                     SELECT 1 FROM uo_vulnerability u
                     JOIN latest_update_operation l ON l.uo_id = u.uo_id
                     WHERE u.vulnerability_id = v.id))
             SELECT (SELECT count(*) FROM computed),
                    (SELECT count(*) FROM vulnerability_dead),
                    (SELECT count(*) FROM computed c
                     JOIN vulnerability_dead d ON d.vulnerability_id = c.id)",
            &[],
        )
        .await?;
    let (computed, stored, both): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (stored, both),
        (computed, computed),
        "the dead set differs from the rows no live operation links"
    );
    Ok(computed)
}

#[tokio::test]
async fn records_only_older_operations_link_are_never_reported() -> Result<()> {
    // One live operation files Alpine 3.19's records (the query's anti-join against the dead set), then two
    // (Alpine's main and community of a branch: the probe naming each record's operation). Records are
    // shared by content, so the second updater's busybox records are the same rows as the first's.
    let records = alpine_v319_main();
    let busybox: Vec<Vulnerability> = records
        .iter()
        .filter(|r| r.package_name == "busybox")
        .cloned()
        .collect();
    let without_busybox: Vec<Vulnerability> = records
        .iter()
        .filter(|r| r.package_name != "busybox")
        .cloned()
        .collect();
    assert!(!busybox.is_empty() && !without_busybox.is_empty());
    let (db, _) = matcher_with(&[("alpine/v3.19/main", records.clone())]).await?;
    let index = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ])]);
    let cold = || async { Matcher::new(db.clone()).vulnerability_report(&index).await };
    let everything = cold().await?;
    let busybox_hits = hits_of(&everything, "busybox");
    assert!(!busybox_hits.is_empty());
    assert_eq!(dead_set_is_exact(&db).await?, 0);

    // One operation: busybox's rows are linked only by the older one, so they are dead.
    commit_feed(&db, "alpine/v3.19/main", &without_busybox).await?;
    assert_eq!(dead_set_is_exact(&db).await? as usize, busybox.len());
    let report = cold().await?;
    assert!(hits_of(&report, "busybox").is_empty());
    assert_eq!(
        hits_of(&report, "libcrypto3"),
        hits_of(&everything, "libcrypto3")
    );
    // Linked by a live operation again: live again.
    commit_feed(&db, "alpine/v3.19/main", &records).await?;
    assert_eq!(dead_set_is_exact(&db).await?, 0);
    assert_eq!(cold().await?.vulnerabilities, everything.vulnerabilities);

    // Two operations file records under the namespace; one of them still links busybox's rows.
    commit_feed(&db, "alpine/v3.19/community", &busybox).await?;
    commit_feed(&db, "alpine/v3.19/main", &without_busybox).await?;
    assert_eq!(dead_set_is_exact(&db).await?, 0);
    let report = cold().await?;
    assert_eq!(hits_of(&report, "busybox"), busybox_hits);
    assert!(report.feeds.contains_key("alpine/v3.19/community"));
    // Neither does now.
    commit_feed(&db, "alpine/v3.19/community", &without_busybox[..1]).await?;
    assert_eq!(dead_set_is_exact(&db).await? as usize, busybox.len());
    let report = cold().await?;
    assert!(hits_of(&report, "busybox").is_empty());
    assert!(!hits_of(&report, "libcrypto3").is_empty());
    // Migration V8's backfill (its top-level statement, not the trigger's) finds the same dead set.
    let backfill: Vec<String> = harness::backfill_statements(&["V8__vulnerability_liveness.sql"])
        .into_iter()
        .filter(|statement| !statement.contains("OLD."))
        .collect();
    assert_eq!(backfill.len(), 1, "{backfill:?}");
    let client = db.client().await?;
    client
        .batch_execute(&format!("DELETE FROM vulnerability_dead; {}", backfill[0]))
        .await?;
    assert_eq!(dead_set_is_exact(&db).await? as usize, busybox.len());

    // Deleting a live operation makes the updater's previous one live (busybox included); collecting
    // garbage deletes the rows no operation links, and their dead-set entries with them.
    let store = FeedStore::new(db.clone());
    let live = store
        .latest("alpine/v3.19/community")
        .await?
        .context("community is live")?;
    store.delete_operations(&[live.reference]).await?;
    assert_eq!(dead_set_is_exact(&db).await?, 0);
    assert_eq!(hits_of(&cold().await?, "busybox"), busybox_hits);
    let live = store
        .latest("alpine/v3.19/community")
        .await?
        .context("community is live")?;
    store.delete_operations(&[live.reference]).await?;
    assert_eq!(dead_set_is_exact(&db).await? as usize, busybox.len());
    store.gc(1).await?;
    assert_eq!(dead_set_is_exact(&db).await?, 0);
    let report = cold().await?;
    assert!(hits_of(&report, "busybox").is_empty());
    assert_eq!(
        hits_of(&report, "libcrypto3"),
        hits_of(&everything, "libcrypto3")
    );
    Ok(())
}

#[tokio::test]
async fn a_feed_switch_makes_only_the_namespaces_it_covers_cold() -> Result<()> {
    let osv = osv_samples();
    let npm = of_updater(&osv, "osv/npm");
    assert!(npm.len() > 1, "the OSV samples have npm records");
    let (db, matcher) = matcher_with(&[
        ("alpine/v3.19/main", alpine_v319_main()),
        ("osv/npm", npm.clone()),
    ])
    .await?;
    // Each operation lists the namespaces its records are filed under (`update_operation.namespaces`).
    let client = db.client().await?;
    let namespaces = |updater: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    "SELECT uo.namespaces FROM update_operation uo
                     JOIN latest_update_operation l ON l.uo_id = uo.id WHERE l.updater = $1",
                    &[&updater],
                )
                .await?;
            Ok::<_, anyhow::Error>(row.get::<_, Option<Vec<String>>>(0))
        }
    };
    assert_eq!(
        namespaces("alpine/v3.19/main").await?,
        Some(vec!["apk/alpine/3.19".to_owned()])
    );
    assert_eq!(namespaces("osv/npm").await?, Some(vec!["npm//".to_owned()]));

    let index = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ])]);
    let cold = matcher.vulnerability_report(&index).await?;
    assert!(!hits_of(&cold, "busybox").is_empty());
    let after_cold = matcher.reads();
    assert!(after_cold.candidate_queries >= 1, "{after_cold:?}");
    // Warm: nothing but the freshness is read.
    assert_eq!(matcher.vulnerability_report(&index).await?, cold);
    assert_eq!(matcher.reads(), after_cold);

    // An npm update does not cover Alpine: the Alpine candidates stay warm, and the report is unchanged
    // (its freshness lists only the feeds covering the image).
    commit_feed(&db, "osv/npm", &npm[1..]).await?;
    let after_npm = matcher.vulnerability_report(&index).await?;
    assert_eq!(after_npm.vulnerabilities, cold.vulnerabilities);
    assert_eq!(
        matcher.reads().candidate_queries,
        after_cold.candidate_queries
    );

    // A new feed filing records under the cached namespace is seen at once by the same matcher.
    let mut community: Vec<Vulnerability> = alpine_v319_main()
        .into_iter()
        .filter(|r| r.package_name == "busybox")
        .take(1)
        .collect();
    assert_eq!(community.len(), 1);
    community[0].updater = "alpine/v3.19/community".into();
    community[0].name = "CVE-2099-0001".into();
    community[0].aliases = Vec::new();
    community[0].fixed_in_version = "99.0-r0".into();
    community[0].ranges = vec![lucid::model::AffectedRange {
        fixed: Some("99.0-r0".into()),
        ..Default::default()
    }];
    commit_feed(&db, "alpine/v3.19/community", &community).await?;
    let with_community = matcher.vulnerability_report(&index).await?;
    let reread = matcher.reads();
    assert!(
        reread.candidate_queries > after_cold.candidate_queries,
        "{reread:?}"
    );
    assert!(
        hits_of(&with_community, "busybox")
            .iter()
            .any(|(name, _)| name == "CVE-2099-0001"),
        "{:?}",
        hits_of(&with_community, "busybox")
    );
    let fresh = Matcher::new(db.clone())
        .vulnerability_report(&index)
        .await?;
    assert_eq!(fresh.vulnerabilities, with_community.vulnerabilities);
    assert_eq!(
        fresh.package_vulnerabilities,
        with_community.package_vulnerabilities
    );

    // An operation whose namespaces are unknown (committed before they were recorded) may cover any: the
    // next report reads the Alpine names again, and answers the same.
    client
        .execute(
            "UPDATE update_operation SET namespaces = NULL
             WHERE id = (SELECT uo_id FROM latest_update_operation WHERE updater = 'osv/npm')",
            &[],
        )
        .await?;
    let before_unknown = matcher.reads().candidate_queries;
    let unknown = matcher.vulnerability_report(&index).await?;
    assert!(matcher.reads().candidate_queries > before_unknown);
    assert_eq!(unknown.vulnerabilities, with_community.vulnerabilities);
    Ok(())
}

#[tokio::test]
async fn records_stored_before_the_report_column_read_the_same() -> Result<()> {
    // Rows written before migration V6 get their `report` text from the JSONB record (the migration's
    // backfill), then (V7) their record moves apart; rows written since get both from the feed store.
    // Both must read as the same report.
    let osv = osv_samples();
    let (db, matcher) = matcher_with(&[
        ("alpine/v3.19/main", alpine_v319_main()),
        ("osv/PyPI", of_updater(&osv, "osv/PyPI")),
    ])
    .await?;
    let mut packages = scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ]);
    packages.packages.push(package(
        Ecosystem::PyPI,
        "requests",
        "2.30.0",
        "site-packages/requests-2.30.0.dist-info/METADATA",
    ));
    let index = index_of(vec![packages]);
    let written = matcher.vulnerability_report(&index).await?;
    assert!(!hits_of(&written, "busybox").is_empty());
    assert!(!hits_of(&written, "requests").is_empty());
    let client = db.client().await?;
    // The rows as before V6: no report text, the record in the row.
    client
        .batch_execute(&format!(
            "{} UPDATE vulnerability SET report = ''",
            harness::RECORDS_BEFORE_V7
        ))
        .await?;
    let backfill = harness::backfill_statements(&[
        "V6__vulnerability_report_text.sql",
        "V7__vulnerability_record_apart.sql",
    ]);
    assert_eq!(backfill.len(), 2, "{backfill:?}");
    for statement in &backfill {
        assert!(client.execute(statement.as_str(), &[]).await? > 0);
    }
    client
        .batch_execute("ALTER TABLE vulnerability DROP COLUMN record")
        .await?;
    let read = Matcher::new(db.clone())
        .vulnerability_report(&index)
        .await?;
    assert_eq!(read, written);

    // A row whose stored text is not a record is a clear error naming the row, not a panic or a report
    // that silently lacks it.
    let broken: i64 = written
        .vulnerabilities
        .keys()
        .next()
        .context("no findings")?
        .parse()?;
    client
        .execute(
            "UPDATE vulnerability SET report = '{\"name\": ' WHERE id = $1",
            &[&broken],
        )
        .await?;
    let err = Matcher::new(db.clone())
        .vulnerability_report(&index)
        .await
        .expect_err("a corrupt record must fail the report");
    let message = err.to_string();
    assert!(
        matches!(err, MatchError::Store(_)) && message.contains(&format!("vulnerability {broken}")),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_refreshed_matcher_reads_no_candidates_and_answers_as_a_cold_one() -> Result<()> {
    // `Matcher::refresh` loads whole every live namespace: a report then reads no candidates, even for
    // names it never saw, and answers exactly as a new matcher (which reads everything) does. After a feed
    // switch the report is right at once (it reads what went stale), and the next refresh reloads only the
    // namespaces the switched feed covers.
    let osv = osv_samples();
    let pypi = of_updater(&osv, "osv/PyPI");
    let (db, matcher) = matcher_with(&[
        ("alpine/v3.19/main", alpine_v319_main()),
        ("osv/PyPI", pypi),
        ("osv/npm", of_updater(&osv, "osv/npm")),
    ])
    .await?;
    // A namespace key the matcher does not understand (an ecosystem it lacks) is skipped, not an error.
    db.client()
        .await?
        .execute(
            "UPDATE update_operation SET namespaces = namespaces || '{cobol/x/1,garbage}'::text[]
             WHERE id = (SELECT uo_id FROM latest_update_operation WHERE updater = 'osv/npm')",
            &[],
        )
        .await?;
    let loaded = matcher.refresh().await?;
    assert_eq!(
        (loaded.loaded, loaded.already_whole, loaded.skipped),
        (3, 0, 0)
    );
    assert!(loaded.candidates > 0, "{loaded:?}");
    // Every namespace was stale: one scan of the live records read them all
    // (`store::LIVE_CANDIDATES`).
    assert_eq!(matcher.reads().candidate_queries, 1);
    assert_eq!(matcher.reads().candidate_rows, loaded.candidates as u64);
    let again = matcher.refresh().await?;
    assert_eq!((again.loaded, again.already_whole), (0, 3), "{again:?}");
    let after_refresh = matcher.reads();

    let mut packages = scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ]);
    for (name, version) in [("requests", "2.30.0"), ("no-such-distribution", "1.0")] {
        packages.packages.push(package(
            Ecosystem::PyPI,
            name,
            version,
            &format!("site-packages/{name}-{version}.dist-info/METADATA"),
        ));
    }
    let index = index_of(vec![packages]);
    let cold = || async {
        Matcher::new(db.clone())
            .vulnerability_report(&index)
            .await
            .map_err(anyhow::Error::from)
    };
    let report = matcher.vulnerability_report(&index).await?;
    assert_eq!(
        matcher.reads().candidate_queries,
        after_refresh.candidate_queries,
        "a refreshed matcher read candidates"
    );
    assert!(!hits_of(&report, "busybox").is_empty());
    assert!(!hits_of(&report, "requests").is_empty());
    assert!(hits_of(&report, "no-such-distribution").is_empty());
    assert_eq!(report, cold().await?);

    // A switch of the Alpine feed that drops busybox's records and adds one elsewhere: the very next
    // report reads the stale namespace again and is right.
    let main: Vec<Vulnerability> = alpine_v319_main()
        .into_iter()
        .filter(|r| r.package_name != "busybox")
        .collect();
    commit_feed(&db, "alpine/v3.19/main", &main).await?;
    let switched = matcher.vulnerability_report(&index).await?;
    assert!(hits_of(&switched, "busybox").is_empty());
    assert!(!hits_of(&switched, "requests").is_empty());
    assert_eq!(switched, cold().await?);
    // The next refresh reloads the Alpine namespace only; then reports read no candidates again.
    let reloaded = matcher.refresh().await?;
    assert_eq!(
        (reloaded.loaded, reloaded.already_whole),
        (1, 2),
        "{reloaded:?}"
    );
    let before = matcher.reads().candidate_queries;
    assert_eq!(matcher.vulnerability_report(&index).await?, switched);
    assert_eq!(matcher.reads().candidate_queries, before);
    Ok(())
}

#[tokio::test]
async fn a_refresh_keeps_every_records_report_so_a_first_report_reads_none() -> Result<()> {
    // The refresh keeps each record's report with its candidate, so a refreshed matcher's first report of
    // an image reads neither candidates nor records: an up-to-date image's (records without a fix, which
    // affect every version) and an old one's (fixed records too). Both reports equal a new matcher's.
    let (db, matcher) = matcher_with(&[("debian-oval/bookworm", debian_bookworm_oval())]).await?;
    let refreshed = matcher.refresh().await?;
    assert!(refreshed.candidates > 2, "{refreshed:?}");
    assert_eq!(refreshed.records, refreshed.candidates, "{refreshed:?}");

    let image = bookworm_with_openssl;
    let current = image("3.0.11-1~deb12u2")?;
    let before = matcher.reads();
    let report = matcher.vulnerability_report(&current).await?;
    assert_eq!(hits_of(&report, "tar"), pairs(&[("CVE-2005-2541", "")]));
    assert_eq!(hits_of(&report, "apt"), pairs(&[("CVE-2011-3374", "")]));
    assert!(hits_of(&report, "libssl3").is_empty());
    assert_eq!(
        matcher.reads(),
        before,
        "an up-to-date image read something"
    );
    assert_eq!(
        report,
        Matcher::new(db.clone())
            .vulnerability_report(&current)
            .await?
    );

    let old = image("3.0.7-1")?;
    let report = matcher.vulnerability_report(&old).await?;
    assert_eq!(
        hits_of(&report, "libssl3"),
        pairs(&[("CVE-2022-4304", "3.0.8-1")])
    );
    assert_eq!(matcher.reads(), before, "an old image read something");
    assert_eq!(
        report,
        Matcher::new(db.clone()).vulnerability_report(&old).await?
    );

    // A record whose stored report does not parse is not kept, and does not fail the refresh: the report
    // that matches it reads it and fails, naming it, as without a refresh.
    let tar: i64 = report
        .vulnerabilities
        .iter()
        .find(|(_, v)| v.name == "CVE-2005-2541")
        .context("tar's finding")?
        .0
        .parse()?;
    db.client()
        .await?
        .execute(
            "UPDATE vulnerability SET report = '{\"name\": ' WHERE id = $1",
            &[&tar],
        )
        .await?;
    let fresh = Matcher::new(db.clone());
    let again = fresh.refresh().await?;
    assert_eq!(again.records, refreshed.records - 1, "{again:?}");
    let err = fresh
        .vulnerability_report(&current)
        .await
        .expect_err("a corrupt record must fail the report");
    assert!(
        err.to_string().contains(&format!("vulnerability {tar}")),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn records_moved_since_their_candidates_were_read_are_read_by_id() -> Result<()> {
    // A report reads its matched records at the row addresses (`ctid`) its candidates were read at. Rows
    // that moved since (here `CLUSTER`, which rewrites the table in another order, so an old address
    // holds another record or none) are read by id: the report equals a new matcher's, and says how many
    // moved. The candidates come from an earlier report of the same packages at versions no record
    // affects (a refresh would keep the reports themselves, and nothing would be read) and that have no
    // order key (a number beyond 64 bits, which apk-tools wraps to one above every fix here), so every
    // record of their names is read, as the later report needs.
    let (db, matcher) = matcher_with(&[("alpine/v3.19/main", alpine_v319_main())]).await?;
    let image = |installed: Vec<u8>| {
        index_of(vec![scan_rootfs(&[
            ("etc/os-release", os_release("alpine", "3.19.1", "")),
            ("lib/apk/db/installed", installed),
        ])])
    };
    let installed = testdata("ecosystems/apk/testdata/installed");
    let newest: Vec<u8> = String::from_utf8(installed.clone())?
        .lines()
        .map(|line| match line.starts_with("V:") {
            true => "V:99999999999999999999999-r0\n".to_owned(),
            false => format!("{line}\n"),
        })
        .collect::<String>()
        .into_bytes();
    let unaffected = matcher.vulnerability_report(&image(newest)).await?;
    assert!(unaffected.vulnerabilities.is_empty());
    assert!(matcher.reads().candidate_rows > 0, "{:?}", matcher.reads());
    let index = image(installed);
    let fresh = Matcher::new(db.clone())
        .vulnerability_report(&index)
        .await?;
    assert!(!hits_of(&fresh, "busybox").is_empty());

    db.client()
        .await?
        .batch_execute("CLUSTER vulnerability USING vulnerability_name_idx")
        .await?;
    let report = matcher.vulnerability_report(&index).await?;
    let reads = matcher.reads();
    assert!(reads.moved_records > 0, "{reads:?}");
    assert!(reads.moved_records <= reads.records, "{reads:?}");
    assert_eq!(report, fresh);
    let new = Matcher::new(db.clone());
    assert_eq!(report, new.vulnerability_report(&index).await?);
    assert_eq!(new.reads().moved_records, 0, "{:?}", new.reads());
    Ok(())
}

#[tokio::test]
async fn the_background_refresh_makes_a_switched_namespace_whole_again() -> Result<()> {
    // What the API runs: `refresh_within` at start (Lambda init), then `spawn_refresh` every tick.
    let (db, matcher) = matcher_with(&[("alpine/v3.19/main", alpine_v319_main())]).await?;
    matcher
        .refresh_within(std::time::Duration::from_secs(60))
        .await;
    let index = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ])]);
    let rows = matcher.reads().candidate_rows;
    let first = matcher.vulnerability_report(&index).await?;
    assert!(!hits_of(&first, "busybox").is_empty());
    assert_eq!(matcher.reads().candidate_rows, rows, "loaded at start");

    let queries = matcher.reads().candidate_queries;
    let task = matcher.spawn_refresh(
        std::time::Duration::ZERO,
        std::time::Duration::from_millis(50),
    );
    let main: Vec<Vulnerability> = alpine_v319_main()
        .into_iter()
        .filter(|r| r.package_name != "busybox")
        .collect();
    commit_feed(&db, "alpine/v3.19/main", &main).await?;
    // Everything was whole before the switch, so the first query the task makes is its reload of the
    // switched namespace (no report runs meanwhile). After it, a report reads nothing and is right.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while matcher.reads().candidate_queries == queries {
        assert!(
            std::time::Instant::now() < deadline,
            "the background refresh never reloaded the switched namespace"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let rows = matcher.reads().candidate_rows;
    let report = matcher.vulnerability_report(&index).await?;
    assert_eq!(matcher.reads().candidate_rows, rows);
    task.abort();
    assert!(hits_of(&report, "busybox").is_empty());
    assert_eq!(
        report,
        Matcher::new(db.clone())
            .vulnerability_report(&index)
            .await?
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Version bounds: records fixed at or below every installed version are not read.
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn records_fixed_at_or_below_the_installed_versions_are_not_read() -> Result<()> {
    // The bookworm excerpt has four records about the minbase's and OpenSSL's source packages: glibc's
    // CVE-1999-0199 (fixed in 2.2-1, installed 2.36-9+deb12u14), openssl's CVE-2022-4304 (fixed in
    // 3.0.8-1), and the unfixed tar and apt ones. Only records that can affect an installed version are
    // sent: the unfixed two, and the openssl one when the installed OpenSSL is below its fix.
    let (db, matcher) = matcher_with(&[("debian-oval/bookworm", debian_bookworm_oval())]).await?;
    let openssl = |report: &VulnerabilityReport| hits_of(report, "libssl3");
    let fixed = matcher
        .vulnerability_report(&bookworm_with_openssl("3.0.11-1~deb12u2")?)
        .await?;
    assert!(openssl(&fixed).is_empty());
    assert_eq!(hits_of(&fixed, "tar"), pairs(&[("CVE-2005-2541", "")]));
    assert_eq!(matcher.reads().candidate_rows, 2, "{:?}", matcher.reads());

    // The same matcher, an older OpenSSL: its cached openssl list was read above a floor this version is
    // below, so the name is read again, and the report is a new matcher's.
    let vulnerable = bookworm_with_openssl("3.0.7-1")?;
    let report = matcher.vulnerability_report(&vulnerable).await?;
    assert_eq!(openssl(&report), pairs(&[("CVE-2022-4304", "3.0.8-1")]));
    assert_eq!(matcher.reads().candidate_rows, 3, "{:?}", matcher.reads());
    assert_eq!(
        report,
        Matcher::new(db.clone())
            .vulnerability_report(&vulnerable)
            .await?
    );
    // A version at or above the first one read is answered from the cache.
    let rows = matcher.reads().candidate_queries;
    matcher
        .vulnerability_report(&bookworm_with_openssl("3.0.7-2")?)
        .await?;
    assert_eq!(
        matcher.reads().candidate_queries,
        rows,
        "{:?}",
        matcher.reads()
    );

    // At the fix's edge, cold: the fix itself is not affected (nor read); just below it (`~` sorts before
    // the end of the version) is.
    for (installed, expected) in [
        ("3.0.8-1", vec![]),
        ("0:3.0.8-1", vec![]),
        ("3.0.8-1~rc1", vec![("CVE-2022-4304", "3.0.8-1")]),
        ("3.0.8~1-1", vec![("CVE-2022-4304", "3.0.8-1")]),
        // An unparsable version sorts before every fix: affected, not hidden.
        ("3.0.8-", vec![("CVE-2022-4304", "3.0.8-1")]),
    ] {
        let cold = Matcher::new(db.clone());
        let report = cold
            .vulnerability_report(&bookworm_with_openssl(installed)?)
            .await?;
        assert_eq!(openssl(&report), pairs(&expected), "{installed}");
    }
    Ok(())
}

/// Every stored record's version bound, as `("<name> <package name>", bound)`, in that order.
async fn version_bounds(client: &tokio_postgres::Client) -> Result<Vec<(String, Vec<u8>)>> {
    let rows = client
        .query(
            "SELECT name || ' ' || package_name, version_bound FROM vulnerability ORDER BY 1, 2",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The bound of the record `"<name> <package name>"` among [`version_bounds`]' answer.
fn bound_of(bounds: &[(String, Vec<u8>)], record: &str) -> Option<Vec<u8>> {
    bounds
        .iter()
        .find(|(r, _)| r == record)
        .map(|(_, b)| b.clone())
}

/// Puts every stored record's bound back to the column's default, as rows stored before `migrations` had
/// it, and runs the migrations' own statements queueing them, which together must queue every one.
async fn queue_every_row_as_before(
    client: &tokio_postgres::Client,
    migrations: &[&str],
) -> Result<()> {
    client
        .batch_execute("UPDATE vulnerability SET version_bound = DEFAULT")
        .await?;
    let queue = harness::backfill_statements(migrations);
    assert_eq!(queue.len(), migrations.len(), "{queue:?}");
    let stored: i64 = client
        .query_one("SELECT count(*) FROM vulnerability", &[])
        .await?
        .try_get(0)?;
    let mut queued = 0;
    for statement in &queue {
        queued += client.execute(statement.as_str(), &[]).await?;
    }
    assert_eq!(queued, stored as u64);
    Ok(())
}

#[tokio::test]
async fn stored_records_get_their_version_bounds_filled_once() -> Result<()> {
    // Rows stored before migration V9 get the unbounded default and are queued for `fill_version_bounds`, which
    // `Database::migrate` runs: until then they are read for every version (same answers, more rows);
    // afterwards they carry the bound the feed store writes for new rows.
    let (db, _) = matcher_with(&[("debian-oval/bookworm", debian_bookworm_oval())]).await?;
    let client = db.client().await?;
    let written = version_bounds(&client).await?;
    let bound_of = |record: &str| bound_of(&written, record);
    assert_eq!(
        bound_of("CVE-2022-4304 openssl"),
        lucid::ecosystems::dpkg::version::order_key("3.0.8-1")
    );
    assert_eq!(
        bound_of("CVE-2005-2541 tar").as_deref(),
        Some(lucid::ecosystems::UNBOUNDED_VERSION_KEY),
        "unfixed: no bound"
    );

    let image = bookworm_with_openssl("3.0.11-1~deb12u2")?;
    let expected = Matcher::new(db.clone())
        .vulnerability_report(&image)
        .await?;
    // The rows as before V9 (the column's default bound), queued by V9's own statement.
    client
        .batch_execute("UPDATE vulnerability SET version_bound = DEFAULT")
        .await?;
    let queue = harness::backfill_statements(&["V9__vulnerability_version_bound.sql"]);
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(client.execute(queue[0].as_str(), &[]).await?, 7);
    // A queued row collected since: dequeued, nothing to fill.
    client
        .execute("INSERT INTO version_bound_pending VALUES (-1)", &[])
        .await?;
    let unfilled = Matcher::new(db.clone());
    assert_eq!(unfilled.vulnerability_report(&image).await?, expected);
    assert_eq!(unfilled.reads().candidate_rows, 4, "{:?}", unfilled.reads());

    assert!(db.migrate().await?.is_empty(), "no migration left");
    assert_eq!(version_bounds(&client).await?, written);
    let pending: i64 = client
        .query_one("SELECT count(*) FROM version_bound_pending", &[])
        .await?
        .try_get(0)?;
    assert_eq!(pending, 0);
    let filled = Matcher::new(db.clone());
    assert_eq!(filled.vulnerability_report(&image).await?, expected);
    assert_eq!(filled.reads().candidate_rows, 2, "{:?}", filled.reads());

    // A queued row whose stored probe is not a probe: dequeued, left unbounded (a candidate for every
    // version, which loses nothing), and the fill goes on with the others.
    client
        .batch_execute(
            "UPDATE vulnerability SET version_bound = DEFAULT;
             UPDATE vulnerability SET probe = '{\"ranges\": 1}' WHERE name = 'CVE-2022-4304';
             INSERT INTO version_bound_pending SELECT id FROM vulnerability",
        )
        .await?;
    assert!(db.migrate().await?.is_empty());
    let after = version_bounds(&client).await?;
    for ((record, bound), (_, was)) in after.iter().zip(&written) {
        if record == "CVE-2022-4304 openssl" {
            assert_eq!(bound.as_slice(), lucid::ecosystems::UNBOUNDED_VERSION_KEY);
        } else {
            assert_eq!(bound, was, "{record}");
        }
    }
    let pending: i64 = client
        .query_one("SELECT count(*) FROM version_bound_pending", &[])
        .await?
        .try_get(0)?;
    assert_eq!(pending, 0);
    Ok(())
}

#[tokio::test]
async fn language_records_fixed_at_or_below_the_installed_versions_are_not_read() -> Result<()> {
    // PyPI, npm, Go and crates.io versions have order keys, so their records carry version bounds as dpkg's
    // do: each name's records fixed at or below its least installed version are not read. Rows stored
    // before migration V10 are queued by V10's own statement and filled by `Database::migrate`.
    let (db, _) = matcher_with_language_feeds().await?;
    let client = db.client().await?;
    let written = version_bounds(&client).await?;
    use lucid::ecosystems::{cargo, go, npm, python};
    let with_ff = |key: Option<Vec<u8>>| {
        key.map(|mut k| {
            k.push(0xFF);
            k
        })
    };
    for (record, expected) in [
        // Its GIT range (a commit) is not a version range; the ECOSYSTEM range's fix is the bound.
        (
            "PYSEC-2023-74 requests",
            python::version::order_key("2.31.0"),
        ),
        // Affected up to and including its last affected version.
        (
            "PYSEC-2026-1356 fastapi-admin",
            with_ff(python::version::order_key("0.1.4")),
        ),
        (
            "GHSA-jf85-cpcp-j695 lodash",
            npm::version::order_key("4.17.12"),
        ),
        (
            "GO-2021-0072 github.com/docker/distribution",
            go::version::order_key("2.7.0-rc.0+incompatible"),
        ),
        // The greatest fix of its ranges.
        ("GO-2023-1570 stdlib", go::version::order_key("1.20.1")),
        (
            "RUSTSEC-2018-0003 smallvec",
            cargo::version::order_key("0.6.3"),
        ),
        // Introduced, never fixed: unbounded.
        (
            "GO-2023-2385 github.com/pubnub/go",
            Some(lucid::ecosystems::UNBOUNDED_VERSION_KEY.to_vec()),
        ),
    ] {
        assert!(expected.is_some(), "{record}");
        assert_eq!(bound_of(&written, record), expected, "{record}");
    }

    // Up to date but for two names: an unfixed record (fastapi_admin) and node-fetch in a range whose fix is
    // above it (the advisory's other entry for node-fetch, fixed at 2.6.7, is a row of its own). The other
    // five names' records (seven rows) are all fixed at or below what is installed.
    let installed = [
        (
            Ecosystem::PyPI,
            "requests",
            "2.31.0",
            "venv/requests-2.31.0.dist-info/METADATA",
        ),
        (
            Ecosystem::PyPI,
            "fastapi_admin",
            "0.1.4",
            "app/fastapi_admin-0.1.4.dist-info/METADATA",
        ),
        (
            Ecosystem::Npm,
            "lodash",
            "4.17.21",
            "app/node_modules/lodash/package.json",
        ),
        (
            Ecosystem::Npm,
            "node-fetch",
            "2.6.7",
            "app/node_modules/node-fetch/package.json",
        ),
        (Ecosystem::Go, "stdlib", "v1.20.1", "usr/bin/app"),
        (
            Ecosystem::Go,
            "github.com/docker/distribution",
            "v2.7.1+incompatible",
            "usr/bin/app",
        ),
        (Ecosystem::Cargo, "time", "0.2.23", "usr/bin/rustapp"),
    ];
    let image = index_of(vec![LayerContents {
        packages: installed
            .into_iter()
            .map(|(ecosystem, name, version, path)| package(ecosystem, name, version, path))
            .collect(),
        ..Default::default()
    }]);
    let matcher = Matcher::new(db.clone());
    let report = matcher.vulnerability_report(&image).await?;
    let expected_findings: BTreeMap<(String, String), Vec<(String, String)>> = [
        (("fastapi_admin", "0.1.4"), vec![("PYSEC-2026-1356", "")]),
        (
            ("node-fetch", "2.6.7"),
            vec![("GHSA-r683-j2x4-v87g", "3.1.1")],
        ),
    ]
    .into_iter()
    .map(|((n, v), list)| ((n.to_owned(), v.to_owned()), pairs(&list)))
    .collect();
    assert_eq!(findings(&report), expected_findings);
    assert_eq!(matcher.reads().candidate_rows, 2, "{:?}", matcher.reads());

    // The rows as before V10, queued by V10's own statement: every record here is of one of its ecosystems.
    queue_every_row_as_before(&client, &["V10__language_version_bounds.sql"]).await?;
    let unfilled = Matcher::new(db.clone());
    assert_eq!(unfilled.vulnerability_report(&image).await?, report);
    assert_eq!(
        unfilled.reads().candidate_rows,
        10,
        "{:?}",
        unfilled.reads()
    );

    assert!(db.migrate().await?.is_empty(), "no migration left");
    assert_eq!(version_bounds(&client).await?, written);
    let filled = Matcher::new(db.clone());
    assert_eq!(filled.vulnerability_report(&image).await?, report);
    assert_eq!(filled.reads().candidate_rows, 2, "{:?}", filled.reads());
    Ok(())
}

#[tokio::test]
async fn os_package_records_fixed_at_or_below_the_installed_versions_are_not_read() -> Result<()> {
    // apk and rpm versions have order keys too, so Alpine's and the RHEL family's records carry version
    // bounds: each name's records fixed at or below its least installed version are not read. Rows stored
    // before migration V11 are queued by V11's own statement and filled by `Database::migrate`.
    let (db, _) = matcher_with(&[
        ("alpine/v3.19/main", alpine_v319_main()),
        ("rhel", rhel_curl_vex()),
    ])
    .await?;
    let client = db.client().await?;
    let written = version_bounds(&client).await?;
    use lucid::ecosystems::{apk, rpm};
    for (record, expected) in [
        ("CVE-2024-0727 openssl", apk::version::order_key("3.1.4-r5")),
        (
            "CVE-2023-38545 curl-minimal",
            rpm::version::order_key("0:7.76.1-26.el9_3.2"),
        ),
    ] {
        assert!(expected.is_some(), "{record}");
        assert_eq!(bound_of(&written, record), expected, "{record}");
    }

    // alpine:3.19.1's packages: libcrypto3 3.1.4-r5 (origin openssl) is past 14 of openssl's records.
    let alpine = index_of(vec![scan_rootfs(&[
        ("etc/os-release", os_release("alpine", "3.19.1", "")),
        (
            "lib/apk/db/installed",
            testdata("ecosystems/apk/testdata/installed"),
        ),
    ])]);
    // RHEL 9 with curl-minimal before the fix and libcurl-minimal at it.
    let rhel = rpm_image(
        "rhel",
        "9.3",
        &[
            ("curl-minimal", "7.76.1-23.el9_2.2", ""),
            ("libcurl-minimal", "7.76.1-26.el9_3.2", ""),
        ],
    );
    let reports = |db: Database| {
        let (alpine, rhel) = (alpine.clone(), rhel.clone());
        async move {
            let mut out = Vec::new();
            for image in [alpine, rhel] {
                let matcher = Matcher::new(db.clone());
                let report = matcher.vulnerability_report(&image).await?;
                out.push((report, matcher.reads().candidate_rows));
            }
            Ok::<_, anyhow::Error>(out)
        }
    };
    let bounded = reports(db.clone()).await?;
    assert_eq!(
        hits_of(&bounded[1].0, "curl-minimal"),
        pairs(&[("CVE-2023-38545", "0:7.76.1-26.el9_3.2")])
    );
    assert!(hits_of(&bounded[1].0, "libcurl-minimal").is_empty());

    // The rows as before V11, queued by V11's own statement: every record here is apk's or rpm's.
    queue_every_row_as_before(&client, &["V11__os_package_version_bounds.sql"]).await?;
    let unfilled = reports(db.clone()).await?;
    let rows = |reports: &[(VulnerabilityReport, u64)]| {
        reports.iter().map(|(_, rows)| *rows).collect::<Vec<_>>()
    };
    // Read with bounds: for Alpine, exactly the 10 records that hit (busybox's 4, openssl's 6); for RHEL,
    // the record of curl-minimal and of its source curl (at the installed 7.76.1-23), not libcurl-minimal's.
    assert_eq!(rows(&bounded), [10, 2], "with bounds");
    assert_eq!(rows(&unfilled), [85, 3], "unfilled");
    for ((report, _), (unfilled, _)) in bounded.iter().zip(&unfilled) {
        assert_eq!(report, unfilled);
    }

    assert!(db.migrate().await?.is_empty(), "no migration left");
    assert_eq!(version_bounds(&client).await?, written);
    assert_eq!(rows(&reports(db.clone()).await?), rows(&bounded));
    Ok(())
}

#[tokio::test]
async fn other_language_records_fixed_at_or_below_the_installed_versions_are_not_read() -> Result<()>
{
    // RubyGems, NuGet, Packagist and (plain numeric) Maven versions have order keys too (migrations V12 to
    // V14). One record each, in OSV's shape: rack fixed in 2.2.8.1, symfony/http-kernel in 5.4.20 and
    // jackson-databind in 2.13.4.2 (installed at the fix, spelled `v5.4.20` for Composer: not read) and
    // Newtonsoft.Json fixed in 13.0.1 (installed below it: read, and reported).
    let osv = osv_samples();
    let template = osv
        .iter()
        .find(|r| r.name == "GHSA-p6mc-m468-83gw" && r.package_name == "lodash")
        .context("lodash sample")?;
    let record = |updater: &str, ecosystem, name: &str, package: &str, fixed: &str| {
        let mut record = template.clone();
        record.updater = updater.into();
        record.name = name.into();
        record.ecosystem = Some(ecosystem);
        record.package_name = package.into();
        record.ranges = vec![lucid::model::AffectedRange {
            introduced: Some("0".into()),
            fixed: Some(fixed.into()),
            ..Default::default()
        }];
        record.fixed_in_version = fixed.into();
        record
    };
    let (db, _) = matcher_with(&[
        (
            "osv/RubyGems",
            vec![record(
                "osv/RubyGems",
                Ecosystem::RubyGems,
                "GHSA-54rr-7fvw-6x8f",
                "rack",
                "2.2.8.1",
            )],
        ),
        (
            "osv/NuGet",
            vec![record(
                "osv/NuGet",
                Ecosystem::NuGet,
                "GHSA-5crp-9r3c-p9vr",
                "newtonsoft.json",
                "13.0.1",
            )],
        ),
        (
            "osv/Packagist",
            vec![record(
                "osv/Packagist",
                Ecosystem::Packagist,
                "GHSA-r8v4-7vwj-983x",
                "symfony/http-kernel",
                "5.4.20",
            )],
        ),
        (
            "osv/Maven",
            vec![record(
                "osv/Maven",
                Ecosystem::Maven,
                "GHSA-rgv9-q543-rqg4",
                "com.fasterxml.jackson.core:jackson-databind",
                "2.13.4.2",
            )],
        ),
    ])
    .await?;
    let client = db.client().await?;
    let written = version_bounds(&client).await?;
    use lucid::ecosystems::{nuget, rubygems};
    assert_eq!(
        bound_of(&written, "GHSA-54rr-7fvw-6x8f rack"),
        rubygems::version::order_key("2.2.8.1")
    );
    assert_eq!(
        bound_of(&written, "GHSA-5crp-9r3c-p9vr newtonsoft.json"),
        nuget::version::order_key("13.0.1")
    );
    assert_eq!(
        bound_of(&written, "GHSA-r8v4-7vwj-983x symfony/http-kernel"),
        lucid::ecosystems::packagist::version::order_key("5.4.20")
    );
    assert_eq!(
        bound_of(
            &written,
            "GHSA-rgv9-q543-rqg4 com.fasterxml.jackson.core:jackson-databind"
        ),
        lucid::ecosystems::maven::version::order_key("2.13.4.2")
    );

    let image = index_of(vec![LayerContents {
        packages: vec![
            package(
                Ecosystem::RubyGems,
                "rack",
                "2.2.8.1",
                "usr/lib/ruby/gems/3.1.0/specifications/rack-2.2.8.1.gemspec",
            ),
            package(
                Ecosystem::NuGet,
                "Newtonsoft.Json",
                "12.0.3",
                "app/app.deps.json",
            ),
            package(
                Ecosystem::Packagist,
                "symfony/http-kernel",
                "v5.4.20",
                "app/vendor/composer/installed.json",
            ),
            package(
                Ecosystem::Maven,
                "com.fasterxml.jackson.core:jackson-databind",
                "2.13.4.2",
                "app/lib/jackson-databind-2.13.4.2.jar",
            ),
        ],
        ..Default::default()
    }]);
    let matcher = Matcher::new(db.clone());
    let report = matcher.vulnerability_report(&image).await?;
    assert!(hits_of(&report, "rack").is_empty());
    assert!(hits_of(&report, "symfony/http-kernel").is_empty());
    assert!(hits_of(&report, "com.fasterxml.jackson.core:jackson-databind").is_empty());
    assert_eq!(
        hits_of(&report, "Newtonsoft.Json"),
        pairs(&[("GHSA-5crp-9r3c-p9vr", "13.0.1")])
    );
    assert_eq!(matcher.reads().candidate_rows, 1, "{:?}", matcher.reads());

    queue_every_row_as_before(
        &client,
        &[
            "V12__rubygems_nuget_version_bounds.sql",
            "V13__packagist_version_bounds.sql",
            "V14__maven_version_bounds.sql",
        ],
    )
    .await?;
    let unfilled = Matcher::new(db.clone());
    assert_eq!(unfilled.vulnerability_report(&image).await?, report);
    assert_eq!(unfilled.reads().candidate_rows, 4, "{:?}", unfilled.reads());
    assert!(db.migrate().await?.is_empty(), "no migration left");
    assert_eq!(version_bounds(&client).await?, written);
    let filled = Matcher::new(db.clone());
    assert_eq!(filled.vulnerability_report(&image).await?, report);
    assert_eq!(filled.reads().candidate_rows, 1, "{:?}", filled.reads());
    Ok(())
}
