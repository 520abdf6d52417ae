//! The API function's handler, driven by API Gateway HTTP API (payload v2) event JSON as AWS sends it.

use lucid::config::Config;
use lucid::services::Services;

async fn services() -> Services {
    let db = harness::fresh_database().await.unwrap();
    let blobs = tempfile::tempdir().unwrap();
    let vars = [
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
    let config =
        Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap();
    Services::for_function(config).await.unwrap()
}

fn event(path: &str, method: &str) -> lambda_http::Request {
    let json = include_str!("events/healthz.json")
        .replace("/healthz", path)
        .replace("\"GET\"", &format!("\"{method}\""));
    lambda_http::request::from_str(&json).unwrap()
}

async fn call(s: &Services, path: &str, method: &str) -> (u16, serde_json::Value) {
    let resp = lucid_api::handler(s, event(path, method)).await.unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    (status, body)
}

#[tokio::test]
async fn health_readiness_and_json_errors() {
    let s = services().await;
    assert_eq!(
        call(&s, "/healthz", "GET").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(
        call(&s, "/readyz", "GET").await,
        (200, serde_json::json!({"status": "ready"}))
    );
    let (status, body) = call(&s, "/no/such/route", "GET").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not-found");
    let (status, body) = call(&s, "/healthz", "DELETE").await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], "method-not-allowed");
}
