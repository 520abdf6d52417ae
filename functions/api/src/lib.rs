//! The API function's adapter: an API Gateway HTTP API (payload v2) request, as lambda_http decodes it, to
//! `lucid::api::handle` and back. Kept in a library so tests can drive it with real event JSON.

use lambda_http::{Body, Error, Request, Response};
use lucid::services::Services;

/// Converts the Lambda request, routes it, and converts the response.
pub async fn handler(services: &Services, req: Request) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    let resp = lucid::api::handle(services, http::Request::from_parts(parts, bytes)).await;
    let (parts, body) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::Binary(body.to_vec())))
}
