//! Fuzz entry points: one function per parser, each taking arbitrary bytes.
//!
//! The cargo-fuzz targets in `fuzz/` call these, and so does the regression test
//! (`shared/tests/fuzz_regressions.rs`), which replays every input a fuzzer once crashed on: the fuzzers and
//! the normal test run exercise the same code. Every function must return normally on any input (a parser
//! error is a normal outcome); a panic is a bug. The version comparators are also checked for the
//! properties an ordering must have (reflexive, antisymmetric, transitive): a violation panics, so the
//! fuzzer reports it like a crash.
//!
//! [`TARGETS`] lists them all by name, for the regression test and `bench/fuzz.sh`.

use std::cmp::Ordering;
use std::io::Cursor;

use crate::ecosystems;
use crate::layer::{LayerLimits, read_layer};
use crate::model::{Digest, LayerContents};
use crate::scanner::{EntryInfo, PackageScanner};

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every entry point by name; the cargo-fuzz target of the same name calls it.
pub const TARGETS: &[(&str, Target)] = &[
    ("layer", layer),
    ("layer_gzip", layer_gzip),
    ("layer_zstd", layer_zstd),
    ("dpkg_status", dpkg_status),
    ("apk_installed", apk_installed),
    ("rpm_header", rpm_header),
    ("rpm_sqlite", rpm_sqlite),
    ("rpm_ndb", rpm_ndb),
    ("rpm_bdb", rpm_bdb),
    ("python_metadata", python_metadata),
    ("npm_package_json", npm_package_json),
    ("go_buildinfo", go_buildinfo),
    ("jar", jar),
    ("gemspec", gemspec),
    ("cargo_auditable", cargo_auditable),
    ("nuget_deps", nuget_deps),
    ("packagist_installed", packagist_installed),
    ("distribution_files", distribution_files),
    ("osv_json", osv_json),
    ("osv_yaml", osv_yaml),
    ("osv_zip", osv_zip),
    ("alpine_secdb", alpine_secdb),
    ("debian_tracker", debian_tracker),
    ("oval", oval),
    ("debian_oval", debian_oval),
    ("ubuntu_oval", ubuntu_oval),
    ("rhel_oval", rhel_oval),
    ("rhel_vex", rhel_vex),
    ("oracle_elsa", oracle_elsa),
    ("suse_oval", suse_oval),
    ("photon_cve_metadata", photon_cve_metadata),
    ("amazon_updateinfo", amazon_updateinfo),
    ("amazon_repomd", amazon_repomd),
    ("nvd", nvd),
    ("kev", kev),
    ("epss", epss),
    ("feed_archive", feed_archive),
    ("clair_manifest", clair_manifest),
    ("harbor_scan_request", harbor_scan_request),
    ("api_bodies", api_bodies),
    ("jwt", jwt),
    ("version_dpkg", version_dpkg),
    ("version_rpm", version_rpm),
    ("version_apk", version_apk),
    ("version_pep440", version_pep440),
    ("version_semver", version_semver),
    ("version_go", version_go),
    ("version_maven", version_maven),
    ("version_rubygems", version_rubygems),
    ("version_nuget", version_nuget),
    ("version_packagist", version_packagist),
    ("version_cargo", version_cargo),
];

/// The entry point called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

// ---------------------------------------------------------------------------------------------------
// Layers

/// Limits small enough that one input cannot take seconds (the limit checks themselves still run).
fn fuzz_limits() -> LayerLimits {
    LayerLimits {
        max_uncompressed_bytes: 64 << 20,
        ratio_grace_bytes: 1 << 20,
        max_claimed_file_bytes: 8 << 20,
        max_total_claimed_bytes: 32 << 20,
        max_entries: 100_000,
        ..LayerLimits::default()
    }
}

/// The layer reader on `blob` as stored (compression sniffed), with every registered scanner. The
/// expected digest is the blob's own, so parsing runs to the end.
pub fn layer(blob: &[u8]) {
    let scanners = ecosystems::default_scanners();
    let refs: Vec<&dyn PackageScanner> = scanners.iter().map(|s| s.as_ref()).collect();
    let digest = Digest::sha256_of(blob);
    let _ = read_layer(blob, &digest, &refs, &fuzz_limits());
}

