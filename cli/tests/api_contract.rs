//! The API contract: schemathesis (installed by `infra/setup.sh` into `.venv-contract`) generates requests
//! from the served OpenAPI document (`GET /openapi/v1`) — valid ones and deliberately invalid ones — and
//! checks every answer against it: no 5xx, documented status codes, content types, headers and schemas.
//! It runs against the real `lucid serve` binary with authentication on (a minted PSK JWT passed as a
//! header), over a fresh database holding a loaded feed and one indexed manifest.
//!
//! `POST /api/v1/scan` is left out: its inputs are registry URLs that schemathesis would make the server
//! dial; `tests/tests/api_harbor.rs` covers it against a local registry.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use harness::fixtures::{debian_base_layer, manifest_of};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lucid::feeds::store::FeedStore;
use serde_json::json;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PSK: &[u8] = b"contract-test-pre-shared-key-32b";

fn schemathesis() -> PathBuf {
    let st = harness::repo_root().join(".venv-contract/bin/st");
    assert!(
        st.exists(),
        "{} is missing: run `bash infra/setup.sh` (installs schemathesis from infra/contract-requirements.txt)",
        st.display()
    );
    st
}

#[tokio::test]
async fn the_served_openapi_document_holds_under_schemathesis() {
    let st = schemathesis();
    let db = harness::fresh_database().await.unwrap();
    let home = tempfile::tempdir().unwrap();

    let port = harness::free_port().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lucid"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("LUCID_HOME", home.path())
        .env(
            "LUCID_PSK",
            base64::engine::general_purpose::STANDARD.encode(PSK),
        )
        .env("LUCID_PSK_ISSUERS", "contract")
        .env_remove("LUCID_BUCKET")
        .env_remove("LUCID_BLOB_DIR")
        .env_remove("LUCID_FETCH_QUEUE_URL")
        .env("LUCID_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": "contract", "exp": exp}),
        &EncodingKey::from_secret(PSK).unwrap(),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "lucid serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // (The server has migrated the database.) A loaded feed, so reports are 200s and update operations exist.
    let database = lucid::store::Database::connect(&db.url, 2, Duration::from_secs(10))
        .await
        .unwrap();
    let xml = std::fs::read(
        harness::repo_root()
            .join("shared/src/ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml"),
    )
    .unwrap();
    let records = lucid::ecosystems::debian::oval::parse_oval(xml.as_slice(), "bookworm").unwrap();
    let store = FeedStore::new(database.clone());
    store
        .commit("debian-oval/bookworm", "fp", &records)
        .await
        .unwrap();
    store
        .record_attempt("debian-oval/bookworm", Ok(("fp", records.len() as i64)))
        .await
        .unwrap();

    // One indexed manifest.
    let layer = debian_base_layer();
    let m = manifest_of(&[&layer]);
    let r = http
        .post(format!("{base}/indexer/api/v1/index_report"))
        .bearer_auth(&token)
        .json(&m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = http
        .put(format!("{base}/lucid/api/v1/layers/{}", m.layers[0].hash))
        .bearer_auth(&token)
        .body(layer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Existing resources, so generated requests also reach the 200 paths, and the per-operation exceptions.
    let ops: serde_json::Value = http
        .get(format!("{base}/matcher/api/v1/internal/update_operation"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reference = ops["debian-oval/bookworm"][0]["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            r#"
# Every check runs (schemathesis's default); these add existing resources and one exception.
[[operations]]
include-operation-id = "GetVulnerabilityReport"
parameters = {{ digest = "{manifest}" }}

[[operations]]
include-operation-id = "GetUpdateDiff"
parameters = {{ cur = "{reference}" }}

# An upload is accepted only when its bytes hash to the digest in its path, which no schema can say:
# schema-valid uploads of other bytes are rightly 400.
[[operations]]
include-operation-id = "UploadLayer"
checks.positive_data_acceptance.enabled = false
"#,
            manifest = m.hash
        ),
    )
    .unwrap();
    let dir = work.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .current_dir(&dir)
            .arg("--config-file")
            .arg(&config)
            .args([
                "run",
                &format!("{base}/openapi/v1"),
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--exclude-operation-id",
                "AcceptScanRequest",
                "--max-examples",
                "15",
                // One worker: hypothesis's lambda-source parsing is not thread-safe on Python 3.11.
                "--workers",
                "1",
                "--seed",
                "20261128",
                "--generation-database",
                "none",
                "--request-timeout",
                "10",
                "--no-color",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found contract violations:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
