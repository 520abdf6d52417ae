//! The HTTP API: one router over plain `http` types, hosted by `functions/api` (API Gateway HTTP API through
//! lambda_http) and by `lucid serve` (a local listener). Errors are Clair's `{"code", "message"}` JSON.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde::Serialize;

use crate::services::Services;

/// Clair's error body.
#[derive(Debug, Serialize)]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> Response<Bytes> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Bytes::from(bytes))
        .unwrap_or_else(|_| Response::new(Bytes::new()))
}

/// A JSON error response.
pub fn error(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response<Bytes> {
    json(
        status,
        &ApiError {
            code,
            message: message.into(),
        },
    )
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Routes one request. Never panics; unknown routes are a JSON 404, wrong methods a JSON 405.
pub async fn handle(services: &Services, req: Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/');
    let span = tracing::info_span!("request", method = %req.method(), path = %path);
    let _enter = span.enter();
    match (req.method(), path) {
        (&Method::GET, "/healthz") => json(StatusCode::OK, &Health { status: "ok" }),
        (&Method::GET, "/readyz") => match services.db.ping().await {
            Ok(()) => json(StatusCode::OK, &Health { status: "ready" }),
            Err(e) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                e.to_string(),
            ),
        },
        (_, "/healthz" | "/readyz") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{} is not allowed here", req.method()),
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no route for {}", req.uri().path()),
        ),
    }
}
