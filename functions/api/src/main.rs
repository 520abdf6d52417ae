//! The API function: API Gateway HTTP API (payload v2) → `lucid::api::handle`.

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use lambda_http::service_fn;
use lucid::api::Api;
use lucid::services::{Services, function_exit};
use lucid_api::handler;

/// How long init may spend loading the matcher's namespaces (Lambda allows on-demand init 10 s in all).
const INIT_REFRESH_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// One thread: Lambda hands an execution environment one request at a time, so worker threads add only
/// cross-thread wake-ups (between `tokio-postgres`'s connection task and the report reading from it, at
/// every batch of rows). A matcher's cold report took ×0.80 the time on a current-thread runtime in the
/// match bench (`bench/match-results.md`, session 8). Nothing blocks the thread: a layer scan (a layer PUT
/// to the API; deployed, layers go to S3 by presigned URL) runs in `spawn_blocking` and reads through this
/// runtime, which the main thread drives while it awaits the scan.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lucid::allocator::keep_freed_memory();
    lambda_http::tracing::init_default_subscriber();
    let Some(services) = Services::start_function("lucid-api").await else {
        return ExitCode::FAILURE;
    };
    let api = Api::from_services(&services);
    // Loads the live namespaces during init, which runs at full CPU before the first request (bounded:
    // on-demand init may take 10 s), then keeps them whole across feed switches in the background. A
    // background task only runs while an invocation does (Lambda freezes the environment in between),
    // so the first load is not left to it.
    let _refresh = match services.config.matcher_refresh {
        Some(every) => {
            api.matcher().refresh_within(INIT_REFRESH_BUDGET).await;
            Some(api.matcher().spawn_refresh(every, every))
        }
        None => None,
    };
    let api = &api;
    function_exit(
        "lucid-api",
        lambda_http::run(service_fn(move |req| handler(api, req))).await,
    )
}
