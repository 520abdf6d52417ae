//! The API function: API Gateway HTTP API (payload v2) → `lucid::api::handle`.

use std::process::ExitCode;

use lambda_http::{Body, Error, Request, Response, service_fn};
use lucid::config::Config;
use lucid::services::Services;

async fn handler(services: &Services, req: Request) -> Result<Response<Body>, Error> {
    let (parts, body) = req.into_parts();
    let bytes = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    let resp = lucid::api::handle(services, http::Request::from_parts(parts, bytes)).await;
    let (parts, body) = resp.into_parts();
    Ok(Response::from_parts(parts, Body::Binary(body.to_vec())))
}

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    let services = match Config::from_env() {
        Ok(config) => Services::for_function(config).await,
        Err(e) => Err(e.into()),
    };
    let services = match services {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lucid-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    let services = &services;
    match lambda_http::run(service_fn(move |req| handler(services, req))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lucid-api: {e}");
            ExitCode::FAILURE
        }
    }
}
