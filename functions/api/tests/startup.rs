//! Start-up of the real `bootstrap` binary: bad configuration is one clear line and a non-zero exit.

use std::process::Command;

fn bootstrap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    c.env_remove("DATABASE_URL")
        .env_remove("LUCID_DATABASE_SECRET_ARN")
        .env("AWS_LAMBDA_FUNCTION_NAME", "lucid-api")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9");
    c
}

fn assert_one_line_failure(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
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
