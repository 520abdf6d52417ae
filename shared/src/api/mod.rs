//! The HTTP API: one router over plain `http` types, hosted by `functions/api` (API Gateway HTTP API through
//! lambda_http) and by `lucid serve` ([`server`], a local listener). Errors are Clair's `{"code", "message"}`
//! JSON; nothing here panics on input.
//!
//! Routes:
//! - `GET /healthz`, `GET /readyz` — always open.
//! - Clair v4 indexer ([`indexer_v1`]): `POST`/`DELETE /indexer/api/v1/index_report`,
//!   `GET`/`DELETE /indexer/api/v1/index_report/{digest}`, `GET /indexer/api/v1/index_state`.
//! - Clair v4 matcher ([`matcher_v1`]): `GET /matcher/api/v1/vulnerability_report/{digest}` (404 until the
//!   index report is finished).
//! - Clair v4 notifier ([`notifier_v1`]): `GET`/`DELETE /notifier/api/v1/notification/{id}` (paged).
//! - Clair's internal update routes ([`matcher_v1`]): `GET /matcher/api/v1/internal/update_operation`,
//!   `DELETE …/update_operation/{ref}`, `GET …/internal/update_diff?prev=&cur=`.
//! - Harbor's Pluggable Scanner API v1.1/1.2 ([`harbor_v1`]): `GET /api/v1/metadata`, `POST /api/v1/scan`,
//!   `GET /api/v1/scan/{id}/report`.
//! - `GET /openapi/v1` ([`openapi`]): the OpenAPI 3.1 document of all of this (open, like health).
//! - Lucid's upload route `PUT /lucid/api/v1/layers/{digest}`: the local counterpart of a presigned S3 PUT.
//!
//! Every route but health requires a PSK JWT when `LUCID_PSK` is set ([`auth`]).

// Early returns carry the finished error response; it is built once per request, so its size is moot.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod harbor_v1;
pub mod indexer_v1;
pub mod matcher_v1;
pub mod notifier_v1;
pub mod openapi;
pub mod report_cache;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde::Serialize;

use crate::config::AuthConfig;
use crate::indexer::Indexer;
use crate::queue::Queue;
use crate::services::Services;
use crate::store::Database;

/// Largest request body accepted on JSON routes (manifests, bulk deletes). Layer uploads are streamed by
/// `lucid serve` and limited by [`crate::indexer::fetch::MAX_LAYER_BLOB_BYTES`] instead.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// How long a presigned upload URL stays valid.
pub const PRESIGN_EXPIRY: Duration = Duration::from_secs(3600);

/// Clair's error body.
#[derive(Debug, Serialize)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

/// Everything a request needs; cheap to share between requests.
#[derive(Clone)]
pub struct Api {
    db: Database,
    indexer: Indexer,
    fetch_queue: Arc<dyn Queue>,
    auth: Option<auth::Verifier>,
    /// One matcher for the process, so reports share its caches.
    matcher: crate::matcher::Matcher,
    reports: Arc<report_cache::ReportCache>,
    /// Serialized index reports, by manifest ([`report_cache::ReportCache::index_validator`]).
    index_reports: Arc<report_cache::ReportCache>,
}

impl Api {
    /// An API over the given parts; `auth: None` turns authentication off.
    pub fn new(
        db: Database,
        indexer: Indexer,
        fetch_queue: Arc<dyn Queue>,
        auth: Option<&AuthConfig>,
    ) -> Api {
        Api {
            matcher: crate::matcher::Matcher::new(db.clone()),
            db,
            indexer,
            fetch_queue,
            auth: auth.map(auth::Verifier::new),
            reports: Arc::default(),
            index_reports: Arc::default(),
        }
    }

    /// The API of a process's services.
    pub fn from_services(s: &Services) -> Api {
        Api::new(
            s.db.clone(),
            s.indexer(),
            s.fetch_queue.clone(),
            s.config.auth.as_ref(),
        )
    }

    /// The process's matcher (see [`crate::matcher::Matcher::spawn_refresh`]).
    pub fn matcher(&self) -> &crate::matcher::Matcher {
        &self.matcher
    }

    pub fn indexer(&self) -> &Indexer {
        &self.indexer
    }

    /// Checks authentication for a route (health routes are always open). `Err` is the 401 response.
    pub fn authorize(&self, path: &str, headers: &HeaderMap) -> Result<(), Response<Bytes>> {
        if matches!(path, "/healthz" | "/readyz" | openapi::PATH) {
            return Ok(());
        }
        let Some(verifier) = &self.auth else {
            return Ok(());
        };
        verifier.verify(headers).map_err(|e| {
            let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string());
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            resp
        })
    }
}

pub(crate) fn json_as<T: Serialize>(
    status: StatusCode,
    content_type: &'static str,
    body: &T,
) -> Response<Bytes> {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                format!("serializing the response: {e}"),
            );
        }
    };
    json_bytes(status, content_type, Bytes::from(bytes))
}

/// A response of JSON serialized earlier.
pub(crate) fn json_bytes(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Bytes> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Bytes> {
    json_as(status, "application/json", body)
}

/// A JSON error response.
pub fn error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response<Bytes> {
    let body = ApiError {
        code,
        message: message.into(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Bytes::from(bytes));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn method_not_allowed(method: &Method, allow: &'static str) -> Response<Bytes> {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        format!("method disallowed: {method}"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response<Bytes> {
    tracing::error!(error = %e, "request failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
        e.to_string(),
    )
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `/readyz`'s body: the database answers, and how every feed fared (an empty list: no update has run).
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    feeds: Vec<crate::feeds::store::FeedStatus>,
}

/// 200 when the database answers, with each feed's last success, error and record count; 503 otherwise.
async fn readiness(api: &Api) -> Response<Bytes> {
    let unavailable = |e: String| error(StatusCode::SERVICE_UNAVAILABLE, "database-unavailable", e);
    if let Err(e) = api.db.ping().await {
        return unavailable(e.to_string());
    }
    match crate::feeds::store::FeedStore::new(api.db.clone())
        .feed_status()
        .await
    {
        Ok(feeds) => json(
            StatusCode::OK,
            &Readiness {
                status: "ready",
                feeds,
            },
        ),
        Err(e) => unavailable(e.to_string()),
    }
}

/// Routes one request whose body was read whole (API Gateway hands the body over that way; `lucid serve`
/// reads JSON bodies up to [`MAX_BODY_BYTES`] and streams uploads through [`indexer_v1::upload_layer`]).
pub async fn handle(api: &Api, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", method = %req.method(), path = %path);
    let _enter = span.enter();
    let path = path.trim_end_matches('/');
    if let Err(resp) = api.authorize(path, req.headers()) {
        return resp;
    }
    if req.body().len() > MAX_BODY_BYTES && !path.starts_with(indexer_v1::UPLOAD_PREFIX) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        );
    }
    match path {
        "/healthz" | "/readyz" if req.method() != Method::GET => {
            method_not_allowed(req.method(), "GET")
        }
        "/healthz" => json(StatusCode::OK, &Health { status: "ok" }),
        "/readyz" => readiness(api).await,
        openapi::PATH => openapi::route(&req),
        p if harbor_v1::owns(p) => harbor_v1::route(api, req).await,
        p if indexer_v1::owns(p) => indexer_v1::route(api, req).await,
        p if matcher_v1::owns(p) => matcher_v1::route(api, req).await,
        p if notifier_v1::owns(p) => notifier_v1::route(api, req).await,
        _ => error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no route for {}", req.uri().path()),
        ),
    }
}
