//! `lucid serve` as a user starts it: the real binary on a free port, over a fresh database and a local
//! blob directory; a manifest is posted, its layer uploaded through the local upload route, and the
//! finished report read back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::fixtures::{debian_base_layer, manifest_of};
use serde_json::Value;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_answers_health_indexes_an_uploaded_layer_and_reports() {
    let db = harness::fresh_database().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let port = harness::free_port().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_lucid"))
        .args([
            "serve",
            "--no-update",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("DATABASE_URL", &db.url)
        .env("LUCID_HOME", home.path())
        .env_remove("LUCID_PSK")
        .env_remove("LUCID_BUCKET")
        .env_remove("LUCID_BLOB_DIR")
        .env_remove("LUCID_FETCH_QUEUE_URL")
        .env("LUCID_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match http.get(format!("{base}/healthz")).send().await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["status"], "ok");
                break;
            }
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("lucid serve did not answer within 60 s: {e}"),
        }
    }
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let layer = debian_base_layer();
    let m = manifest_of(&[&layer]);
    let r = http
        .post(format!("{base}/indexer/api/v1/index_report"))
        .json(&m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["state"], "FetchLayers");
    let url = report["pending_layers"][0]["upload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        format!("{base}/lucid/api/v1/layers/{}", m.layers[0].hash)
    );

    // Streamed upload, as `curl -T layer.tar.gz URL` sends it.
    let r = http.put(&url).body(layer.clone()).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let up: Value = r.json().await.unwrap();
    assert_eq!(up["outcome"], "indexed");
    assert_eq!(up["packages"], 88);

    let r = http
        .get(format!("{base}/indexer/api/v1/index_report/{}", m.hash))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["state"], "IndexFinished", "{}", report["err"]);
    let libc = report["packages"]
        .as_object()
        .unwrap()
        .values()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    assert_eq!(libc["version"], "2.36-9+deb12u14");

    let r = http
        .get(format!("{base}/indexer/api/v1/index_report/{}", m.hash))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    // A wrong upload and an oversized JSON body are JSON 4xx errors.
    let r = http.put(&url).body("not the layer").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["code"], "bad-request");
    let r = http
        .post(format!("{base}/indexer/api/v1/index_report"))
        .body(vec![b'['; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // A client that sends the whole oversized body before it reads the answer gets the 413, not a reset:
    // the server reads on (bounded) rather than closing with the rest of the body unread.
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body_len = 16 << 20;
        write!(
            s,
            "POST /indexer/api/v1/index_report HTTP/1.1\r\nHost: localhost\r\n\
             Content-Type: application/json\r\nConnection: close\r\nContent-Length: {body_len}\r\n\r\n"
        )?;
        s.write_all(&vec![b'['; body_len])?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer)?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload-too-large"), "{answer}");
}

/// Offline at start on an empty database: the scheduled updater's first run reaches no feed (every mirror
/// refuses connections) and loads the offline snapshot shipped with lucid instead, saying so in the log.
#[tokio::test]
async fn serve_falls_back_to_the_snapshot_when_offline_at_start() {
    let db = harness::fresh_database().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("serve.log");
    let port = harness::free_port().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_lucid"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &db.url)
        .env("LUCID_HOME", home.path())
        .env("LUCID_LOG", "off")
        .env_remove("LUCID_FEED_DIR")
        .env_remove("LUCID_FEED_SNAPSHOT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    harness::unreachable_feeds(&mut command);
    let _server = Server(command.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("using the offline snapshot shipped with lucid, dated") {
            break;
        }
        assert!(Instant::now() < deadline, "no snapshot fallback: {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_lucid"))
        .args(["feeds", "status"])
        .env("DATABASE_URL", &db.url)
        .env("LUCID_LOG", "off")
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("debian-oval/bookworm") && l.contains("offline snapshot of")),
        "{status}"
    );
}
