//! `lucid scan` and `lucid convert` as a user runs them: real images built from real package data, a fresh
//! PostgreSQL database per test (DATABASE_URL), exit codes 0/1/2, every output format parsed.

use std::path::Path;
use std::process::{Command, Output};

use harness::images;
use serde_json::Value;

const SAMPLE_REPORT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/src/report_format/testdata/bullseye-report.json"
);

fn database_url() -> String {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(harness::fresh_database()).unwrap().url
}

fn lucid(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lucid"));
    c.env("DATABASE_URL", db)
        .env("LUCID_LOG", "off")
        .env("LUCID_SKIP_FEED_UPDATE", "1")
        .env_remove("NO_COLOR");
    c
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

use harness::assert_exit;

fn assert_one_line_error(out: &Output, needle: &str) {
    assert_exit(out, 2);
    harness::assert_one_line_failure(out, needle);
}

fn debian_oci_tar(dir: &Path) -> std::path::PathBuf {
    let layers = images::debian_layers().unwrap();
    let layout = dir.join("layout");
    images::oci_layout(&layout, &layers).unwrap();
    let tar = dir.join("debian-oci.tar");
    images::tar_directory(&layout, &tar).unwrap();
    tar
}

#[test]
fn scan_an_oci_archive_in_every_format() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let tar = debian_oci_tar(dir.path());

    let out = lucid(&db).arg("scan").arg(&tar).output().unwrap();
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(
        table.contains("OS: Debian GNU/Linux 12 (bookworm)"),
        "{table}"
    );
    assert!(table.contains("Packages: 91"), "{table}");
    assert!(
        !table.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    let out = lucid(&db)
        .args(["scan", "--format", "json"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = report["packages"].as_object().unwrap();
    assert_eq!(packages.len(), 91);
    assert!(
        packages
            .values()
            .any(|p| p["name"] == "libc6" && p["version"] == "2.36-9+deb12u14")
    );
    assert!(
        !packages.values().any(|p| p["name"] == "PyYAML"),
        "whited out"
    );
    assert!(report["vulnerabilities"].is_object());

    let out = lucid(&db)
        .args(["scan", "--format", "cyclonedx"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let bom: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bom["specVersion"], "1.5");
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.contains(
            &"pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64&distro=debian-12&upstream=glibc"
        ),
        "{purls:?}"
    );
    assert!(purls.contains(&"pkg:pypi/urllib3@2.8.0"), "{purls:?}");

    let out_file = dir.path().join("report.spdx.json");
    let out = lucid(&db)
        .args(["scan", "--format", "spdx", "-o"])
        .arg(&out_file)
        .arg(&tar)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(out.stdout.is_empty());
    let spdx: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(
        spdx["packages"].as_array().unwrap().len(),
        92,
        "the image and its 91 packages"
    );

    let out = lucid(&db)
        .args(["scan", "--format", "sarif"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "lucid");
}

#[test]
fn scan_docker_save_archives_and_a_root_filesystem() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let classic = dir.path().join("classic.tar");
    images::docker_save_classic(
        &classic,
        &images::debian_layers().unwrap(),
        "example/debian:12",
    )
    .unwrap();
    let out = lucid(&db)
        .args(["scan", "--format", "json"])
        .arg(&classic)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"].as_object().unwrap().len(), 91);

    let modern = dir.path().join("alpine.tar");
    let manifest =
        images::docker_save_oci(&modern, &images::alpine_layers().unwrap(), "alpine:3.19").unwrap();
    let out = lucid(&db).arg("scan").arg(&modern).output().unwrap();
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(table.contains(&manifest), "{table}");
    assert!(
        table.contains("Image: docker.io/library/alpine:3.19"),
        "{table}"
    );
    assert!(table.contains("Alpine Linux v3.19"), "{table}");

    let root = dir.path().join("rootfs");
    for (rel, from) in [
        (
            "etc/os-release",
            "distribution/testdata/debian-12.os-release",
        ),
        (
            "var/lib/dpkg/status",
            "dpkg/testdata/bookworm-minbase-status",
        ),
    ] {
        let dest = root.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, images::ecosystems_testdata(from).unwrap()).unwrap();
    }
    let out = lucid(&db)
        .args(["scan", "--format", "json"])
        .arg(&root)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"].as_object().unwrap().len(), 88);
}

#[test]
fn bad_inputs_are_one_clear_line_and_exit_2() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.tar");
    std::fs::write(&garbage, vec![7u8; 10_000]).unwrap();
    let out = lucid(&db).arg("scan").arg(&garbage).output().unwrap();
    assert_one_line_error(&out, "not a docker-save or OCI image");

    let out = lucid(&db)
        .args(["scan", "/no/such/image.tar"])
        .output()
        .unwrap();
    assert_one_line_error(&out, "/no/such/image.tar");

    // A corrupt layer: the layout is fine, the zstd blob is truncated.
    let layers = images::debian_layers().unwrap();
    let layout = dir.path().join("layout");
    images::oci_layout(&layout, &layers).unwrap();
    let d = layers[1].digest();
    let blob = layout
        .join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"));
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
    let out = lucid(&db).arg("scan").arg(&layout).output().unwrap();
    assert_one_line_error(&out, "zstd stream is truncated");

    let tar = debian_oci_tar(dir.path());
    let out = lucid(&db)
        .args(["scan", "--platform", "linux"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_one_line_error(&out, "invalid platform");
    let out = lucid(&db)
        .args(["scan", "--platform", "linux/arm64"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_one_line_error(&out, "no image for platform linux/arm64");

    // No feed loaded in this database: a gate would check nothing, so it is refused rather than passed.
    let out = lucid(&db)
        .args(["scan", "--fail-on", "high"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_one_line_error(
        &out,
        "cannot apply --fail-on: no vulnerability feed has loaded yet",
    );
    let out = lucid(&db).arg("scan").arg(&tar).output().unwrap();
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("note: no_feeds_loaded: no vulnerability feed has loaded yet"),
        "{}",
        stdout(&out)
    );

    let out = lucid(&db)
        .args(["scan", "--fail-on", "severe"])
        .arg(&tar)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("unknown severity"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_ci_gate_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let convert = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lucid"))
            .env("LUCID_LOG", "off")
            .arg("convert")
            .arg(SAMPLE_REPORT)
            .args(args)
            .output()
            .unwrap()
    };
    let out = convert(&[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("CVE-2022-37434"));

    let out = convert(&["--fail-on", "high"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("2 findings at or above High"),
        "{}",
        stderr(&out)
    );
    let out = convert(&["--fail-on", "critical", "--format", "json"]);
    assert_exit(&out, 1);
    let _: Value = serde_json::from_slice(&out.stdout).unwrap();

    let ignore = dir.path().join("ignore.yaml");
    std::fs::write(
        &ignore,
        "ignore:\n  - id: CVE-2022-37434\n    package: zlib\n    reason: inflateGetHeader is never called\n    expires: 2999-12-31\n  - id: CVE-2023-0286\n    reason: old exception\n    expires: 2020-01-01\n",
    )
    .unwrap();
    let ignore_arg = ignore.to_str().unwrap();
    let out = convert(&["--fail-on", "critical", "--ignore-file", ignore_arg]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains("CVE-2022-37434  "), "{text}");
    assert!(
        text.contains("note: ignored CVE-2022-37434 in zlib1g: inflateGetHeader is never called"),
        "{text}"
    );
    assert!(
        text.contains("note: ignore entry CVE-2023-0286 expired on 2020-01-01"),
        "{text}"
    );
    let out = convert(&["--fail-on", "high", "--ignore-file", ignore_arg]);
    assert_exit(&out, 1);

    let out = convert(&[
        "--fail-on",
        "negligible",
        "--ignore-unfixed",
        "--format",
        "sarif",
    ]);
    assert_exit(&out, 1);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 4);
    assert!(
        stderr(&out).contains("1 findings without a fixed version not shown"),
        "{}",
        stderr(&out)
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[[ignore]]\nid = \"CVE-1\"\n").unwrap();
    let out = convert(&["--ignore-file", bad.to_str().unwrap()]);
    assert_one_line_error(&out, "has no reason");

    let not_report = dir.path().join("x.json");
    std::fs::write(&not_report, "{\"hello\": 1}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lucid"))
        .env("LUCID_LOG", "off")
        .arg("convert")
        .arg(&not_report)
        .output()
        .unwrap();
    assert_one_line_error(&out, "not a vulnerability report");
}

/// Index + match end to end: real Debian OVAL (the repository's bookworm excerpt) loaded with
/// `lucid update --from`, then an image whose top layer rewrites the dpkg database with an OpenSSL from
/// before the CVE-2022-4304 fix.
#[test]
fn scan_finds_real_advisories_and_gates_on_them() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let feeds = images::bookworm_feed_dir(dir.path()).unwrap();
    let out = lucid(&db)
        .args(["update", "--from"])
        .arg(&feeds)
        .output()
        .unwrap();
    assert_exit(&out, 0);

    let image = images::debian_openssl_docker_save(dir.path()).unwrap();

    let out = lucid(&db)
        .args(["scan", "--format", "json"])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(images::findings(&report), images::debian_openssl_expected());
    // The Python packages of the image have no feed loaded: said, not hidden.
    assert_eq!(
        report["warnings"],
        serde_json::json!([{
            "code": "feed_not_loaded",
            "message": "3 pypi packages were not checked: no feed covering them has loaded",
        }])
    );

    // The same findings as CycloneDX, SPDX and SARIF, each accepted by its official validator
    // (infra/validate_report_formats.py with the validators infra/setup.sh installs).
    let mut rendered = Vec::new();
    for format in ["cyclonedx", "spdx", "sarif"] {
        let path = dir.path().join(format!("report.{format}.json"));
        let out = lucid(&db)
            .args(["scan", "--format", format, "-o"])
            .arg(&path)
            .arg(&image)
            .output()
            .unwrap();
        assert_exit(&out, 0);
        rendered.push(path);
    }
    validate_with_official_validators(&rendered);

    let out = lucid(&db).arg("scan").arg(&image).output().unwrap();
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(table.contains("Vulnerabilities: 4"), "{table}");
    assert!(
        table.lines().any(|l| l.starts_with("libssl3 ")
            && l.contains("CVE-2022-4304")
            && l.contains("3.0.8-1")),
        "{table}"
    );

    // The gate: every finding counts at --fail-on unknown; without unfixed ones, OpenSSL's remains; an
    // ignore entry for it (through its source package) lets the build pass.
    let out = lucid(&db)
        .args(["scan", "--fail-on", "unknown"])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let out = lucid(&db)
        .args([
            "scan",
            "--fail-on",
            "unknown",
            "--ignore-unfixed",
            "--format",
            "sarif",
        ])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["ruleId"], "CVE-2022-4304");
    let ignore = dir.path().join("ignore.toml");
    std::fs::write(
        &ignore,
        "[[ignore]]\nid = \"CVE-2022-4304\"\npackage = \"openssl\"\nreason = \"RSA decryption is not used\"\nexpires = 2999-01-01\n",
    )
    .unwrap();
    let out = lucid(&db)
        .args([
            "scan",
            "--fail-on",
            "unknown",
            "--ignore-unfixed",
            "--ignore-file",
        ])
        .arg(&ignore)
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("note: ignored CVE-2022-4304 in libssl3: RSA decryption is not used")
    );
}

/// On the embedded default, `lucid update`'s diffs go to an in-process queue: the command notifies
/// subscribers itself before exiting, so a one-shot update on a machine loses no notification.
#[test]
fn a_local_update_notifies_subscribers_of_already_scanned_images() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let feeds = images::bookworm_feed_dir(dir.path()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let receiver = rt.block_on(harness::webhook::Receiver::start()).unwrap();
    let lucid_notifying = || {
        let mut c = lucid(&db);
        c.env(
            "LUCID_SUBSCRIBERS",
            serde_json::json!([{"target": receiver.url()}]).to_string(),
        )
        .env("LUCID_WEBHOOK_ALLOW_PRIVATE", "true")
        .env(
            "LUCID_NOTIFIER_CALLBACK_URL",
            "https://lucid.test/notifier/api/v1/notification/",
        );
        c
    };
    let out = lucid_notifying()
        .args(["update", "--from"])
        .arg(&feeds)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let image = images::debian_openssl_docker_save(dir.path()).unwrap();
    assert_exit(&lucid(&db).arg("scan").arg(&image).output().unwrap(), 0);
    // The first load was not notified (policy); the scan indexed the image.
    assert!(receiver.received().is_empty());

    // Debian withdraws CVE-2022-4304's definition: the image's openssl finding is removed.
    let oval = feeds.join("oval-definitions-bookworm.xml");
    let text = std::fs::read_to_string(&oval).unwrap();
    let title = text.find("<title>CVE-2022-4304 openssl</title>").unwrap();
    let start = text[..title].rfind("<definition ").unwrap();
    let end = title + text[title..].find("</definition>").unwrap() + "</definition>".len();
    std::fs::write(&oval, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let out = lucid_notifying()
        .args(["update", "--from"])
        .arg(&feeds)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("1 notification set(s) written"),
        "{}",
        stderr(&out)
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one webhook for the one set");
    let body = received[0].json().unwrap();
    let id = body["notification_id"].as_str().unwrap();
    assert_eq!(
        body["callback"],
        format!("https://lucid.test/notifier/api/v1/notification/{id}")
    );
}

/// Runs the CycloneDX project's validator, spdx-tools and SARIF's JSON schema over `files`
/// (`.venv-formats`, installed by infra/setup.sh, which the README's test command runs first).
fn validate_with_official_validators(files: &[std::path::PathBuf]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv-formats/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash infra/setup.sh` (the README's test command does)",
        python.display()
    );
    let out = Command::new(python)
        .arg(root.join("infra/validate_report_formats.py"))
        .arg("--sarif-schema")
        .arg(root.join(".venv-formats/sarif-schema/package/lib/schemas/sarif-2.1.0-rtm.5.json"))
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validators refused a report:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| l.starts_with("valid "))
            .count(),
        files.len()
    );
}

/// A first scan on an empty database loads the configured feeds itself (here an air-gapped folder through
/// `LUCID_FEED_DIR`, so no network is needed), then matches; later scans do not load again.
#[test]
fn first_scan_loads_the_feeds_once() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let feeds = images::bookworm_feed_dir(dir.path()).unwrap();
    let image = dir.path().join("debian.tar");
    images::docker_save_classic(
        &image,
        &images::debian_layers().unwrap(),
        "example/debian:12",
    )
    .unwrap();
    let scan = || {
        lucid(&db)
            .env_remove("LUCID_SKIP_FEED_UPDATE")
            .env("LUCID_FEED_DIR", &feeds)
            .args(["scan", "--format", "json"])
            .arg(&image)
            .output()
            .unwrap()
    };
    let first = scan();
    assert_exit(&first, 0);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("loading vulnerability feeds for the first time"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let names: Vec<&str> = report["vulnerabilities"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert!(names.contains(&"CVE-2011-3374"), "{names:?}");
    assert!(
        report["feeds"]
            .as_object()
            .unwrap()
            .contains_key("debian-oval/bookworm")
    );

    let second = scan();
    assert_exit(&second, 0);
    assert!(!String::from_utf8_lossy(&second.stderr).contains("loading vulnerability feeds"));
}

/// Offline on a first run (every feed mirror refuses connections, no retries): the scan loads the offline
/// snapshot shipped inside the binary, says so with its date, and finds real advisories in it; the report
/// and `lucid feeds status` mark the data as a snapshot. Later scans do not load it again.
#[test]
fn offline_first_scan_falls_back_to_the_shipped_snapshot() {
    let db = database_url();
    let dir = tempfile::tempdir().unwrap();
    let image = debian_oci_tar(dir.path());
    let offline = || {
        let mut c = lucid(&db);
        c.env_remove("LUCID_SKIP_FEED_UPDATE")
            .env_remove("LUCID_FEED_DIR")
            .env_remove("LUCID_FEED_SNAPSHOT");
        harness::unreachable_feeds(&mut c);
        c
    };
    let first = offline()
        .args(["scan", "--format", "json", "--fail-on", "unknown"])
        .arg(&image)
        .output()
        .unwrap();
    // Findings from the snapshot fail the gate: never an empty "clean" result for want of feeds.
    assert_exit(&first, 1);
    let err = stderr(&first);
    assert!(
        err.contains("using the offline snapshot shipped with lucid, dated 20"),
        "{err}"
    );
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let found = images::findings(&report);
    assert!(
        found
            .iter()
            .any(|(p, name, _)| p == "apt" && name == "CVE-2011-3374"),
        "{found:?}"
    );
    let date = report["feeds"]["debian-oval/bookworm"]["snapshot"]
        .as_str()
        .unwrap();
    assert_eq!(date.len(), 10, "{date}");
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["code"] == "feed_snapshot" && w["message"].as_str().unwrap().contains(date)),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w["code"] == "no_feeds_loaded"));

    let status = lucid(&db).args(["feeds", "status"]).output().unwrap();
    assert_exit(&status, 0);
    let table = stdout(&status);
    assert!(
        table.lines().any(|l| l.starts_with("debian-oval/bookworm")
            && l.contains(&format!("(offline snapshot of {date})"))),
        "{table}"
    );

    let second = offline().arg("scan").arg(&image).output().unwrap();
    assert_exit(&second, 0);
    assert!(!stderr(&second).contains("using the offline snapshot"));
    let table = stdout(&second);
    assert!(
        table.contains("feed_snapshot") && table.contains(date),
        "{table}"
    );
}
