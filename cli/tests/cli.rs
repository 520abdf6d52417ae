//! The `lucid` binary as a user runs it.

use std::process::Command;

fn lucid() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lucid"));
    c.env_remove("DATABASE_URL").env("LUCID_LOG", "off");
    c
}

/// Asserts a failed run exited 2 (usage or runtime error) with one error line and no panic.
fn assert_one_line_error(out: &std::process::Output, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    harness::assert_one_line_failure(out, needle);
}

#[test]
fn invalid_configuration_is_one_clear_line() {
    let out = lucid()
        .arg("migrate")
        .env("LUCID_DB_POOL_SIZE", "lots")
        .output()
        .unwrap();
    assert_one_line_error(&out, "LUCID_DB_POOL_SIZE");

    let out = lucid()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert_one_line_error(&out, "DATABASE_URL");
}

#[test]
fn unreachable_database_is_one_clear_line() {
    let out = lucid()
        .arg("migrate")
        .env("DATABASE_URL", "postgres://lucid@127.0.0.1:1/lucid")
        .env("LUCID_DB_CONNECT_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert_one_line_error(&out, "database unreachable");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let out = lucid().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// With no DATABASE_URL, the CLI starts its own PostgreSQL under LUCID_HOME, and reuses that cluster.
#[test]
fn embedded_default_starts_and_reuses_its_own_postgres() {
    let home = tempfile::Builder::new()
        .prefix("lucid-cli-home-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for run in 0..2 {
        let out = lucid()
            .args(["db", "status"])
            .env("LUCID_HOME", home.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "run {run}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("embedded PostgreSQL"), "{stdout}");
        assert!(!stdout.contains("schema version: 0"), "{stdout}");
    }
    // Initialised once, kept for reuse, and stopped cleanly after each run (no server left behind).
    assert!(home.path().join("pg/data/PG_VERSION").is_file());
    assert!(!home.path().join("pg/data/postmaster.pid").exists());
}

#[test]
fn index_lists_the_packages_of_a_root_filesystem() {
    let root = tempfile::tempdir().unwrap();
    let eco = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/ecosystems");
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
        let dest = root.path().join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(format!("{eco}/{from}"), dest).unwrap();
    }
    let out = lucid().arg("index").arg(root.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Debian GNU/Linux 12 (bookworm)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("libc6") && stdout.contains("2.36-9+deb12u14"),
        "{stdout}"
    );
    assert!(stdout.contains("88 packages (dpkg 88)"), "{stdout}");

    let out = lucid()
        .args(["index", "--format", "json"])
        .arg(root.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "IndexFinished");
    assert_eq!(report["packages"].as_object().unwrap().len(), 88);

    let out = lucid().args(["index", "/no/such/dir"]).output().unwrap();
    assert_one_line_error(&out, "/no/such/dir");
}
