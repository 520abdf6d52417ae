//! The API function: API Gateway HTTP API (payload v2) → `lucid::api::handle`.

use std::process::ExitCode;

use lambda_http::service_fn;
use lucid::api::Api;
use lucid::config::Config;
use lucid::services::Services;
use lucid_api::handler;

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
    let api = Api::from_services(&services);
    let api = &api;
    match lambda_http::run(service_fn(move |req| handler(api, req))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lucid-api: {e}");
            ExitCode::FAILURE
        }
    }
}
