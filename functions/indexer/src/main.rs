//! The indexer function: S3 `ObjectCreated` notifications for `layers/<digest>` and layer fetch jobs
//! (both through SQS, with partial batch failure reporting; notifications may also come directly) →
//! `lucid::indexer::Indexer::handle_event`.

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::config::Config;
use lucid::indexer::Indexer;
use lucid::services::Services;
use serde_json::Value;

async fn handler(indexer: &Indexer, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(indexer.handle_event(&event.payload).await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let services = match Config::from_env() {
        Ok(config) => Services::for_function(config).await,
        Err(e) => Err(e.into()),
    };
    let services = match services {
        Ok(s) => s,
        Err(e) => {
            eprintln!("lucid-indexer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let indexer = services.indexer();
    let indexer = &indexer;
    match lambda_runtime::run(service_fn(move |ev| handler(indexer, ev))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lucid-indexer: {e}");
            ExitCode::FAILURE
        }
    }
}
