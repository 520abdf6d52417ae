//! The router's matcher routes over real PostgreSQL: Clair's internal update-operation routes (map of
//! updater → operations newest first, `latest`, `kind`, ETag/304, delete, diff), the vulnerability report's
//! 202 while no feed has loaded, `/readyz`'s feed status, and the OpenAPI document.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use harness::fixtures::{debian_base_layer, manifest_of};
use http::{Request, StatusCode};
use lucid::api::{Api, handle};
use lucid::blob::DirBlobStore;
use lucid::ecosystems::debian;
use lucid::feeds::store::FeedStore;
use lucid::indexer::Indexer;
use lucid::model::{Digest, Vulnerability};
use lucid::queue::MemoryQueue;
use serde_json::{Value, json};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src");

struct Env {
    api: Api,
    db: lucid::store::Database,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let db = harness::database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(DirBlobStore::new(dir.path()));
    let queue = Arc::new(MemoryQueue::new("fetch", Duration::from_secs(30)));
    let indexer = Indexer::new(db.clone(), blobs);
    Env {
        api: Api::new(db.clone(), indexer, queue, None),
        db,
        _dir: dir,
    }
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Value,
}

async fn call(api: &Api, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = handle(api, b.body(Bytes::copy_from_slice(body)).unwrap()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = if resp.body().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(resp.body()).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn bookworm_oval() -> Vec<Vulnerability> {
    let xml = std::fs::read(format!(
        "{SHARED}/ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml"
    ))
    .unwrap();
    debian::oval::parse_oval(xml.as_slice(), "bookworm").unwrap()
}

const UPDATER: &str = "debian-oval/bookworm";

#[tokio::test]
async fn update_operations_list_latest_delete_and_diff() {
    let e = env().await;
    let store = FeedStore::new(e.db.clone());
    const OPS: &str = "/matcher/api/v1/internal/update_operation";

    // Nothing yet: an empty map and no validator.
    let r = call(&e.api, "GET", OPS, &[], b"").await;
    assert_eq!((r.status, &r.body), (StatusCode::OK, &json!({})));
    assert!(r.headers.get("etag").is_none());
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.update_operations.v1+json"
    );

    // Two operations of one updater: all records, then all but two.
    let records = bookworm_oval();
    assert!(records.len() > 3);
    store.commit(UPDATER, "fp-1", &records).await.unwrap();
    let fewer = &records[2..];
    store.commit(UPDATER, "fp-2", fewer).await.unwrap();

    let r = call(&e.api, "GET", OPS, &[], b"").await;
    assert_eq!(r.status, StatusCode::OK);
    let ops = r.body[UPDATER].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert_eq!(ops[0]["fingerprint"], "fp-2", "newest first");
    assert_eq!(ops[1]["fingerprint"], "fp-1");
    assert_eq!(ops[0]["kind"], "vulnerability");
    assert_eq!(ops[0]["updater"], UPDATER);
    let (cur, prev) = (
        ops[0]["ref"].as_str().unwrap().to_owned(),
        ops[1]["ref"].as_str().unwrap().to_owned(),
    );
    let etag = format!("\"{cur}\"");
    assert_eq!(r.headers["etag"], etag.as_str());

    // Conditional GET: 304 with the validator.
    let r = call(&e.api, "GET", OPS, &[("if-none-match", &etag)], b"").await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert_eq!(r.body, Value::Null);
    let r = call(&e.api, "GET", OPS, &[("if-none-match", "\"other\"")], b"").await;
    assert_eq!(r.status, StatusCode::OK);

    // latest=true: the live one only; kind=enrichment: none; bad values: 400.
    let r = call(&e.api, "GET", &format!("{OPS}?latest=true"), &[], b"").await;
    assert_eq!(r.body[UPDATER].as_array().unwrap().len(), 1);
    assert_eq!(r.body[UPDATER][0]["ref"], cur.as_str());
    let r = call(
        &e.api,
        "GET",
        &format!("{OPS}?latest=1&kind=vulnerability"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.body[UPDATER].as_array().unwrap().len(), 1);
    let r = call(&e.api, "GET", &format!("{OPS}?kind=enrichment"), &[], b"").await;
    assert_eq!(r.body, json!({}));
    for bad in [
        "?kind=bogus",
        "?latest=maybe",
        "?kind=%27%3B%20DROP%20TABLE%20x",
    ] {
        let r = call(&e.api, "GET", &format!("{OPS}{bad}"), &[], b"").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.body["code"], "bad-request");
    }
    let r = call(&e.api, "POST", OPS, &[], b"").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    // The diff between them: two removed; against nothing: everything added.
    const DIFF: &str = "/matcher/api/v1/internal/update_diff";
    let r = call(
        &e.api,
        "GET",
        &format!("{DIFF}?prev={prev}&cur={cur}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers["content-type"],
        "application/vnd.clair.update_diff.v1+json"
    );
    assert_eq!(r.body["prev"]["ref"], prev.as_str());
    assert_eq!(r.body["cur"]["ref"], cur.as_str());
    assert_eq!(r.body["added"], json!([]));
    assert_eq!(r.body["removed"].as_array().unwrap().len(), 2);
    let r = call(&e.api, "GET", &format!("{DIFF}?cur={prev}"), &[], b"").await;
    assert_eq!(r.body["added"].as_array().unwrap().len(), records.len());
    assert!(r.body.get("prev").is_none());
    let nil = uuid::Uuid::nil();
    let r = call(
        &e.api,
        "GET",
        &format!("{DIFF}?cur={prev}&prev={nil}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.body["added"].as_array().unwrap().len(), records.len());
    for (query, status) in [
        ("", StatusCode::BAD_REQUEST),
        ("?prev=x", StatusCode::BAD_REQUEST),
        ("?cur=not-a-uuid", StatusCode::BAD_REQUEST),
        (
            "?cur=2b0a0f3e-5c47-4f0a-9a55-000000000000",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = call(&e.api, "GET", &format!("{DIFF}{query}"), &[], b"").await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }

    // Deleting the live operation makes the previous one live (200, empty, as Clair).
    let r = call(&e.api, "DELETE", &format!("{OPS}/{cur}"), &[], b"").await;
    assert_eq!((r.status, r.body), (StatusCode::OK, Value::Null));
    let r = call(&e.api, "GET", &format!("{OPS}?latest=true"), &[], b"").await;
    assert_eq!(r.body[UPDATER][0]["ref"], prev.as_str());
    assert_eq!(r.headers["etag"], format!("\"{prev}\"").as_str());
    let r = call(&e.api, "DELETE", &format!("{OPS}/not-a-uuid"), &[], b"").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(&e.api, "GET", &format!("{OPS}/{prev}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn vulnerability_report_is_202_until_a_feed_loads() {
    let e = env().await;
    let layer = debian_base_layer();
    let m = manifest_of(&[&layer]);
    let digest: &Digest = &m.layers[0].hash;
    let body = serde_json::to_vec(&m).unwrap();
    let r = call(&e.api, "POST", "/indexer/api/v1/index_report", &[], &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = call(
        &e.api,
        "PUT",
        &format!("/lucid/api/v1/layers/{digest}"),
        &[],
        &layer,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("/matcher/api/v1/vulnerability_report/{}", m.hash);

    // No update ever started.
    let r = call(&e.api, "GET", &path, &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["retry-after"], "30");
    assert_eq!(r.body["state"], "first_update_in_progress");
    assert_eq!(r.body["started_at"], Value::Null);
    assert_eq!(r.body["feeds"], json!([]));

    // The first update has started (and one source failed): since when, and each feed's status.
    let store = FeedStore::new(e.db.clone());
    store.record_start(UPDATER).await.unwrap();
    store
        .record_attempt("osv/pypi", Err("connection refused"))
        .await
        .unwrap();
    let r = call(&e.api, "GET", &path, &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let started = r.body["started_at"].as_str().unwrap();
    assert!(started.len() >= 20 && started.contains('T'), "{started}");
    assert!(r.body["message"].as_str().unwrap().contains("started at"));
    let feeds = r.body["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 2);
    assert_eq!(feeds[0]["source"], UPDATER);
    assert_eq!(feeds[1]["last_error"], "connection refused");

    // /readyz shows the same status.
    let r = call(&e.api, "GET", "/readyz", &[], b"").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["feeds"].as_array().unwrap().len(), 2);

    // Loaded: the report, with the bookworm findings.
    let records = bookworm_oval();
    store.commit(UPDATER, "fp", &records).await.unwrap();
    store
        .record_attempt(UPDATER, Ok(("fp", records.len() as i64)))
        .await
        .unwrap();
    let r = call(&e.api, "GET", &path, &[], b"").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["manifest_hash"], m.hash.to_string());
    assert!(!r.body["vulnerabilities"].as_object().unwrap().is_empty());
    // The report's ETag: 304 on If-None-Match; the same bytes from the cache; a new feed state, a new tag.
    let etag = r.headers["etag"].to_str().unwrap().to_owned();
    let r2 = call(&e.api, "GET", &path, &[("if-none-match", &etag)], b"").await;
    assert_eq!(
        (r2.status, r2.body),
        (StatusCode::NOT_MODIFIED, Value::Null)
    );
    assert_eq!(r2.headers["etag"], etag.as_str());
    let again = call(&e.api, "GET", &path, &[], b"").await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &r.body));
    assert_eq!(again.headers["etag"], etag.as_str());
    assert_eq!(
        again.headers["content-type"],
        "application/vnd.clair.vulnerability_report.v1+json"
    );
    store.commit(UPDATER, "fp-2", &records[1..]).await.unwrap();
    let changed = call(&e.api, "GET", &path, &[("if-none-match", &etag)], b"").await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.headers["etag"], etag.as_str());
    store.record_attempt(UPDATER, Err("timeout")).await.unwrap();
    let failed = call(&e.api, "GET", &path, &[], b"").await;
    assert_ne!(failed.headers["etag"], changed.headers["etag"]);
    assert!(failed.body["warnings"].to_string().contains("timeout"));
    // Deleted: 404, not a cached report.
    let r = call(
        &e.api,
        "DELETE",
        &format!("/indexer/api/v1/index_report/{}", m.hash),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&e.api, "GET", &path, &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&e.api, "GET", "/readyz", &[], b"").await;
    let bookworm = &r.body["feeds"][0];
    assert_eq!(bookworm["source"], UPDATER);
    assert_eq!(bookworm["record_count"], records.len());
    assert!(bookworm["last_success"].is_string());
}

#[tokio::test]
async fn the_openapi_document_is_served_without_authentication() {
    let db = harness::database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let indexer = Indexer::new(db.clone(), Arc::new(DirBlobStore::new(dir.path())));
    let auth = lucid::config::AuthConfig {
        key: b"0123456789abcdef0123456789abcdef".to_vec(),
        issuers: vec!["ci".to_owned()],
    };
    let api = Api::new(
        db,
        indexer,
        Arc::new(MemoryQueue::new("fetch", Duration::from_secs(30))),
        Some(&auth),
    );
    let r = call(&api, "GET", "/openapi/v1", &[], b"").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/openapi+json");
    assert_eq!(r.body["openapi"], "3.1.0");
    assert!(r.body["paths"]["/api/v1/scan"]["post"].is_object());
    // Other routes still need the token.
    let r = call(
        &api,
        "GET",
        "/matcher/api/v1/internal/update_operation",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
