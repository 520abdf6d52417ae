//! The API function's handler, driven by API Gateway HTTP API (payload v2) event JSON as AWS sends it
//! (`tests/events/*.json`; the test sets path, method, body and extra headers on those envelopes).

use base64::Engine as _;
use harness::fixtures::{debian_base_layer, manifest_of};
use lucid::api::Api;
use lucid::config::Config;
use lucid::services::Services;
use serde_json::{Value, json};

async fn services(extra: &[(&str, &str)]) -> Services {
    let db = harness::fresh_database().await.unwrap();
    let blobs = tempfile::tempdir().unwrap();
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), db.url.clone()),
        (
            "LUCID_BLOB_DIR".to_owned(),
            blobs.keep().display().to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_NAME".to_owned(),
            "lucid-api".to_owned(),
        ),
    ];
    for (k, v) in extra {
        vars.push((k.to_string(), v.to_string()));
    }
    let config =
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
    Services::for_function(config).await.unwrap()
}

fn template(name: &str) -> Value {
    let text = match name {
        "healthz" => include_str!("events/healthz.json"),
        "index_report_post" => include_str!("events/index_report_post.json"),
        "layer_put" => include_str!("events/layer_put.json"),
        other => panic!("no event {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// An event from a template with the given method, path, body and extra headers.
fn event(
    name: &str,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> lambda_http::Request {
    let mut e = template(name);
    e["rawPath"] = json!(path);
    e["requestContext"]["http"]["method"] = json!(method);
    e["requestContext"]["http"]["path"] = json!(path);
    e["pathParameters"]["proxy"] = json!(path.trim_start_matches('/'));
    e["headers"]["content-length"] = json!(body.len().to_string());
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
    }
    if e["isBase64Encoded"] == json!(true) {
        e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    } else if !body.is_empty() {
        e["body"] = json!(String::from_utf8(body.to_vec()).unwrap());
    }
    lambda_http::request::from_str(&e.to_string()).unwrap()
}

async fn call(api: &Api, req: lambda_http::Request) -> (u16, http::HeaderMap, Value) {
    let resp = lucid_api::handler(api, req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match resp.body() {
        lambda_http::Body::Empty => Value::Null,
        b => serde_json::from_slice(b.as_ref()).unwrap(),
    };
    (status, headers, body)
}

fn bookworm_oval() -> Vec<lucid::model::Vulnerability> {
    let xml = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/src/ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml"
    ))
    .unwrap();
    lucid::ecosystems::debian::oval::parse_oval(xml.as_slice(), "bookworm").unwrap()
}

#[tokio::test]
async fn internal_harbor_notifier_and_openapi_routes_through_api_gateway_events() {
    let s = services(&[]).await;
    let api = Api::from_services(&s);
    let get = |path: &str| event("healthz", "GET", path, b"", &[]);

    // Clair's internal update routes.
    let ops = "/matcher/api/v1/internal/update_operation";
    let (status, headers, body) = call(&api, get(ops)).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(
        headers["content-type"],
        "application/vnd.clair.update_operations.v1+json"
    );
    let store = lucid::feeds::store::FeedStore::new(s.db.clone());
    store
        .commit("debian-oval/bookworm", "fp", &bookworm_oval())
        .await
        .unwrap();
    let (status, headers, body) = call(&api, get(&format!("{ops}?latest=true"))).await;
    assert_eq!(status, 200);
    let reference = body["debian-oval/bookworm"][0]["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(headers["etag"], format!("\"{reference}\""));
    let etag = format!("\"{reference}\"");
    let (status, _, _) = call(
        &api,
        event("healthz", "GET", ops, b"", &[("if-none-match", &etag)]),
    )
    .await;
    assert_eq!(status, 304);
    let (status, _, body) = call(
        &api,
        get(&format!(
            "/matcher/api/v1/internal/update_diff?cur={reference}"
        )),
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body["added"].as_array().unwrap().is_empty());
    let (status, _, body) = call(&api, get("/matcher/api/v1/internal/update_diff")).await;
    assert_eq!((status, &body["code"]), (400, &json!("bad-request")));
    let (status, _, body) = call(
        &api,
        event("healthz", "DELETE", &format!("{ops}/{reference}"), b"", &[]),
    )
    .await;
    assert_eq!((status, body), (200, Value::Null));
    let (_, _, body) = call(&api, get(ops)).await;
    assert_eq!(body, json!({}));

    // Harbor.
    let (status, headers, body) = call(&api, get("/api/v1/metadata")).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/vnd.scanner.adapter.metadata+json; version=1.1"
    );
    assert_eq!(body["scanner"]["name"], "Lucid");
    let (status, headers, body) = call(
        &api,
        event(
            "index_report_post",
            "POST",
            "/api/v1/scan",
            b"{\"registry\": 1}",
            &[],
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        headers["content-type"],
        "application/vnd.scanner.adapter.error+json; version=1.0"
    );
    assert!(body["error"]["message"].is_string());
    let (status, _, body) = call(&api, get("/api/v1/scan/unknown/report")).await;
    assert_eq!(status, 404, "{body}");

    // The notifier's routes (sets and their paging are tested with real notifications in
    // tests/tests/notifier.rs): unknown ids are 404, malformed ones 400, both with JSON bodies.
    let unknown = "/notifier/api/v1/notification/0b1f9c36-4a5e-4c1e-9a43-3f8f6a3a1d10";
    let (status, _, body) = call(&api, get(unknown)).await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not-found")),
        "{body}"
    );
    let (status, _, body) = call(&api, event("healthz", "DELETE", unknown, b"", &[])).await;
    assert_eq!(
        (status, &body["code"]),
        (404, &json!("not-found")),
        "{body}"
    );
    let (status, _, body) = call(&api, get("/notifier/api/v1/notification/1%27%20OR%201=1")).await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("bad-request")),
        "{body}"
    );
    let (status, _, body) = call(&api, get(&format!("{unknown}?page_size=-3"))).await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("bad-request")),
        "{body}"
    );

    // The OpenAPI document.
    let (status, headers, body) = call(&api, get("/openapi/v1")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/openapi+json");
    assert_eq!(body["openapi"], "3.1.0");
}

