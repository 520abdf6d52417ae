//! The HTTP router's Clair v4 indexer routes, driven with plain `http` requests over real PostgreSQL, a
//! local blob directory and the in-process fetch queue: staging, uploads, fetch jobs against a local
//! "registry", ETag behaviour, authentication and JSON errors.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use harness::fixtures::{debian_base_layer, manifest_of, python_layer};
use http::{HeaderMap, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lucid::api::{Api, handle};
use lucid::blob::{BlobKey, BlobStore, DirBlobStore};
use lucid::config::AuthConfig;
use lucid::indexer::Indexer;
use lucid::model::{Digest, LayerRef, Manifest};
use lucid::queue::{MemoryQueue, Queue};
use serde_json::{Value, json};

struct Env {
    api: Api,
    queue: Arc<MemoryQueue>,
    blobs: Arc<DirBlobStore>,
    _dir: tempfile::TempDir,
}

async fn env_with(auth: Option<AuthConfig>) -> Env {
    let db = harness::database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(DirBlobStore::new(dir.path()));
    let queue = Arc::new(MemoryQueue::new("fetch", Duration::from_secs(30)));
    let indexer = Indexer::new(db.clone(), blobs.clone());
    let api = Api::new(db, indexer, queue.clone(), auth.as_ref());
    Env {
        api,
        queue,
        blobs,
        _dir: dir,
    }
}

async fn env() -> Env {
    env_with(None).await
}

fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Request<Bytes> {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).unwrap()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    raw: Bytes,
}

async fn call(api: &Api, req: Request<Bytes>) -> Reply {
    let resp = handle(api, req).await;
    let (parts, raw) = resp.into_parts();
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("not JSON ({e}): {raw:?}"))
    };
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
        raw,
    }
}

async fn post_manifest(api: &Api, m: &Manifest, headers: &[(&str, &str)]) -> Reply {
    let mut h = vec![("content-type", "application/json")];
    h.extend_from_slice(headers);
    call(
        api,
        request(
            "POST",
            "/indexer/api/v1/index_report",
            &h,
            serde_json::to_vec(m).unwrap(),
        ),
    )
    .await
}

