//! The API function's adapter: an API Gateway HTTP API (payload v2) request, as lambda_http decodes it, to
//! `lucid::api::handle` and back. Kept in a library so tests can drive it with real event JSON.

use lambda_http::{Body, Error, Request, Response};
use lucid::api::Api;

/// Converts the Lambda request, routes it, and converts the response.
pub async fn handler(api: &Api, req: Request) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    let resp = lucid::api::handle(api, http::Request::from_parts(parts, bytes)).await;
    let (parts, body) = resp.into_parts();
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body.to_vec())
    };
    Ok(Response::from_parts(parts, body))
}