/// The layer reader on `tar` compressed with gzip: the fuzzer mutates the tar, not the deflate stream.
pub fn layer_gzip(tar: &[u8]) {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if encoder.write_all(tar).is_ok()
        && let Ok(blob) = encoder.finish()
    {
        layer(&blob);
    }
}

/// The layer reader on `tar` compressed with zstd.
pub fn layer_zstd(tar: &[u8]) {
    if let Ok(blob) = zstd::encode_all(tar, 1) {
        layer(&blob);
    }
}

// ---------------------------------------------------------------------------------------------------
// Package databases: each scanner on a path it claims.

fn scan_as(scanner: &dyn PackageScanner, path: &str, mode: u32, contents: &[u8]) {
    let entry = EntryInfo {
        path,
        size: contents.len() as u64,
        mode,
    };
    let mut out = LayerContents::default();
    let _ = scanner.scan(&entry, contents, &mut out);
}

pub fn dpkg_status(data: &[u8]) {
    let _ = ecosystems::dpkg::scanner::parse_status(data, "var/lib/dpkg/status");
    scan_as(
        &ecosystems::dpkg::scanner::DpkgScanner,
        "var/lib/dpkg/status.d/pkg",
        0o644,
        data,
    );
}

pub fn apk_installed(data: &[u8]) {
    let _ = ecosystems::apk::scanner::parse_installed_db("lib/apk/db/installed", data);
}

/// One rpm header blob (what each rpmdb row or NDB/BDB record holds).
pub fn rpm_header(data: &[u8]) {
    if let Ok(header) = ecosystems::rpm::header::parse_header(data) {
        let _ = header.evr();
        let _ = header.module_stream();
    }
}

pub fn rpm_sqlite(data: &[u8]) {
    scan_as(
        &ecosystems::rpm::scanner::RpmScanner,
        "var/lib/rpm/rpmdb.sqlite",
        0o644,
        data,
    );
}

pub fn rpm_ndb(data: &[u8]) {
    scan_as(
        &ecosystems::rpm::scanner::RpmScanner,
        "var/lib/rpm/Packages.db",
        0o644,
        data,
    );
}

pub fn rpm_bdb(data: &[u8]) {
    scan_as(
        &ecosystems::rpm::scanner::RpmScanner,
        "var/lib/rpm/Packages",
        0o644,
        data,
    );
}

pub fn python_metadata(data: &[u8]) {
    let scanner = ecosystems::python::scanner::PythonScanner;
    scan_as(
        &scanner,
        "usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA",
        0o644,
        data,
    );
    scan_as(
        &scanner,
        "usr/lib/python3/dist-packages/x-1.0.egg-info/PKG-INFO",
        0o644,
        data,
    );
}

pub fn npm_package_json(data: &[u8]) {
    scan_as(
        &ecosystems::npm::scanner::NpmScanner,
        "app/node_modules/x/package.json",
        0o644,
        data,
    );
}

pub fn go_buildinfo(data: &[u8]) {
    let _ = ecosystems::go::scanner::decode_build_info(data);
    scan_as(
        &ecosystems::go::scanner::GoBinaryScanner,
        "usr/bin/app",
        0o755,
        data,
    );
}

pub fn jar(data: &[u8]) {
    scan_as(
        &ecosystems::maven::scanner::MavenScanner,
        "app/lib/x.jar",
        0o644,
        data,
    );
}

pub fn gemspec(data: &[u8]) {
    scan_as(
        &ecosystems::rubygems::scanner::RubyGemsScanner,
        "usr/lib/ruby/gems/3.1.0/specifications/x-1.0.gemspec",
        0o644,
        data,
    );
}

pub fn cargo_auditable(data: &[u8]) {
    let _ = ecosystems::cargo::scanner::parse_auditable_data(data);
    scan_as(
        &ecosystems::cargo::scanner::CargoAuditableScanner,
        "usr/bin/app",
        0o755,
        data,
    );
}

pub fn nuget_deps(data: &[u8]) {
    scan_as(
        &ecosystems::nuget::scanner::NuGetScanner,
        "app/App.deps.json",
        0o644,
        data,
    );
}

pub fn packagist_installed(data: &[u8]) {
    scan_as(
        &ecosystems::packagist::scanner::PackagistScanner,
        "app/vendor/composer/installed.json",
        0o644,
        data,
    );
}

