//! The API's OpenAPI 3.1 document (`openapi.yaml` beside this file, embedded), served at `GET /openapi/v1`
//! without authentication: JSON (`application/openapi+json`), or the YAML text when `Accept` names YAML.
//! The contract test (`tests/tests/api_contract.rs`) runs schemathesis against `lucid serve` with it.

use std::sync::LazyLock;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use super::{internal, method_not_allowed};

pub const PATH: &str = "/openapi/v1";
/// The document as written.
pub const YAML: &str = include_str!("openapi.yaml");

static JSON: LazyLock<Result<Bytes, String>> = LazyLock::new(|| {
    let doc: serde_json::Value = serde_norway::from_str(YAML).map_err(|e| e.to_string())?;
    serde_json::to_vec(&doc)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
});

/// The document as JSON.
pub fn json() -> Result<Bytes, String> {
    JSON.clone()
}

pub fn route<B>(req: &Request<B>) -> Response<Bytes> {
    if req.method() != Method::GET {
        return method_not_allowed(req.method(), "GET");
    }
    let wants_yaml = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("yaml"));
    let (body, content_type) = if wants_yaml {
        (
            Bytes::from_static(YAML.as_bytes()),
            "application/openapi+yaml",
        )
    } else {
        match json() {
            Ok(b) => (b, "application/openapi+json"),
            Err(e) => return internal(format!("the embedded OpenAPI document: {e}")),
        }
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> serde_json::Value {
        serde_json::from_slice(&json().unwrap()).unwrap()
    }

    /// Every `$ref` in the document points at something in it.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "$ref"
                        && let Some(s) = v.as_str()
                    {
                        out.push(s.to_owned());
                    }
                    refs(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_parses_and_its_refs_resolve() {
        let d = doc();
        assert_eq!(d["openapi"], "3.1.0");
        let mut all = Vec::new();
        refs(&d, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.strip_prefix('#').expect("local refs only");
            assert!(d.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn every_route_is_documented() {
        let d = doc();
        let paths = d["paths"].as_object().unwrap();
        for (path, methods) in [
            ("/healthz", &["get"][..]),
            ("/readyz", &["get"]),
            ("/openapi/v1", &["get"]),
            ("/indexer/api/v1/index_report", &["post", "delete"]),
            ("/indexer/api/v1/index_report/{digest}", &["get", "delete"]),
            ("/indexer/api/v1/index_state", &["get"]),
            ("/lucid/api/v1/layers/{digest}", &["put"]),
            ("/matcher/api/v1/vulnerability_report/{digest}", &["get"]),
            ("/matcher/api/v1/internal/update_operation", &["get"]),
            (
                "/matcher/api/v1/internal/update_operation/{ref}",
                &["delete"],
            ),
            ("/matcher/api/v1/internal/update_diff", &["get"]),
            ("/notifier/api/v1/notification/{id}", &["get", "delete"]),
            ("/api/v1/metadata", &["get"]),
            ("/api/v1/scan", &["post"]),
            ("/api/v1/scan/{scan_request_id}/report", &["get"]),
        ] {
            for m in methods {
                assert!(paths[path][*m].is_object(), "{m} {path} is not documented");
            }
        }
    }

    #[test]
    fn served_as_json_or_yaml() {
        let r = route(&Request::get(PATH).body(()).unwrap());
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/openapi+json");
        let r = route(
            &Request::get(PATH)
                .header("accept", "application/yaml")
                .body(())
                .unwrap(),
        );
        assert_eq!(r.headers()["content-type"], "application/openapi+yaml");
        assert_eq!(r.body().as_ref(), YAML.as_bytes());
        let r = route(&Request::post(PATH).body(()).unwrap());
        assert_eq!(r.status(), 405);
    }
}
