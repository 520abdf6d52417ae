//! The updater function: an EventBridge schedule → `lucid_updater::handle` (pull every configured feed,
//! commit changed ones as update operations, queue diffs for the notifier, garbage-collect).

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::config::Config;
use lucid::services::Services;
use serde_json::Value;

async fn handler(services: &Services, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(lucid_updater::handle(services, &event.payload).await?)
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
            eprintln!("lucid-updater: {e}");
            return ExitCode::FAILURE;
        }
    };
    let services = &services;
    match lambda_runtime::run(service_fn(move |ev| handler(services, ev))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lucid-updater: {e}");
            ExitCode::FAILURE
        }
    }
}