#[tokio::test]
async fn health_readiness_and_json_errors() {
    let s = services(&[]).await;
    let api = Api::from_services(&s);
    let get = |path: &str, method: &str| event("healthz", method, path, b"", &[]);
    let (status, headers, body) = call(&api, get("/healthz", "GET")).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    assert_eq!(headers["content-type"], "application/json");
    let (status, _, body) = call(&api, get("/readyz", "GET")).await;
    assert_eq!(
        (status, body),
        (200, json!({"status": "ready", "feeds": []}))
    );
    let (status, _, body) = call(&api, get("/no/such/route", "GET")).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not-found");
    let (status, _, body) = call(&api, get("/healthz", "DELETE")).await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], "method-not-allowed");
}

#[tokio::test]
async fn indexer_routes_through_api_gateway_events() {
    let s = services(&[]).await;
    let api = Api::from_services(&s);
    let layer = debian_base_layer();
    let m = manifest_of(&[&layer]);
    let state = api.indexer().index_state().to_owned();

    // POST index_report: 201, the upload URL on the API's own domain (local blob directory).
    let body = serde_json::to_vec(&m).unwrap();
    let (status, headers, report) = call(
        &api,
        event(
            "index_report_post",
            "POST",
            "/indexer/api/v1/index_report",
            &body,
            &[],
        ),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(headers["etag"], format!("\"{state}\""));
    assert_eq!(
        headers["content-type"],
        "application/vnd.clair.index_report.v1+json"
    );
    assert_eq!(report["state"], "FetchLayers");
    let layer_path = format!("/lucid/api/v1/layers/{}", m.layers[0].hash);
    assert_eq!(
        report["pending_layers"][0]["upload"]["url"],
        format!("https://abcdef1234.execute-api.us-east-1.amazonaws.com{layer_path}")
    );

    // PUT the layer as a base64 binary body.
    let (status, _, up) = call(&api, event("layer_put", "PUT", &layer_path, &layer, &[])).await;
    assert_eq!(status, 201, "{up}");
    assert_eq!(up["packages"], 88);

    // GET index_report: finished; 304 with the ETag.
    let report_path = format!("/indexer/api/v1/index_report/{}", m.hash);
    let (status, _, report) = call(&api, event("healthz", "GET", &report_path, b"", &[])).await;
    assert_eq!(status, 200);
    assert_eq!(report["state"], "IndexFinished");
    assert_eq!(report["packages"].as_object().unwrap().len(), 88);
    let etag = format!("\"{state}\"");
    let (status, _, body) = call(
        &api,
        event(
            "healthz",
            "GET",
            &report_path,
            b"",
            &[("if-none-match", &etag)],
        ),
    )
    .await;
    assert_eq!((status, body), (304, Value::Null));

    // The matcher's vulnerability report of the finished manifest.
    let vuln_path = format!("/matcher/api/v1/vulnerability_report/{}", m.hash);
    // No feed has loaded: 202, never an empty clean report.
    let (status, headers, body) = call(&api, event("healthz", "GET", &vuln_path, b"", &[])).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(headers["retry-after"], "30");
    assert_eq!(body["state"], "first_update_in_progress");
    let store = lucid::feeds::store::FeedStore::new(s.db.clone());
    store
        .commit("debian-oval/bookworm", "fp", &bookworm_oval())
        .await
        .unwrap();
    let (status, headers, vulns) = call(&api, event("healthz", "GET", &vuln_path, b"", &[])).await;
    assert_eq!(status, 200, "{vulns}");
    assert_eq!(
        headers["content-type"],
        "application/vnd.clair.vulnerability_report.v1+json"
    );
    assert_eq!(vulns["manifest_hash"], m.hash.to_string());
    assert_eq!(vulns["packages"].as_object().unwrap().len(), 88);

    // index_state.
    let (status, headers, body) = call(
        &api,
        event("healthz", "GET", "/indexer/api/v1/index_state", b"", &[]),
    )
    .await;
    assert_eq!((status, body), (200, json!({"state": state})));
    assert_eq!(headers["etag"], etag);

    // Bad input: 400 with a JSON body.
    let (status, _, body) = call(
        &api,
        event(
            "index_report_post",
            "POST",
            "/indexer/api/v1/index_report",
            b"{\"hash\":",
            &[],
        ),
    )
    .await;
    assert_eq!((status, body["code"].clone()), (400, json!("bad-request")));

    // DELETE one, then bulk.
    let (status, _, _) = call(&api, event("healthz", "DELETE", &report_path, b"", &[])).await;
    assert_eq!(status, 204);
    let (status, _, body) = call(
        &api,
        event(
            "index_report_post",
            "DELETE",
            "/indexer/api/v1/index_report",
            format!("[\"{}\"]", m.hash).as_bytes(),
            &[],
        ),
    )
    .await;
    assert_eq!((status, body), (200, json!([])));
    let (status, _, body) = call(&api, event("healthz", "GET", &report_path, b"", &[])).await;
    assert_eq!((status, body["code"].clone()), (404, json!("not-found")));
}

#[tokio::test]
async fn psk_authentication_through_api_gateway_events() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = b"0123456789abcdef0123456789abcdef";
    let psk = base64::engine::general_purpose::STANDARD.encode(key);
    let s = services(&[("LUCID_PSK", &psk), ("LUCID_PSK_ISSUERS", "quay")]).await;
    let api = Api::from_services(&s);
    let path = "/indexer/api/v1/index_state";
    let (status, _, body) = call(&api, event("healthz", "GET", path, b"", &[])).await;
    assert_eq!((status, body["code"].clone()), (401, json!("unauthorized")));
    let exp = jsonwebtoken::get_current_timestamp() + 60;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"iss": "quay", "exp": exp}),
        &EncodingKey::from_secret(key).unwrap(),
    )
    .unwrap();
    let auth = format!("Bearer {token}");
    let (status, _, _) = call(
        &api,
        event("healthz", "GET", path, b"", &[("authorization", &auth)]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(&api, event("healthz", "GET", "/healthz", b"", &[])).await;
    assert_eq!(status, 200);
}

/// Every documented route (read from the API's own OpenAPI document) refuses a request with no token, an
/// expired token, a wrong issuer, a wrong signature, an unsigned (`alg: none`) token, garbage and Basic
/// credentials: 401 with a JSON error body, never a 2xx or a 5xx. Health, readiness and the document
/// itself stay open.
#[tokio::test]
async fn every_route_refuses_missing_and_bad_tokens() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let key = b"0123456789abcdef0123456789abcdef";
    let psk = base64::engine::general_purpose::STANDARD.encode(key);
    let s = services(&[("LUCID_PSK", &psk), ("LUCID_PSK_ISSUERS", "quay")]).await;
    let api = Api::from_services(&s);
    let (status, _, doc) = call(&api, event("healthz", "GET", "/openapi/v1", b"", &[])).await;
    assert_eq!(status, 200, "the OpenAPI document is open");

    let now = jsonwebtoken::get_current_timestamp();
    let sign = |claims: Value, secret: &[u8]| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret).unwrap(),
        )
        .unwrap()
    };
    let b64 = |v: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({"iss": "quay", "exp": now + 60}))
    );
    let bad_credentials: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                sign(json!({"iss": "quay", "exp": now - 3600}), key)
            )),
        ),
        (
            "wrong issuer",
            Some(format!(
                "Bearer {}",
                sign(json!({"iss": "mallory", "exp": now + 60}), key)
            )),
        ),
        (
            "wrong signature",
            Some(format!(
                "Bearer {}",
                sign(
                    json!({"iss": "quay", "exp": now + 60}),
                    b"another key, another key, 32 by"
                )
            )),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        ("garbage", Some("Bearer not.a.jwt".to_owned())),
        ("basic", Some("Basic cXVheTpwYXNzd29yZA==".to_owned())),
    ];
    let open = ["/healthz", "/readyz", "/openapi/v1"];
    let mut checked = 0;
    for (template_path, methods) in doc["paths"].as_object().unwrap() {
        if open.contains(&template_path.as_str()) {
            continue;
        }
        let path = template_path
            .replace(
                "{digest}",
                "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            )
            .replace("{ref}", "0b1f9c36-4a5e-4c1e-9a43-3f8f6a3a1d10")
            .replace("{id}", "0b1f9c36-4a5e-4c1e-9a43-3f8f6a3a1d10")
            .replace("{scan_request_id}", "scan-1");
        assert!(!path.contains('{'), "unsubstituted parameter in {path}");
        for method in methods.as_object().unwrap().keys() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            let method = method.to_uppercase();
            for (case, header) in &bad_credentials {
                let headers: Vec<(&str, &str)> = header
                    .as_deref()
                    .map(|h| vec![("authorization", h)])
                    .unwrap_or_default();
                let (status, _, body) = call(
                    &api,
                    event("index_report_post", &method, &path, b"{}", &headers),
                )
                .await;
                assert_eq!(
                    (status, &body["code"]),
                    (401, &json!("unauthorized")),
                    "{method} {path} with {case}: {body}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 7 * 15, "only {checked} requests checked");
    for path in open {
        let (status, _, _) = call(&api, event("healthz", "GET", path, b"", &[])).await;
        assert_eq!(status, 200, "{path} stays open");
    }
}

/// Digests and query parameters carrying SQL, Unicode, control characters or huge lengths are refused
/// with a 400 JSON error on every route that takes them, never a 5xx.
#[tokio::test]
async fn hostile_digests_and_query_parameters_are_400() {
    let s = services(&[]).await;
    let api = Api::from_services(&s);
    // API Gateway refuses request lines over ~10 KB, so this is as long as a path can get to the function
    // (http::Uri itself refuses 64 KB).
    let huge = "a".repeat(8_000);
    let hostile = [
        "sha256:'%20OR%201=1--".to_owned(),
        "sha256:%C3%BC%C3%BC%C3%BC".to_owned(),
        "sha256:%00%0A".to_owned(),
        "..%2F..%2Fetc%2Fpasswd".to_owned(),
        format!("sha256:{huge}"),
        "md5:d41d8cd98f00b204e9800998ecf8427e".to_owned(),
    ];
    let mut requests: Vec<(&str, String)> = Vec::new();
    for value in &hostile {
        requests.push(("GET", format!("/indexer/api/v1/index_report/{value}")));
        requests.push(("DELETE", format!("/indexer/api/v1/index_report/{value}")));
        requests.push((
            "GET",
            format!("/matcher/api/v1/vulnerability_report/{value}"),
        ));
        requests.push(("PUT", format!("/lucid/api/v1/layers/{value}")));
        requests.push((
            "GET",
            format!("/matcher/api/v1/internal/update_diff?cur={value}"),
        ));
        requests.push((
            "DELETE",
            format!("/matcher/api/v1/internal/update_operation/{value}"),
        ));
        requests.push(("GET", format!("/notifier/api/v1/notification/{value}")));
        requests.push((
            "GET",
            format!(
                "/notifier/api/v1/notification/0b1f9c36-4a5e-4c1e-9a43-3f8f6a3a1d10?next={value}"
            ),
        ));
    }
    for (method, path) in &requests {
        let (status, _, body) = call(&api, event("layer_put", method, path, b"", &[])).await;
        assert_eq!(
            status,
            400,
            "{method} {}: {body}",
            &path[..path.len().min(120)]
        );
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
}
