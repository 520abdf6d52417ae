//! The notifier function: the notify queue (SQS, partial batch failures) and a maintenance schedule →
//! `lucid_notifier::handle`.

/// mimalloc rather than glibc's malloc: see the workspace `Cargo.toml`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lucid::notifier::Notifier;
use lucid::services::{Services, function_exit};
use serde_json::Value;

async fn handler(notifier: &Notifier, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(lucid_notifier::handle(notifier, &event.payload).await?)
}

#[tokio::main]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    let Some(services) = Services::start_function("lucid-notifier").await else {
        return ExitCode::FAILURE;
    };
    let notifier = Notifier::for_services(&services);
    let notifier = &notifier;
    function_exit(
        "lucid-notifier",
        lambda_runtime::run(service_fn(move |ev| handler(notifier, ev))).await,
    )
}
