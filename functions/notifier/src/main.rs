//! The notifier function: the notify queue (SQS, partial batch failures) and a maintenance schedule →
//! `lucid_notifier::handle`.

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::config::Config;
use lucid::notifier::Notifier;
use lucid::services::Services;
use serde_json::Value;

async fn handler(notifier: &Notifier, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(lucid_notifier::handle(notifier, &event.payload).await?)
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
            eprintln!("lucid-notifier: {e}");
            return ExitCode::FAILURE;
        }
    };
    let notifier = Notifier::for_services(&services);
    let notifier = &notifier;
    match lambda_runtime::run(service_fn(move |ev| handler(notifier, ev))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lucid-notifier: {e}");
            ExitCode::FAILURE
        }
    }
}
