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
    // Loads the live namespaces in the background (between and during invocations: Lambda freezes the
    // environment otherwise), then keeps them whole across feed switches.
    let _refresh = services
        .config
        .matcher_refresh
        .map(|every| api.matcher().spawn_refresh(every));
    let api = &api;
    function_exit(
        "lucid-api",
        lambda_http::run(service_fn(move |req| handler(api, req))).await,
    )
}