fn report_path(d: &Digest) -> String {
    format!("/indexer/api/v1/index_report/{d}")
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["code"], code, "{}", r.body);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn post_stages_uploads_and_the_upload_finishes_the_report() {
    let e = env().await;
    let base = debian_base_layer();
    let py = python_layer();
    let m = manifest_of(&[&base, &py]);
    let state = e.api.indexer().index_state().to_owned();

    let r = post_manifest(&e.api, &m, &[("host", "lucid.test:6060")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.headers["etag"], format!("\"{state}\""));
    assert_eq!(r.headers["location"], report_path(&m.hash));
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.index_report.v1+json"
    );
    let links: Vec<&str> = r
        .headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        links,
        vec![
            format!(
                "<{}>; rel=\"https://projectquay.io/clair/v1/index_report\"",
                report_path(&m.hash)
            ),
            format!(
                "</matcher/api/v1/vulnerability_report/{}>; rel=\"https://projectquay.io/clair/v1/vulnerability_report\"",
                m.hash
            ),
        ]
    );
    assert_eq!(r.body["manifest_hash"], m.hash.to_string());
    assert_eq!(r.body["state"], "FetchLayers");
    assert_eq!(r.body["success"], false);
    let pending = r.body["pending_layers"].as_array().unwrap();
    assert_eq!(pending.len(), 2);
    for (p, layer) in pending.iter().zip(&m.layers) {
        assert_eq!(p["hash"], layer.hash.to_string());
        assert_eq!(p["action"], "upload");
        assert_eq!(p["upload"]["method"], "PUT");
        assert_eq!(
            p["upload"]["url"],
            format!("http://lucid.test:6060/lucid/api/v1/layers/{}", layer.hash)
        );
    }
    assert!(e.queue.is_empty(), "no fetch jobs without URIs");

    // Before the upload the report is pending; GET answers it with the ETag.
    let r = call(&e.api, request("GET", &report_path(&m.hash), &[], "")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["state"], "FetchLayers");
    // No vulnerability report until the index report is finished (Clair: 404).
    let vuln_path = format!("/matcher/api/v1/vulnerability_report/{}", m.hash);
    let r = call(&e.api, request("GET", &vuln_path, &[], "")).await;
    assert_error(&r, 404, "not-found");
    assert!(r.body["message"].as_str().unwrap().contains("FetchLayers"));

    // Upload both layers through the local route (the path of the returned URL).
    let r = call(
        &e.api,
        request(
            "PUT",
            &format!("/lucid/api/v1/layers/{}", m.layers[0].hash),
            &[],
            base.clone(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["outcome"], "indexed");
    assert_eq!(r.body["packages"], 88);
    assert_eq!(r.body["bytes"], base.len());
    let r = call(
        &e.api,
        request(
            "PUT",
            &format!("/lucid/api/v1/layers/{}", m.layers[1].hash),
            &[],
            py.clone(),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["packages"], 1);

    let r = call(
        &e.api,
        request(
            "GET",
            &report_path(&m.hash),
            &[("accept", "application/json")],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["etag"], format!("\"{state}\""));
    assert_eq!(r.body["state"], "IndexFinished", "{}", r.body["err"]);
    assert_eq!(r.body["success"], true);
    let packages = r.body["packages"].as_object().unwrap();
    assert_eq!(packages.len(), 89);
    let libc = packages.values().find(|p| p["name"] == "libc6").unwrap();
    assert_eq!(libc["version"], "2.36-9+deb12u14");
    let pyyaml = packages
        .values()
        .find(|p| p["ecosystem"] == "pypi")
        .unwrap();
    assert_eq!(pyyaml["version"], "6.0.4");
    let dist = r.body["distributions"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(dist["did"], "debian");

    // Conditional GET: 304 with no body.
    let r = call(
        &e.api,
        request(
            "GET",
            &report_path(&m.hash),
            &[("if-none-match", &format!("\"{state}\""))],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.raw.is_empty());
    assert_eq!(r.headers["etag"], format!("\"{state}\""));
    // A stale validator gets the report.
    let r = call(
        &e.api,
        request(
            "GET",
            &report_path(&m.hash),
            &[("if-none-match", "\"older-state\"")],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    // Re-posting a known manifest finishes at once, with no pending layers.
    let r = post_manifest(&e.api, &m, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["state"], "IndexFinished");
    assert_eq!(r.body["packages"].as_object().unwrap().len(), 89);
    assert!(r.body.get("pending_layers").is_none());
    // The API keeps the serialized report while the manifest is unchanged: GET and POST answer the same
    // bytes (and the pending report cached before the uploads was not served once they finished, above).
    let get = call(&e.api, request("GET", &report_path(&m.hash), &[], "")).await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.raw, r.raw);
    // A second image made of known layers finishes immediately.
    let other = manifest_of(&[&base]);
    let r = post_manifest(&e.api, &other, &[]).await;
    assert_eq!(r.body["state"], "IndexFinished");
    assert_eq!(r.body["packages"].as_object().unwrap().len(), 88);
    // If-None-Match with the current state: 412 (the client's report is current), JSON body.
    let r = post_manifest(&e.api, &m, &[("if-none-match", &format!("\"{state}\""))]).await;
    assert_error(&r, 412, "precondition-failed");
    assert_eq!(r.headers.get_all("link").iter().count(), 2);
    // Without Host the upload URL is the bare path.
    let fresh = manifest_of(&[b"never uploaded"]);
    let r = post_manifest(&e.api, &fresh, &[]).await;
    assert_eq!(
        r.body["pending_layers"][0]["upload"]["url"],
        format!("/lucid/api/v1/layers/{}", fresh.layers[0].hash)
    );
}

#[tokio::test]
async fn index_state_etag_and_content_negotiation() {
    let e = env().await;
    let state = e.api.indexer().index_state().to_owned();
    assert_eq!(state.len(), 64, "a sha256 hex of the scanner set");
    let r = call(
        &e.api,
        request("GET", "/indexer/api/v1/index_state", &[], ""),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({ "state": state }));
    assert_eq!(r.headers["etag"], format!("\"{state}\""));
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.index_state.v1+json"
    );
    // Clair's code spelling of the vendor type is accepted too; q values order the choice.
    let r = call(
        &e.api,
        request(
            "GET",
            "/indexer/api/v1/index_state",
            &[(
                "accept",
                "application/json;q=0.5, application/vnd.clair.indexstate.v1+json",
            )],
            "",
        ),
    )
    .await;
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.index_state.v1+json"
    );
    let r = call(
        &e.api,
        request(
            "GET",
            "/indexer/api/v1/index_state",
            &[("accept", "application/*")],
            "",
        ),
    )
    .await;
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.index_state.v1+json"
    );
    let r = call(
        &e.api,
        request(
            "GET",
            "/indexer/api/v1/index_state",
            &[("if-none-match", &format!("\"{state}\""))],
            "",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.raw.is_empty());
    let r = call(
        &e.api,
        request(
            "GET",
            "/indexer/api/v1/index_state",
            &[("accept", "text/html")],
            "",
        ),
    )
    .await;
    assert_error(&r, 415, "unsupported-media-type");
    let r = call(
        &e.api,
        request(
            "GET",
            "/indexer/api/v1/index_state",
            &[("accept", "garbage")],
            "",
        ),
    )
    .await;
    assert_error(&r, 400, "bad-request");
    let r = call(
        &e.api,
        request("POST", "/indexer/api/v1/index_state", &[], ""),
    )
    .await;
    assert_error(&r, 405, "method-not-allowed");
    assert_eq!(r.headers["allow"], "GET");
}

#[tokio::test]
async fn deletes_one_and_in_bulk() {
    let e = env().await;
    let base = debian_base_layer();
    let a = manifest_of(&[&base]);
    let b = manifest_of(&[&base, &python_layer()]);
    post_manifest(&e.api, &a, &[]).await;
    post_manifest(&e.api, &b, &[]).await;

    let r = call(&e.api, request("DELETE", &report_path(&a.hash), &[], "")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.raw.is_empty());
    let r = call(&e.api, request("GET", &report_path(&a.hash), &[], "")).await;
    assert_error(&r, 404, "not-found");
    // Deleting again is still 204, as in Clair.
    let r = call(&e.api, request("DELETE", &report_path(&a.hash), &[], "")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // Bulk: answers the digests that existed.
    let unknown = Digest::sha256_of(b"unknown manifest");
    let body = serde_json::to_vec(&json!([b.hash, unknown])).unwrap();
    let r = call(
        &e.api,
        request(
            "DELETE",
            "/indexer/api/v1/index_report",
            &[("content-type", "application/vnd.clair.bulk_delete.v1+json")],
            body,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!([b.hash.to_string()]));
    let r = call(&e.api, request("GET", &report_path(&b.hash), &[], "")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(
        &e.api,
        request(
            "DELETE",
            "/indexer/api/v1/index_report",
            &[],
            "[\"sha256:nope\"]",
        ),
    )
    .await;
    assert_error(&r, 400, "bad-request");
    let r = call(
        &e.api,
        request("DELETE", "/indexer/api/v1/index_report", &[], "{"),
    )
    .await;
    assert_error(&r, 400, "bad-request");
}

#[tokio::test]
async fn bad_input_is_a_json_4xx() {
    let e = env().await;
    let api = &e.api;
    let post = |body: &'static str, ct: &'static str| {
        request(
            "POST",
            "/indexer/api/v1/index_report",
            &[("content-type", ct)],
            body,
        )
    };
    assert_error(
        &call(api, post("{not json", "application/json")).await,
        400,
        "bad-request",
    );
    let zero = format!(r#"{{"hash":"{}","layers":[]}}"#, Digest::sha256_of(b"m"));
    let r = call(
        api,
        request("POST", "/indexer/api/v1/index_report", &[], zero),
    )
    .await;
    assert_error(&r, 400, "bad-request");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("bogus manifest")
    );
    let r = call(
        api,
        post(
            r#"{"hash":"sha256:1234","layers":[{"hash":"sha256:abcd"}]}"#,
            "application/json",
        ),
    )
    .await;
    assert_error(&r, 400, "bad-request");
    let sql = r#"{"hash":"sha256:'; DROP TABLE manifest; --","layers":[{"hash":"x"}]}"#;
    assert_error(
        &call(api, post(sql, "application/vnd.clair.manifest.v1+json")).await,
        400,
        "bad-request",
    );
    assert_error(
        &call(api, post("[]", "application/json")).await,
        400,
        "bad-request",
    );
    assert_error(
        &call(api, post("{}", "text/plain")).await,
        415,
        "unsupported-media-type",
    );
    // Oversized bodies.
    let big = vec![b' '; lucid::api::MAX_BODY_BYTES + 1];
    let r = call(
        api,
        request("POST", "/indexer/api/v1/index_report", &[], big),
    )
    .await;
    assert_error(&r, 413, "payload-too-large");
    // Bad digests in paths, percent-encoded digests accepted.
    for path in [
        "/indexer/api/v1/index_report/sha256:xyz",
        "/indexer/api/v1/index_report/md5:abcd",
        "/indexer/api/v1/index_report/a/b",
        "/indexer/api/v1/index_report/%27%3B%20DROP%20TABLE%20manifest",
        "/lucid/api/v1/layers/sha256:short",
    ] {
        let method = if path.starts_with("/lucid") {
            "PUT"
        } else {
            "GET"
        };
        assert_error(
            &call(api, request(method, path, &[], "")).await,
            400,
            "bad-request",
        );
    }
    let encoded =
        format!("/indexer/api/v1/index_report/{}", Digest::sha256_of(b"x")).replace(':', "%3A");
    assert_error(
        &call(api, request("GET", &encoded, &[], "")).await,
        404,
        "not-found",
    );
    // Unknown routes and wrong methods.
    assert_error(
        &call(api, request("GET", "/indexer/api/v1/nope", &[], "")).await,
        404,
        "not-found",
    );
    assert_error(
        &call(api, request("GET", "/nope", &[], "")).await,
        404,
        "not-found",
    );
    let r = call(api, request("PUT", "/indexer/api/v1/index_report", &[], "")).await;
    assert_error(&r, 405, "method-not-allowed");
    assert_eq!(r.headers["allow"], "POST, DELETE");
    let r = call(
        api,
        request("POST", &report_path(&Digest::sha256_of(b"x")), &[], ""),
    )
    .await;
    assert_error(&r, 405, "method-not-allowed");
    let r = call(
        api,
        request(
            "GET",
            &format!("/lucid/api/v1/layers/{}", Digest::sha256_of(b"x")),
            &[],
            "",
        ),
    )
    .await;
    assert_error(&r, 405, "method-not-allowed");
    // An upload whose bytes do not match its digest is refused and not kept.
    let d = Digest::sha256_of(b"the real bytes");
    let r = call(
        api,
        request(
            "PUT",
            &format!("/lucid/api/v1/layers/{d}"),
            &[],
            "other bytes",
        ),
    )
    .await;
    assert_error(&r, 400, "bad-request");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("digest mismatch")
    );
    assert_eq!(e.blobs.size(&BlobKey::layer(&d)).await.unwrap(), None);
    // An upload that is not a layer: 422, and the reason lands in the manifest's report.
    let junk = b"this is not a tar archive at all, just text".repeat(40);
    let m = manifest_of(&[&junk]);
    post_manifest(api, &m, &[]).await;
    let r = call(
        api,
        request(
            "PUT",
            &format!("/lucid/api/v1/layers/{}", m.layers[0].hash),
            &[],
            junk,
        ),
    )
    .await;
    assert_error(&r, 422, "bad-layer");
    let r = call(api, request("GET", &report_path(&m.hash), &[], "")).await;
    assert_eq!(r.body["state"], "IndexError");
    assert!(
        r.body["err"]
            .as_str()
            .unwrap()
            .contains(&m.layers[0].hash.to_string())
    );
}

const PSK: &[u8] = b"lucid-test-pre-shared-key-32byte";

fn token(iss: &str, exp_offset: i64, key: &[u8]) -> String {
    let exp = jsonwebtoken::get_current_timestamp() as i64 + exp_offset;
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": iss, "exp": exp, "iat": exp - exp_offset}),
        &EncodingKey::from_secret(key).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn psk_jwt_guards_every_route_but_health() {
    let e = env_with(Some(AuthConfig {
        key: PSK.to_vec(),
        issuers: vec!["quay".into(), "clairctl".into()],
    }))
    .await;
    let api = &e.api;
    let state = "/indexer/api/v1/index_state";
    let bearer = |t: String| format!("Bearer {t}");
    let r = call(api, request("GET", state, &[], "")).await;
    assert_error(&r, 401, "unauthorized");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    for bad in [
        token("quay", -120, PSK),
        token("mallory", 60, PSK),
        token("quay", 60, b"not-the-pre-shared-key-32-bytes!"),
    ] {
        let r = call(
            api,
            request("GET", state, &[("authorization", &bearer(bad))], ""),
        )
        .await;
        assert_error(&r, 401, "unauthorized");
    }
    let r = call(
        api,
        request("GET", state, &[("authorization", "Basic cXVheTpwdw==")], ""),
    )
    .await;
    assert_error(&r, 401, "unauthorized");
    // Unknown routes are not revealed to strangers.
    assert_error(
        &call(api, request("GET", "/nope", &[], "")).await,
        401,
        "unauthorized",
    );
    // Upload and report routes are guarded too.
    let d = Digest::sha256_of(b"x");
    assert_error(
        &call(
            api,
            request("PUT", &format!("/lucid/api/v1/layers/{d}"), &[], "x"),
        )
        .await,
        401,
        "unauthorized",
    );
    assert_error(
        &call(api, request("GET", &report_path(&d), &[], "")).await,
        401,
        "unauthorized",
    );

    for iss in ["quay", "clairctl"] {
        let r = call(
            api,
            request(
                "GET",
                state,
                &[("authorization", &bearer(token(iss, 60, PSK)))],
                "",
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let good = bearer(token("quay", 60, PSK));
    assert_error(
        &call(
            api,
            request("GET", "/nope", &[("authorization", &good)], ""),
        )
        .await,
        404,
        "not-found",
    );
    for open in ["/healthz", "/readyz"] {
        assert_eq!(
            call(api, request("GET", open, &[], "")).await.status,
            StatusCode::OK
        );
    }
}

/// A stand-in registry on loopback: `GET /v2/app/blobs/<digest>` requires the bearer token and redirects
/// to blob storage on another host name, which serves the bytes and records whether credentials leaked.
struct Registry {
    base: String,
    leaked_auth: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn registry(blobs: BTreeMap<String, Vec<u8>>, token: &'static str) -> Registry {
    use http_body_util::Full;
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let blobs = Arc::new(blobs);
    let leaked = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let leaked2 = leaked.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                a = listener.accept() => a.unwrap(),
                _ = &mut rx => return,
            };
            let blobs = blobs.clone();
            let leaked = leaked2.clone();
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let blobs = blobs.clone();
                let leaked = leaked.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let auth = req
                        .headers()
                        .get("authorization")
                        .map(|v| v.to_str().unwrap_or_default().to_owned());
                    let resp = if let Some(d) = path.strip_prefix("/v2/app/blobs/") {
                        if auth.as_deref() != Some(&format!("Bearer {token}")) {
                            hyper::Response::builder()
                                .status(401)
                                .body(Full::new(Bytes::from("unauthorized")))
                        } else {
                            // Another host name for the same server: credentials must not follow.
                            hyper::Response::builder()
                                .status(307)
                                .header(
                                    "location",
                                    format!("http://localhost:{port}/storage/{d}?X-Sig=abc"),
                                )
                                .body(Full::new(Bytes::new()))
                        }
                    } else if let Some(d) = path.strip_prefix("/storage/") {
                        if let Some(a) = auth {
                            leaked.lock().unwrap().push(a);
                        }
                        match blobs.get(d) {
                            Some(b) => hyper::Response::builder()
                                .status(200)
                                .header(
                                    "content-type",
                                    "application/vnd.oci.image.layer.v1.tar+gzip",
                                )
                                .body(Full::new(Bytes::from(b.clone()))),
                            None => hyper::Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new())),
                        }
                    } else {
                        hyper::Response::builder()
                            .status(404)
                            .body(Full::new(Bytes::new()))
                    };
                    Ok::<_, std::convert::Infallible>(resp.unwrap())
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
        leaked_auth: leaked,
        _stop: tx,
    }
}

/// Runs every queued message through the indexer, as the worker would; returns how many ran.
async fn drain(e: &Env) -> usize {
    let mut n = 0;
    loop {
        let msgs = e
            .queue
            .receive(10, Duration::from_millis(10), None)
            .await
            .unwrap();
        if msgs.is_empty() {
            return n;
        }
        for m in msgs {
            e.api.indexer().handle_message(&m.body).await.unwrap();
            e.queue.delete_batch(&[m.receipt]).await.unwrap();
            n += 1;
        }
    }
}

#[tokio::test]
async fn layers_with_a_uri_are_fetched_by_a_queued_job() {
    let e = env().await;
    let base = debian_base_layer();
    let py = python_layer();
    let wrong = b"bytes that do not hash to the digest".to_vec();
    let claimed = Digest::sha256_of(b"what the manifest promised");
    let mut blobs = BTreeMap::new();
    blobs.insert(Digest::sha256_of(&base).to_string(), base.clone());
    blobs.insert(Digest::sha256_of(&py).to_string(), py.clone());
    blobs.insert(claimed.to_string(), wrong);
    let reg = registry(blobs, "registry-token").await;
    let layer = |hash: Digest, token: &str| LayerRef {
        uri: format!("{}/v2/app/blobs/{hash}", reg.base),
        headers: [("Authorization".to_owned(), vec![format!("Bearer {token}")])].into(),
        hash,
    };
    let m = Manifest {
        hash: Digest::sha256_of(b"fetched manifest"),
        layers: vec![
            layer(Digest::sha256_of(&base), "registry-token"),
            layer(Digest::sha256_of(&py), "registry-token"),
        ],
    };
    let r = post_manifest(&e.api, &m, &[]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["state"], "FetchLayers");
    let actions: Vec<&str> = r.body["pending_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["fetch", "fetch"]);
    assert_eq!(e.queue.len(), 2);
    assert_eq!(drain(&e).await, 2);
    let r = call(&e.api, request("GET", &report_path(&m.hash), &[], "")).await;
    assert_eq!(r.body["state"], "IndexFinished", "{}", r.body["err"]);
    assert_eq!(r.body["packages"].as_object().unwrap().len(), 89);
    assert!(
        reg.leaked_auth.lock().unwrap().is_empty(),
        "credentials followed the redirect"
    );

    // Wrong credentials: the registry's 401 fails the layer (not retried) and the manifest.
    let denied = Manifest {
        hash: Digest::sha256_of(b"denied manifest"),
        layers: vec![layer(
            Digest::sha256_of(&base[..base.len() - 1]),
            "wrong-token",
        )],
    };
    post_manifest(&e.api, &denied, &[]).await;
    assert_eq!(drain(&e).await, 1);
    let r = call(&e.api, request("GET", &report_path(&denied.hash), &[], "")).await;
    assert_eq!(r.body["state"], "IndexError");
    assert!(
        r.body["err"].as_str().unwrap().contains("401"),
        "{}",
        r.body["err"]
    );

    // A blob that does not match its digest: failed with that reason, nothing kept.
    let bad = Manifest {
        hash: Digest::sha256_of(b"mismatch manifest"),
        layers: vec![layer(claimed.clone(), "registry-token")],
    };
    post_manifest(&e.api, &bad, &[]).await;
    drain(&e).await;
    let r = call(&e.api, request("GET", &report_path(&bad.hash), &[], "")).await;
    assert_eq!(r.body["state"], "IndexError");
    assert!(
        r.body["err"].as_str().unwrap().contains("digest mismatch"),
        "{}",
        r.body["err"]
    );
    assert_eq!(e.blobs.size(&BlobKey::layer(&claimed)).await.unwrap(), None);

    // A layer already indexed is not fetched again: the manifest finishes at once.
    let again = Manifest {
        hash: Digest::sha256_of(b"known layers"),
        layers: vec![layer(Digest::sha256_of(&py), "registry-token")],
    };
    let r = post_manifest(&e.api, &again, &[]).await;
    assert_eq!(r.body["state"], "IndexFinished");
    assert!(e.queue.is_empty());
}

#[tokio::test]
async fn the_in_process_worker_runs_fetch_jobs() {
    let e = env().await;
    let base = debian_base_layer();
    let digest = Digest::sha256_of(&base);
    let reg = registry([(digest.to_string(), base.clone())].into(), "t").await;
    let m = Manifest {
        hash: Digest::sha256_of(b"worker manifest"),
        layers: vec![LayerRef {
            hash: digest.clone(),
            uri: format!("{}/v2/app/blobs/{digest}", reg.base),
            headers: [("Authorization".to_owned(), vec!["Bearer t".to_owned()])].into(),
        }],
    };
    let (stop, rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(lucid::indexer::fetch::run_worker(
        e.api.indexer().clone(),
        e.queue.clone(),
        rx,
    ));
    post_manifest(&e.api, &m, &[]).await;
    let mut state = Value::Null;
    for _ in 0..200 {
        let r = call(&e.api, request("GET", &report_path(&m.hash), &[], "")).await;
        state = r.body["state"].clone();
        if state == "IndexFinished" || state == "IndexError" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "IndexFinished");
    assert!(e.queue.is_empty());
    stop.send(true).unwrap();
    worker.await.unwrap();
}
