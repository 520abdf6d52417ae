//! The updater function: an EventBridge schedule → `lucid_updater::handle` (pull every configured feed,
//! commit changed ones as update operations, queue diffs for the notifier, garbage-collect).

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::services::{Services, function_exit};
use serde_json::Value;

async fn handler(services: &Services, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(lucid_updater::handle(services, &event.payload).await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let Some(services) = Services::start_function("lucid-updater").await else {
        return ExitCode::FAILURE;
    };
    let services = &services;
    function_exit(
        "lucid-updater",
        lambda_runtime::run(service_fn(move |ev| handler(services, ev))).await,
    )
}