/// Every distribution release file the distribution scanner claims, and the os-release parser.
pub fn distribution_files(data: &[u8]) {
    use ecosystems::distribution::{os_release, release_files, scanner};
    let text = String::from_utf8_lossy(data);
    let _ = os_release::parse(&text);
    let _ = scanner::from_os_release(&text);
    let _ = release_files::lsb_release(&text);
    let _ = release_files::alpine_release(&text);
    let _ = release_files::debian_version(&text);
    let _ = release_files::red_hat_release(&text);
    let _ = release_files::suse_release(&text);
    let _ = release_files::suse_brand(&text);
    let _ = release_files::photon_release(&text);
    for path in [
        "etc/os-release",
        "etc/lsb-release",
        "etc/alpine-release",
        "etc/debian_version",
        "etc/redhat-release",
        "etc/SuSE-release",
        "etc/SUSE-brand",
        "etc/photon-release",
    ] {
        scan_as(&scanner::DistributionScanner, path, 0o644, data);
    }
}

// ---------------------------------------------------------------------------------------------------
// Feeds

pub fn osv_json(data: &[u8]) {
    if let Ok(records) = crate::feeds::osv::parse_record(data) {
        // The matcher's predicate over what was parsed, at a few versions.
        for record in &records {
            if let Some(ecosystem) = record.ecosystem {
                for version in ["0", "1.0.0", "2.3.4-1", ""] {
                    let _ = crate::feeds::osv::affects(ecosystem, record, version);
                }
            }
        }
    }
}

pub fn osv_yaml(data: &[u8]) {
    let _ = crate::feeds::osv::parse_yaml_record(data);
}

pub fn osv_zip(data: &[u8]) {
    let _ = crate::feeds::osv::parse_zip(Cursor::new(data));
}

pub fn alpine_secdb(data: &[u8]) {
    let _ = ecosystems::alpine::secdb::parse_alpine_secdb(data);
    let _ = ecosystems::alpine::secdb::parse_secdb(
        data,
        &ecosystems::alpine::secdb::SecdbDistribution::alpine("3.19"),
    );
}

pub fn debian_tracker(data: &[u8]) {
    let _ = ecosystems::debian::tracker::parse_tracker_json(data);
}

/// The OVAL document parser all OVAL feeds share.
pub fn oval(data: &[u8]) {
    let _ = crate::feeds::oval::parse(data);
}

pub fn debian_oval(data: &[u8]) {
    let _ = ecosystems::debian::oval::parse_oval(data, "bookworm");
}

pub fn ubuntu_oval(data: &[u8]) {
    let _ = ecosystems::ubuntu::oval::parse_oval(data, "jammy");
}

pub fn rhel_oval(data: &[u8]) {
    let _ = ecosystems::rhel::oval::parse_oval(data, "9");
}

pub fn rhel_vex(data: &[u8]) {
    let _ = ecosystems::rhel::vex::parse_vex(data);
}

pub fn oracle_elsa(data: &[u8]) {
    let _ = ecosystems::oracle::elsa::parse_elsa(data);
}

pub fn suse_oval(data: &[u8]) {
    let product = crate::model::DistributionSelector {
        did: "sles".into(),
        release: "15".into(),
    };
    let _ = ecosystems::suse::oval::parse_oval(data, &product);
}

pub fn photon_cve_metadata(data: &[u8]) {
    let _ = ecosystems::photon::cve_metadata::parse_cve_metadata(data, "5.0");
}

pub fn amazon_updateinfo(data: &[u8]) {
    let _ = ecosystems::amazon::updateinfo::parse_updateinfo(data);
}

pub fn amazon_repomd(data: &[u8]) {
    let _ = ecosystems::amazon::updateinfo::parse_repomd(data);
}

pub fn nvd(data: &[u8]) {
    let _ = crate::feeds::enrichment::parse_nvd(data);
}

pub fn kev(data: &[u8]) {
    let _ = crate::feeds::enrichment::parse_kev(data);
}

pub fn epss(data: &[u8]) {
    let _ = crate::feeds::enrichment::parse_epss(data);
}

/// The feed archive's check pass (what `lucid import-feeds` reads before committing anything), on the
/// input compressed with zstd as an archive is.
pub fn feed_archive(data: &[u8]) {
    let _ = crate::feeds::archive::info(data);
    if let Ok(compressed) = zstd::encode_all(data, 1) {
        let _ = crate::feeds::archive::check(Cursor::new(compressed));
    }
}

