//! The notifier function's handler: SQS batches from the notify queue (feed diffs, fan-out chunks,
//! deliveries; answered with `batchItemFailures` so only failed messages are retried) and the scheduled
//! EventBridge event (maintenance: requeue lost deliveries, garbage-collect read notifications), all mapped
//! to one call into `lucid::notifier::Notifier::handle_event`.

use lucid::notifier::{Notifier, NotifierError};
use serde_json::Value;

/// Handles one event.
pub async fn handle(notifier: &Notifier, event: &Value) -> Result<Value, NotifierError> {
    notifier.handle_event(event).await
}
