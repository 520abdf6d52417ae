//! Harbor's Pluggable Scanner API end to end: a local registry (hyper) serves a real three-layer image
//! (built by `harness::images`) behind Docker token authentication; `POST /api/v1/scan` pulls the manifest
//! with Harbor's Basic credentials exchanged for a pull token, stages the layers as fetch jobs, the
//! in-process worker fetches and indexes them, and `GET /api/v1/scan/{id}/report` answers 302 with
//! `Refresh-After` until the Harbor report is ready. Re-posting queues no duplicate fetch jobs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use lucid::api::{Api, handle};
use lucid::blob::DirBlobStore;
use lucid::ecosystems::debian;
use lucid::feeds::store::FeedStore;
use lucid::indexer::Indexer;
use lucid::queue::MemoryQueue;
use serde_json::{Value, json};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src");
/// `robot:secret`, as Harbor passes robot credentials.
const BASIC: &str = "Basic cm9ib3Q6c2VjcmV0";
const TOKEN: &str = "pull-token-1";

struct Registry {
    base: String,
    /// `Authorization` values seen on blob requests.
    blob_auth: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A registry serving the blobs of an OCI layout as `app`'s manifests and blobs, with token auth: 401 and
/// a Bearer challenge without the token, the token from `/token` for the right Basic credentials.
async fn registry(layout: PathBuf) -> Registry {
    use http_body_util::Full;
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                a = listener.accept() => a.unwrap(),
                _ = &mut rx => return,
            };
            let layout = layout.clone();
            let seen = seen2.clone();
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let layout = layout.clone();
                let seen = seen.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let query = req.uri().query().unwrap_or_default().to_owned();
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let reply = |status: u16, body: Vec<u8>| {
                        hyper::Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from(body)))
                            .unwrap()
                    };
                    let blob = |digest: &str| {
                        let hex = digest.strip_prefix("sha256:").unwrap_or("none");
                        std::fs::read(layout.join("blobs/sha256").join(hex)).ok()
                    };
                    let resp = if path == "/token" {
                        if auth == BASIC
                            && query.contains("scope=repository%3Aapp%3Apull")
                            && query.contains("service=test-registry")
                        {
                            reply(200, format!("{{\"token\":\"{TOKEN}\"}}").into_bytes())
                        } else {
                            reply(401, b"bad credentials".to_vec())
                        }
                    } else if auth != format!("Bearer {TOKEN}") {
                        let mut r = reply(401, b"{\"errors\":[]}".to_vec());
                        r.headers_mut().insert(
                            "www-authenticate",
                            format!(
                                "Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test-registry\",scope=\"repository:app:pull\""
                            )
                            .parse()
                            .unwrap(),
                        );
                        r
                    } else if let Some(d) = path.strip_prefix("/v2/app/manifests/") {
                        match blob(d) {
                            Some(b) => {
                                let mut r = reply(200, b);
                                r.headers_mut().insert(
                                    "content-type",
                                    "application/vnd.oci.image.manifest.v1+json"
                                        .parse()
                                        .unwrap(),
                                );
                                r
                            }
                            None => reply(
                                404,
                                b"{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}".to_vec(),
                            ),
                        }
                    } else if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
                        seen.lock().unwrap().push(auth.clone());
                        match blob(d) {
                            Some(b) => reply(200, b),
                            None => reply(404, Vec::new()),
                        }
                    } else {
                        reply(404, Vec::new())
                    };
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
            );
        }
    });
    Registry {
        base: format!("http://127.0.0.1:{port}"),
        blob_auth: seen,
        _stop: tx,
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

async fn call(
    api: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = handle(api, b.body(Bytes::from(body)).unwrap()).await;
    Reply {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: if resp.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(resp.body()).unwrap()
        },
    }
}

fn scan_request(registry: &str, authorization: &str, repository: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "registry": {"url": registry, "authorization": authorization},
        "artifact": {
            "repository": repository,
            "digest": digest,
            "tag": "1.0",
            "mime_type": "application/vnd.oci.image.manifest.v1+json",
        },
    }))
    .unwrap()
}

const SCAN_TYPE: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.1";

