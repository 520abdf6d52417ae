//! The notifier: committed feed diffs → notifications for the manifests they affect → delivery to
//! subscribers, on the notify queue (SQS deployed, [`crate::queue::MemoryQueue`] in `lucid serve`), with
//! SQS semantics everywhere (every step is idempotent, so a redelivered message changes nothing).
//!
//! Messages on the notify queue ([`NotifierMessage`], JSON tagged by `kind`):
//! 1. `update_diff` (queued by the updater, [`crate::feeds::updater::DiffMessage`]) → [`fanout`] plans the
//!    diff: the added and removed records, the packages they affect (the reverse index's candidate packages
//!    by name, each checked with the matcher's own predicate [`crate::matcher::affects`], OS packages only on
//!    distributions placed in the record's namespace by [`crate::matcher::plan::os_namespace`]), one
//!    `notification_set` per diff (unique per update operation), and chunk boundaries over the affected
//!    manifest ids, `chunk_manifests` apiece. A feed's **first load** (no previous operation) is not
//!    notified at all: it would be every historic advisory against every image.
//! 2. `notify_chunk` → one `INSERT … SELECT` writes the chunk's notifications (one per manifest, reason and
//!    record, Clair's shape; `ON CONFLICT` on a dedup key), and records the chunk as done in the same
//!    transaction; the chunk that completes the set creates a `receipt` per subscriber whose minimum
//!    severity the set reaches.
//! 3. `deliver` → [`delivery`] claims the receipt (a lease), POSTs Clair's webhook body (signed with the
//!    PSK JWT of `LUCID_PSK` and the `X-Lucid-Signature` HMAC) or sends it to an SQS queue; failures are
//!    retried with exponential backoff and full jitter as delayed messages, and after `max_attempts` the
//!    receipt becomes a `dead_letter`.
//!
//! Scheduled maintenance ([`Notifier::maintain`]: requeue deliveries whose message was lost, garbage-collect
//! read and aged sets) runs from the notifier function's schedule and `lucid serve`'s worker.

pub mod config;
pub mod delivery;
pub mod fanout;
pub mod store;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

pub use config::{NotifierConfig, SubscriberConfig, SubscriberKind};

use crate::config::{AuthConfig, Config};
use crate::queue::{Queue, QueueError};
use crate::store::{Database, StoreError};

/// Why a notifier step failed (the message is retried by the queue).
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("malformed notifier message: {0}")]
    BadMessage(String),
    #[error("notifier: {0}")]
    Misconfigured(String),
}

impl From<tokio_postgres::Error> for NotifierError {
    fn from(e: tokio_postgres::Error) -> Self {
        NotifierError::Store(StoreError::from(e))
    }
}

impl From<deadpool_postgres::PoolError> for NotifierError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        NotifierError::Store(StoreError::from(e))
    }
}

/// The notify queue's messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotifierMessage {
    /// A committed diff (the updater's [`crate::feeds::updater::DiffMessage`]).
    UpdateDiff {
        updater: String,
        prev: Option<Uuid>,
        cur: Uuid,
    },
    /// Fan-out of the manifests with ids in `[from, to)` for set `set`.
    NotifyChunk {
        set: Uuid,
        chunk: i32,
        from: i64,
        to: i64,
    },
    /// Deliver set `set` to subscriber `subscriber`.
    Deliver { set: Uuid, subscriber: Uuid },
}

impl NotifierMessage {
    pub fn to_body(&self) -> Result<String, NotifierError> {
        serde_json::to_string(self).map_err(|e| NotifierError::BadMessage(e.to_string()))
    }
}

/// What handling one message did (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Handled {
    /// A feed's first load: not notified (policy).
    FirstLoad,
    /// The diff's operations are gone (garbage-collected) or unknown.
    UnknownDiff,
    /// A diff was planned (or had been): its set and number of chunks.
    Planned { set: Uuid, chunks: usize },
    /// A chunk wrote `notifications` (0 when it had already run).
    Chunk {
        notifications: u64,
        already_done: bool,
    },
    /// A delivery attempt.
    Delivery(delivery::Attempt),
}

