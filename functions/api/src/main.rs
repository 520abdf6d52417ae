//! The API function: API Gateway HTTP API (payload v2) → `lucid::api::handle`.

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use lambda_http::service_fn;
use lucid::api::Api;
use lucid::services::{Services, function_exit};
use lucid_api::handler;

#[tokio::main]
async fn main() -> ExitCode {
    lambda_http::tracing::init_default_subscriber();
    let Some(services) = Services::start_function("lucid-api").await else {
        return ExitCode::FAILURE;
    };
    let api = Api::from_services(&services);
    let api = &api;
    function_exit(
        "lucid-api",
        lambda_http::run(service_fn(move |req| handler(api, req))).await,
    )
}