// ---------------------------------------------------------------------------------------------------
// API

/// Clair's `POST /indexer/api/v1/index_report` body, and the bulk delete body (a list of digests).
pub fn clair_manifest(data: &[u8]) {
    if let Ok(manifest) = serde_json::from_slice::<crate::model::Manifest>(data) {
        let _ = manifest.hash.to_string();
    }
    let _ = serde_json::from_slice::<Vec<Digest>>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<Digest>();
        let _ = crate::api::indexer_v1::path_digest(text);
    }
}

/// Harbor's scan request body and the scan ids the API hands back.
pub fn harbor_scan_request(data: &[u8]) {
    crate::api::harbor_v1::fuzz_scan_request(data);
}

/// The bodies the functions receive from queues: notifier messages, S3 notifications, fetch jobs; and the
/// registry's manifest documents and token challenges.
pub fn api_bodies(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json::from_str::<crate::notifier::NotifierMessage>(text);
    let _ = crate::indexer::s3_event::created_objects(text);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = crate::indexer::fetch::FetchJob::from_value(&value);
    }
    let _ = crate::indexer::registry::parse_bearer_challenge(text);
    crate::indexer::registry::fuzz_manifest_doc(data);
}

/// JWT verification as the API does it, on `Authorization: Bearer <data>`; when the input is JSON, also
/// as the claims of a token signed with the right key, so claim checks are reached.
pub fn jwt(data: &[u8]) {
    use crate::api::auth::Verifier;
    use crate::config::AuthConfig;
    const KEY: &[u8] = b"fuzzing key, not a secret";
    let verifier = Verifier::new(&AuthConfig {
        key: KEY.to_vec(),
        issuers: vec!["ci".to_owned()],
    });
    let verify = |token: &str| {
        if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
            let mut headers = http::HeaderMap::new();
            headers.insert(http::header::AUTHORIZATION, value);
            let _ = verifier.verify(&headers);
        }
    };
    if let Ok(text) = std::str::from_utf8(data) {
        verify(text);
    }
    if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(data) {
        let Ok(key) = jsonwebtoken::EncodingKey::from_secret(KEY) else {
            return;
        };
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS512,
        ] {
            if let Ok(token) = jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key)
            {
                verify(&token);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Version comparators

/// Splits the input into up to three versions (on newlines) and checks that `compare` is an ordering on
/// them: `a = a`, `compare(a, b) = reverse(compare(b, a))`, and transitivity over the three.
pub fn check_comparator(compare: fn(&str, &str) -> Ordering, data: &[u8]) {
    check_ordering(compare, data, true);
}

/// [`check_comparator`] without transitivity, for an ecosystem whose reference ordering is not transitive.
fn check_ordering(compare: fn(&str, &str) -> Ordering, data: &[u8], transitive: bool) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let a = parts.next().unwrap_or_default();
    let b = parts.next().unwrap_or_default();
    let c = parts.next().unwrap_or_default();
    let versions = [a, b, c];
    for v in versions {
        assert_eq!(compare(v, v), Ordering::Equal, "compare({v:?}, {v:?})");
    }
    for x in versions {
        for y in versions {
            let xy = compare(x, y);
            let yx = compare(y, x);
            assert_eq!(xy, yx.reverse(), "antisymmetry of {x:?} and {y:?}");
        }
    }
    if !transitive {
        return;
    }
    for x in versions {
        for y in versions {
            for z in versions {
                if compare(x, y) != Ordering::Greater && compare(y, z) != Ordering::Greater {
                    assert_ne!(
                        compare(x, z),
                        Ordering::Greater,
                        "transitivity: {x:?} <= {y:?} <= {z:?}"
                    );
                }
                if compare(x, y) == Ordering::Equal && compare(y, z) == Ordering::Equal {
                    assert_eq!(
                        compare(x, z),
                        Ordering::Equal,
                        "transitivity of equality: {x:?} = {y:?} = {z:?}"
                    );
                }
            }
        }
    }
}

pub fn version_dpkg(data: &[u8]) {
    check_comparator(ecosystems::dpkg::version::compare, data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ecosystems::dpkg::version::canonical(text);
    }
}

pub fn version_rpm(data: &[u8]) {
    check_comparator(ecosystems::rpm::version::compare, data);
    check_comparator(ecosystems::rpm::version::rpmvercmp, data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ecosystems::rpm::scanner::parse_source_rpm(text);
    }
}

