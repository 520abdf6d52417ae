//! The updater function's handler: an EventBridge scheduled event → one run of the configured feeds
//! (`lucid::feeds::updater::run_configured`). A rule may narrow the run with `detail.feeds`
//! (`{"feeds": ["alpine", "osv/PyPI"]}`); the scheduled rule's empty `detail` runs them all.

use lucid::services::Services;
use serde_json::{Value, json};

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdaterError {
    #[error("not an EventBridge event: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Feed(#[from] lucid::feeds::FeedError),
}

/// Handles one EventBridge event and answers with the run's summary.
pub async fn handle(services: &Services, event: &Value) -> Result<Value, UpdaterError> {
    let event: aws_lambda_events::eventbridge::EventBridgeEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| UpdaterError::BadEvent(e.to_string()))?;
    let only: Vec<String> = event
        .detail
        .get("feeds")
        .and_then(Value::as_array)
        .map(|feeds| {
            feeds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let span = tracing::info_span!("scheduled update", rule = ?event.resources, feeds = ?only);
    let _enter = span.enter();
    let summary = lucid::feeds::updater::run_configured(services, &only, |_| {}).await?;
    Ok(json!(summary))
}
