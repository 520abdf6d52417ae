//! Start-up of the real `bootstrap` binary: bad configuration is one clear line and a non-zero exit.

use harness::{assert_one_line_failure, lambda_bootstrap};

fn bootstrap() -> std::process::Command {
    lambda_bootstrap(env!("CARGO_BIN_EXE_lucid-indexer"), "lucid-indexer")
}

#[test]
fn missing_database_url_is_one_line() {
    let out = bootstrap().output().unwrap();
    assert_one_line_failure(&out, "DATABASE_URL");
}

#[test]
fn unreachable_database_is_one_line() {
    let out = bootstrap()
        .env("DATABASE_URL", "postgres://lucid@127.0.0.1:1/lucid")
        .env("LUCID_DB_CONNECT_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert_one_line_failure(&out, "database unreachable");
}
