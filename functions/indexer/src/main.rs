//! The indexer function: S3 `ObjectCreated` notifications for `layers/<digest>` and layer fetch jobs
//! (both through SQS, with partial batch failure reporting; notifications may also come directly) →
//! `lucid::indexer::Indexer::handle_event`.

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::indexer::Indexer;
use lucid::services::{Services, function_exit};
use serde_json::Value;

async fn handler(indexer: &Indexer, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(indexer.handle_event(&event.payload).await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let Some(services) = Services::start_function("lucid-indexer").await else {
        return ExitCode::FAILURE;
    };
    let indexer = services.indexer();
    let indexer = &indexer;
    function_exit(
        "lucid-indexer",
        lambda_runtime::run(service_fn(move |ev| handler(indexer, ev))).await,
    )
}
