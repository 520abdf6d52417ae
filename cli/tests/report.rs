//! `lucid report --server` against the real `lucid serve` binary: the server's scheduled updater loads an
//! air-gapped feed folder at start (no feed loaded yet), the client posts the manifest of a docker-save
//! image, uploads the missing layers through the server's upload URLs with a JWT minted from the PSK,
//! polls, and prints the vulnerability report with `scan`'s formats and exit codes.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::images;
use serde_json::Value;

/// "0123456789abcdef0123456789abcdef" in base64.
const PSK: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lucid() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lucid"));
    c.env("LUCID_LOG", "off")
        .env_remove("LUCID_PSK")
        .env_remove("LUCID_TOKEN")
        .env_remove("LUCID_SERVER");
    c
}

use harness::assert_exit;

#[test]
fn report_uploads_layers_to_a_server_and_prints_its_findings() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(harness::fresh_database()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let feeds = images::bookworm_feed_dir(dir.path()).unwrap();
    let log = dir.path().join("serve.log");
    let port = harness::free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let child = lucid()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("LUCID_HOME", dir.path().join("home"))
        .env("LUCID_FEED_DIR", &feeds)
        .env("LUCID_PSK", PSK)
        .env("LUCID_LOG", "warn")
        .env_remove("LUCID_BUCKET")
        .env_remove("LUCID_BLOB_DIR")
        .env_remove("LUCID_FETCH_QUEUE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _server = Server(child);

    // The scheduled updater's first run (at start: no feed loaded yet) loads the folder.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("lucid: feed update: ") {
            assert!(text.contains("1 updated"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "no feed update logged: {text}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let image = images::debian_openssl_docker_save(dir.path()).unwrap();

    // Without credentials: the server's 401, in one line.
    let out = lucid()
        .args(["report", "--server", &base])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    harness::assert_one_line_failure(&out, "401");

    let out = lucid()
        .args(["report", "--server", &base, "--format", "json"])
        .env("LUCID_PSK", PSK)
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["packages"].as_object().unwrap().len(), 92);
    assert_eq!(images::findings(&report), images::debian_openssl_expected());

    // Every layer is known now: nothing is uploaded again; the table and the gate work as in `scan`.
    let out = lucid()
        .args(["report", "--server", &base])
        .env("LUCID_SERVER", &base)
        .env("LUCID_PSK", PSK)
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Vulnerabilities: 4"), "{table}");
    let out = lucid()
        .args([
            "report",
            "--server",
            &base,
            "--fail-on",
            "unknown",
            "--ignore-unfixed",
            "--format",
            "sarif",
        ])
        .env("LUCID_PSK", PSK)
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "CVE-2022-4304");

    // A server that is not there, and a directory (which remote mode cannot upload): one line each.
    let gone = format!("http://127.0.0.1:{}", harness::free_port().unwrap());
    let out = lucid()
        .args(["report", "--server", &gone])
        .arg(&image)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    harness::assert_one_line_failure(&out, "POST");
    let out = lucid()
        .args(["report", "--server", &base])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_exit(&out, 2);
    harness::assert_one_line_failure(&out, "root filesystem");
}