/// The notifier over a database and the notify queue.
pub struct Notifier {
    db: Database,
    queue: Arc<dyn Queue>,
    config: NotifierConfig,
    auth: Option<AuthConfig>,
    /// The whole configuration, for the AWS SDK of SQS and SNS subscribers.
    app: Config,
    sqs: tokio::sync::OnceCell<aws_sdk_sqs::Client>,
    sns: tokio::sync::OnceCell<aws_sdk_sns::Client>,
    subscribers_synced: tokio::sync::OnceCell<()>,
}

impl Notifier {
    /// A notifier configured by `config.notifier` (subscribers, timings) and `config.auth` (JWT signing).
    pub fn new(db: Database, queue: Arc<dyn Queue>, config: &Config) -> Notifier {
        Notifier {
            db,
            queue,
            config: config.notifier.clone(),
            auth: config.auth.clone(),
            app: config.clone(),
            sqs: tokio::sync::OnceCell::new(),
            sns: tokio::sync::OnceCell::new(),
            subscribers_synced: tokio::sync::OnceCell::new(),
        }
    }

    /// The notifier of a process's services (its database and notify queue).
    pub fn for_services(services: &crate::services::Services) -> Notifier {
        Notifier::new(
            services.db.clone(),
            services.notify_queue.clone(),
            &services.config,
        )
    }

    /// Reaches SQS and SNS subscribers with clients of `sdk` rather than ones built from the environment
    /// (credentials, region and endpoint given by the caller: tests against an emulator, embedders).
    pub fn with_aws(self, sdk: &aws_config::SdkConfig) -> Notifier {
        Notifier {
            sqs: tokio::sync::OnceCell::new_with(Some(crate::aws::sqs_client(sdk))),
            sns: tokio::sync::OnceCell::new_with(Some(crate::aws::sns_client(sdk))),
            ..self
        }
    }

    /// Replaces the callback base (`lucid serve` points it at its own address when unset).
    pub fn with_callback_url(mut self, url: String) -> Notifier {
        self.config.callback_url = Some(url);
        self
    }