#[tokio::test]
async fn harbor_scans_an_image_pulled_from_a_registry() {
    let db = harness::database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(DirBlobStore::new(dir.path().join("blobs")));
    let queue = Arc::new(MemoryQueue::new("fetch", Duration::from_secs(30)));
    let indexer = Indexer::new(db.clone(), blobs);
    let api = Api::new(db.clone(), indexer, queue.clone(), None);

    // Debian bookworm's advisories are loaded.
    let xml = std::fs::read(format!(
        "{SHARED}/ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml"
    ))
    .unwrap();
    let records = debian::oval::parse_oval(xml.as_slice(), "bookworm").unwrap();
    let store = FeedStore::new(db.clone());
    store
        .commit("debian-oval/bookworm", "fp", &records)
        .await
        .unwrap();
    store
        .record_attempt("debian-oval/bookworm", Ok(("fp", records.len() as i64)))
        .await
        .unwrap();

    let layout = dir.path().join("layout");
    let layers = harness::images::debian_layers().unwrap();
    let digest = harness::images::oci_layout(&layout, &layers).unwrap();
    let reg = registry(layout).await;

    // Metadata.
    let r = call(&api, "GET", "/api/v1/metadata", &[], Vec::new()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.scanner.adapter.metadata+json; version=1.1"
    );
    assert_eq!(r.body["scanner"]["name"], "Lucid");
    let cap = &r.body["capabilities"][0];
    assert_eq!(cap["type"], "vulnerability");
    assert!(
        cap["produces_mime_types"]
            .as_array()
            .unwrap()
            .contains(&json!(
                "application/vnd.security.vulnerability.report; version=1.1"
            ))
    );
    assert!(
        r.body["properties"]["harbor.scanner-adapter/vulnerability-database-updated-at"]
            .is_string()
    );

    // The scan request: 202 with an id; the layers are queued once however often it is posted.
    let body = scan_request(&reg.base, BASIC, "app", &digest);
    let r = call(
        &api,
        "POST",
        "/api/v1/scan",
        &[("content-type", SCAN_TYPE)],
        body.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.scanner.adapter.scan.response+json; version=1.0"
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(queue.len(), layers.len());
    let again = call(&api, "POST", "/api/v1/scan", &[], body.clone()).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(queue.len(), layers.len(), "no duplicate fetch jobs");

    // Pending: 302 with Refresh-After.
    let report_path = format!("/api/v1/scan/{id}/report");
    let r = call(&api, "GET", &report_path, &[], Vec::new()).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.headers["refresh-after"], "5");

    // The worker fetches the layers with the pull token; then the report.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(lucid::indexer::fetch::run_worker(
        api.indexer().clone(),
        queue.clone(),
        rx,
    ));
    let accept = [(
        "accept",
        "application/vnd.security.vulnerability.report; version=1.1",
    )];
    let mut r = call(&api, "GET", &report_path, &accept, Vec::new()).await;
    for _ in 0..300 {
        if r.status != StatusCode::FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        r = call(&api, "GET", &report_path, &accept, Vec::new()).await;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.security.vulnerability.report; version=1.1"
    );
    assert_eq!(r.body["artifact"]["repository"], "app");
    assert_eq!(r.body["artifact"]["digest"], digest.as_str());
    assert_eq!(r.body["artifact"]["tag"], "1.0");
    assert_eq!(r.body["scanner"]["name"], "Lucid");
    let vulns = r.body["vulnerabilities"].as_array().unwrap();
    assert!(!vulns.is_empty());
    let severities = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"];
    for v in vulns {
        assert!(v["id"].as_str().unwrap().starts_with("CVE-"), "{v}");
        assert!(!v["package"].as_str().unwrap().is_empty());
        assert!(!v["version"].as_str().unwrap().is_empty());
        assert!(severities.contains(&v["severity"].as_str().unwrap()));
        assert!(v["links"].is_array());
        assert_eq!(v["vendor_attributes"]["updater"], "debian-oval");
    }
    let top = severities
        .iter()
        .position(|s| *s == r.body["severity"])
        .unwrap();
    assert!(
        vulns
            .iter()
            .all(|v| severities.iter().position(|s| *s == v["severity"]).unwrap() <= top)
    );
    // Every blob request carried the token, never the robot credentials.
    let seen = reg.blob_auth.lock().unwrap().clone();
    assert_eq!(seen.len(), layers.len());
    assert!(
        seen.iter().all(|a| a == &format!("Bearer {TOKEN}")),
        "{seen:?}"
    );
    // The same report in Harbor's 1.0 type when asked.
    let r = call(
        &api,
        "GET",
        &report_path,
        &[(
            "accept",
            "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
        )],
        Vec::new(),
    )
    .await;
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
    );
    assert_eq!(
        r.body["vulnerabilities"].as_array().unwrap().len(),
        vulns.len()
    );
    // A finished image re-posted finishes at once: nothing queued.
    let r = call(&api, "POST", "/api/v1/scan", &[], body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(queue.is_empty());

    // Bad requests: Harbor's error body, never a 5xx.
    let wrong_creds = scan_request(&reg.base, "Basic d3Jvbmc6d3Jvbmc=", "app", &digest);
    let unknown = scan_request(
        &reg.base,
        BASIC,
        "app",
        &harness::images::sha256(b"nothing"),
    );
    let cases: Vec<(Vec<u8>, &str, StatusCode)> = vec![
        (b"{not json".to_vec(), "", StatusCode::BAD_REQUEST),
        (b"{}".to_vec(), "", StatusCode::BAD_REQUEST),
        (wrong_creds, "401", StatusCode::UNPROCESSABLE_ENTITY),
        (unknown, "404", StatusCode::UNPROCESSABLE_ENTITY),
        (
            scan_request(&reg.base, BASIC, "app", "sha256:nothex"),
            "digest",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            scan_request(&reg.base, BASIC, "../etc", &digest),
            "repository",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            scan_request("ftp://example", BASIC, "app", &digest),
            "http",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            scan_request("'; DROP TABLE manifest; --", BASIC, "app", &digest),
            "registry url",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (body, needle, status) in cases {
        let r = call(&api, "POST", "/api/v1/scan", &[], body).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(
            r.headers["content-type"],
            "application/vnd.scanner.adapter.error+json; version=1.0"
        );
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
    let r = call(
        &api,
        "POST",
        "/api/v1/scan",
        &[("content-type", "text/plain")],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for bad_id in ["nope", "eyJ9", "%27%20OR%201%3D1"] {
        let r = call(
            &api,
            "GET",
            &format!("/api/v1/scan/{bad_id}/report"),
            &[],
            Vec::new(),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad_id}");
        assert!(r.body["error"]["message"].is_string());
    }
    let r = call(&api, "DELETE", "/api/v1/metadata", &[], Vec::new()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = call(&api, "GET", "/api/v1/scan", &[], Vec::new()).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