pub fn version_apk(data: &[u8]) {
    check_comparator(ecosystems::apk::version::compare, data);
    let text = String::from_utf8_lossy(data);
    let (version, prefix) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = ecosystems::apk::version::is_valid(version);
    let _ = ecosystems::apk::version::fuzzy_matches(version, prefix);
}

pub fn version_pep440(data: &[u8]) {
    check_comparator(ecosystems::python::version::compare, data);
}

pub fn version_semver(data: &[u8]) {
    check_comparator(ecosystems::npm::version::compare, data);
}

pub fn version_go(data: &[u8]) {
    check_comparator(ecosystems::go::version::compare, data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ecosystems::go::scanner::go_version_to_semver(text);
    }
}

/// Maven's `ComparableVersion`, which the port reproduces quirk for quirk, is not transitive: the fuzzer
/// found `0.0-alpha-1` ≤ the empty version ≤ `S0.1.RELEAS0.1.R-0` yet `0.0-alpha-1` > `S0.1.RELEAS0.1.R-0`
/// (`tests/fuzz-regressions/version_maven/`). Maven resolves ranges with that ordering and OSV's Maven
/// ecosystem is defined by it, so it is kept; only reflexivity and antisymmetry are checked.
pub fn version_maven(data: &[u8]) {
    check_ordering(ecosystems::maven::version::compare, data, false);
}

pub fn version_rubygems(data: &[u8]) {
    check_comparator(ecosystems::rubygems::version::compare, data);
}

pub fn version_nuget(data: &[u8]) {
    check_comparator(ecosystems::nuget::version::compare, data);
}

pub fn version_packagist(data: &[u8]) {
    check_comparator(ecosystems::packagist::version::compare, data);
}

pub fn version_cargo(data: &[u8]) {
    check_comparator(ecosystems::cargo::version::compare, data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_takes_empty_and_garbage_input() {
        for (name, target) in TARGETS {
            for input in [&b""[..], b"\0", b"\xff\xfe garbage \n\n{[<"] {
                target(input);
            }
            assert!(super::target(name).is_some());
        }
    }

    /// Seeds no sample file provides: rpm NDB and BDB databases and bare header blobs, built from the
    /// real rpmdb.sqlite's headers. They must read back as the headers they hold; with `LUCID_FUZZ_SEEDS`
    /// set to a directory, `bench/fuzz-seed.sh` gets them written to `<dir>/<target>/`.
    #[test]
    fn synthetic_rpm_seeds_read_back() {
        use crate::ecosystems::rpm::{bdb, ndb, scanner::sqlite_header_blobs};
        let sqlite = include_bytes!("ecosystems/rpm/testdata/rpmdb.sqlite");
        let headers = sqlite_header_blobs(sqlite).expect("real rpmdb.sqlite");
        assert!(headers.len() >= 5);
        let ndb_file = ndb::write_ndb(&headers);
        let read: Vec<Vec<u8>> = ndb::header_blobs(&ndb_file)
            .expect("written NDB")
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(read, headers);
        let mut seeds: Vec<(&str, String, Vec<u8>)> =
            vec![("rpm_ndb", "five.ndb".into(), ndb_file)];
        for page_size in [512, 4096] {
            let bdb_file = bdb::write_bdb(&headers, page_size);
            assert_eq!(bdb::header_blobs(&bdb_file).expect("written BDB"), headers);
            seeds.push(("rpm_bdb", format!("five-{page_size}.bdb"), bdb_file));
        }
        for (i, header) in headers.iter().enumerate() {
            seeds.push(("rpm_header", format!("header-{i}"), header.clone()));
        }
        if let Some(dir) = std::env::var_os("LUCID_FUZZ_SEEDS") {
            for (target, name, bytes) in seeds {
                let dir = std::path::Path::new(&dir).join(target);
                std::fs::create_dir_all(&dir).expect("seed dir");
                std::fs::write(dir.join(name), bytes).expect("seed file");
            }
        }
    }

    #[test]
    #[should_panic(expected = "antisymmetry")]
    fn the_comparator_check_catches_a_broken_ordering() {
        check_comparator(
            |a, b| {
                if a == b {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }
            },
            b"a\nb",
        );
    }
}