    pub fn config(&self) -> &NotifierConfig {
        &self.config
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Writes the configured subscribers into the table once per process.
    async fn ensure_subscribers(&self) -> Result<(), NotifierError> {
        self.subscribers_synced
            .get_or_try_init(|| async {
                store::sync_subscribers(&self.db, &self.config.subscribers).await?;
                Ok::<(), NotifierError>(())
            })
            .await?;
        Ok(())
    }

    /// Handles one message body from the notify queue.
    pub async fn handle_message(&self, body: &str) -> Result<Handled, NotifierError> {
        let message: NotifierMessage =
            serde_json::from_str(body).map_err(|e| NotifierError::BadMessage(e.to_string()))?;
        self.ensure_subscribers().await?;
        match message {
            NotifierMessage::UpdateDiff { updater, prev, cur } => {
                fanout::plan_diff(self, &updater, prev, cur).await
            }
            NotifierMessage::NotifyChunk {
                set,
                chunk,
                from,
                to,
            } => fanout::run_chunk(self, set, chunk, from, to).await,
            NotifierMessage::Deliver { set, subscriber } => {
                delivery::deliver(self, set, subscriber)
                    .await
                    .map(Handled::Delivery)
            }
        }
    }

    /// Handles a Lambda event: an SQS batch (answered with `batchItemFailures`: malformed messages are
    /// dropped with an error log, failed ones retried) or a scheduled EventBridge event (maintenance).
    pub async fn handle_event(&self, event: &Value) -> Result<Value, NotifierError> {
        let Some(records) = event.get("Records").and_then(Value::as_array) else {
            if event.get("detail-type").is_some() {
                let report = self.maintain(Duration::from_secs(60)).await?;
                return Ok(json!(report));
            }
            return Err(NotifierError::BadMessage(
                "neither an SQS batch nor a scheduled event".to_owned(),
            ));
        };
        let mut failures = Vec::new();
        for record in records {
            let id = record
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = record
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let span = tracing::info_span!("notifier message", message_id = id);
            let _enter = span.enter();
            match self.handle_message(body).await {
                Ok(handled) => tracing::info!(?handled, "handled"),
                Err(NotifierError::BadMessage(reason)) => {
                    tracing::error!(%reason, "dropping a malformed message");
                }
                Err(e) => {
                    tracing::error!(error = %e, "notifier step failed; will retry");
                    failures.push(json!({ "itemIdentifier": id }));
                }
            }
        }
        Ok(json!({ "batchItemFailures": failures }))
    }

    /// Scheduled maintenance: requeues deliveries due for longer than `grace` (a lost or dropped message),
    /// then garbage-collects read and aged notification sets.
    pub async fn maintain(&self, grace: Duration) -> Result<store::Maintenance, NotifierError> {
        self.ensure_subscribers().await?;
        let requeued = delivery::requeue_due(self, grace).await?;
        let gc = store::gc(&self.db, self.config.retention).await?;
        Ok(store::Maintenance { requeued, gc })
    }

    /// Sends messages on the notify queue.
    async fn send(&self, messages: &[NotifierMessage]) -> Result<(), NotifierError> {
        if messages.is_empty() {
            return Ok(());
        }
        let bodies = messages
            .iter()
            .map(NotifierMessage::to_body)
            .collect::<Result<Vec<_>, _>>()?;
        self.queue.send_batch(&bodies).await?;
        Ok(())
    }
}

/// Handles the messages of `queue` until it has been idle for `idle` (the diffs a one-shot `lucid update`
/// queued on its in-process queue: their fan-out and first delivery attempts). Deliveries that fail stay
/// `delivery_failed` receipts, which the next maintenance run (`lucid serve`, or the deployed schedule)
/// queues again. Returns what each message did.
pub async fn drain(
    notifier: &Notifier,
    queue: &dyn Queue,
    idle: Duration,
) -> Result<Vec<Handled>, NotifierError> {
    let mut handled = Vec::new();
    loop {
        let messages = queue.receive(10, idle, None).await?;
        if messages.is_empty() {
            return Ok(handled);
        }
        for m in messages {
            match notifier.handle_message(&m.body).await {
                Ok(h) => handled.push(h),
                Err(e) => tracing::error!(error = %e, "notify message failed"),
            }
            queue.delete_batch(std::slice::from_ref(&m.receipt)).await?;
        }
    }
}

/// The in-process worker of `lucid serve`: handles notify-queue messages until `shutdown`, and runs
/// [`Notifier::maintain`] every `maintenance_every`.
pub async fn run_worker(
    notifier: Notifier,
    queue: Arc<dyn Queue>,
    maintenance_every: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut maintenance = tokio::time::interval(maintenance_every);
    maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = tokio::select! {
            r = queue.receive(10, Duration::from_secs(1), None) => r,
            _ = maintenance.tick() => {
                if let Err(e) = notifier.maintain(Duration::from_secs(60)).await {
                    tracing::error!(error = %e, "notifier maintenance failed");
                }
                continue;
            }
            _ = shutdown.changed() => return,
        };
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "receiving notifier messages failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in messages {
            match notifier.handle_message(&m.body).await {
                Ok(_) | Err(NotifierError::BadMessage(_)) => {
                    if let Err(e) = queue.delete_batch(std::slice::from_ref(&m.receipt)).await {
                        tracing::error!(error = %e, "deleting a handled message failed");
                    }
                }
                Err(e) => {
                    tracing::error!(message_id = %m.id, error = %e, "notifier step failed; will retry");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_updaters_diff_message_is_a_notifier_message() {
        let diff = crate::feeds::updater::DiffMessage {
            kind: crate::feeds::updater::DIFF_MESSAGE_KIND.to_owned(),
            updater: "alpine/v3.19/main".to_owned(),
            prev: Some(Uuid::nil()),
            cur: Uuid::max(),
        };
        let body = serde_json::to_string(&diff).unwrap();
        assert_eq!(
            serde_json::from_str::<NotifierMessage>(&body).unwrap(),
            NotifierMessage::UpdateDiff {
                updater: "alpine/v3.19/main".to_owned(),
                prev: Some(Uuid::nil()),
                cur: Uuid::max(),
            }
        );
        let chunk = NotifierMessage::NotifyChunk {
            set: Uuid::nil(),
            chunk: 3,
            from: 10,
            to: 20,
        };
        assert_eq!(
            serde_json::to_value(&chunk).unwrap(),
            json!({"kind": "notify_chunk", "set": Uuid::nil(), "chunk": 3, "from": 10, "to": 20})
        );
    }
}
