//! Delivery: receipts (created → delivered | delivery_failed → … → dead_letter; deleted by the client)
//! and the attempts that move them.
//!
//! An attempt first **claims** its receipt: one `UPDATE` that counts the attempt and sets
//! `next_attempt_at` to a lease (timeout + margin) only when the receipt is due, so duplicate messages and
//! concurrent workers never deliver the same set twice at once. A failed attempt schedules the next one
//! `retry_delay(attempt)` later (exponential, full jitter, capped at SQS's 15-minute delay) as a delayed
//! message; [`requeue_due`] (scheduled maintenance) re-sends any due receipt whose message was lost.

use std::time::Duration;

use tokio_postgres::Transaction;
use uuid::Uuid;

use super::config::SubscriberKind;
use super::webhook::{self, WebhookBody};
use super::{Notifier, NotifierError, NotifierMessage};
use crate::model::Severity;
use crate::queue::Queue as _;

/// What one delivery message did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Attempt {
    Delivered {
        attempt: u32,
    },
    /// Failed; retried after `retry_in_ms`.
    Failed {
        attempt: u32,
        retry_in_ms: u64,
        error: String,
    },
    /// Failed for the last allowed time: the receipt is a dead letter.
    DeadLetter {
        attempt: u32,
        error: String,
    },
    /// Nothing to do: delivered, deleted, not due yet, or claimed by another attempt.
    NotDue,
}

/// Creates the receipts of a completed set, in the completing transaction: one per subscriber whose
/// minimum severity the set's most severe notification reaches. A set with no notification gets none.
pub async fn create_receipts(tx: &Transaction<'_>, set: Uuid) -> Result<usize, NotifierError> {
    let severities = tx
        .query(
            "SELECT DISTINCT severity FROM notification WHERE set_id = $1",
            &[&set],
        )
        .await?;
    let Some(most) = severities
        .iter()
        .filter_map(|r| r.try_get::<_, &str>(0).ok())
        .map(|s| s.parse::<Severity>().unwrap_or_default())
        .max()
    else {
        return Ok(0);
    };
    let subscribers = tx
        .query("SELECT id, min_severity FROM subscriber", &[])
        .await?;
    let mut ids: Vec<Uuid> = Vec::new();
    for row in &subscribers {
        let id: Uuid = row.try_get(0)?;
        let min: &str = row.try_get(1)?;
        if most >= min.parse::<Severity>().unwrap_or_default() {
            ids.push(id);
        }
    }
    tx.execute(
        "INSERT INTO receipt (set_id, subscriber_id, status)
         SELECT $1, unnest($2::uuid[]), 'created' ON CONFLICT DO NOTHING",
        &[&set, &ids],
    )
    .await?;
    tracing::info!(%set, severity = %most, subscribers = ids.len(), "receipts created");
    Ok(ids.len())
}

/// Queues a delivery message for every receipt of `set` that is due now.
pub async fn queue_pending(n: &Notifier, set: Uuid) -> Result<usize, NotifierError> {
    let client = n.db.client().await?;
    let rows = client
        .query(
            "SELECT subscriber_id FROM receipt
             WHERE set_id = $1 AND status IN ('created', 'delivery_failed')
               AND (next_attempt_at IS NULL OR next_attempt_at <= now())",
            &[&set],
        )
        .await?;
    drop(client);
    let messages = rows
        .iter()
        .map(|r| {
            Ok(NotifierMessage::Deliver {
                set,
                subscriber: r.try_get(0)?,
            })
        })
        .collect::<Result<Vec<_>, NotifierError>>()?;
    n.send(&messages).await?;
    Ok(messages.len())
}

/// Re-sends deliveries due for longer than `grace` (their message was lost or dropped). Duplicates are
/// harmless: only one attempt can claim a receipt.
pub async fn requeue_due(n: &Notifier, grace: Duration) -> Result<usize, NotifierError> {
    let client = n.db.client().await?;
    let rows = client
        .query(
            "SELECT set_id, subscriber_id FROM receipt
             WHERE status IN ('created', 'delivery_failed')
               AND COALESCE(next_attempt_at, updated_at) <= now() - make_interval(secs => $1)
             ORDER BY COALESCE(next_attempt_at, updated_at) LIMIT 1000",
            &[&grace.as_secs_f64()],
        )
        .await?;
    drop(client);
    let messages = rows
        .iter()
        .map(|r| {
            Ok(NotifierMessage::Deliver {
                set: r.try_get(0)?,
                subscriber: r.try_get(1)?,
            })
        })
        .collect::<Result<Vec<_>, NotifierError>>()?;
    n.send(&messages).await?;
    if !messages.is_empty() {
        tracing::info!(requeued = messages.len(), "due deliveries requeued");
    }
    Ok(messages.len())
}

/// One delivery attempt of `set` to `subscriber`.
pub async fn deliver(n: &Notifier, set: Uuid, subscriber: Uuid) -> Result<Attempt, NotifierError> {
    let span = tracing::info_span!("deliver", %set, %subscriber);
    let _enter = span.enter();
    let lease = n.config.webhook_timeout + Duration::from_secs(30);
    let client = n.db.client().await?;
    let Some(row) = client
        .query_opt(
            "UPDATE receipt r SET attempts = r.attempts + 1,
                    next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
             FROM subscriber s
             WHERE r.set_id = $1 AND r.subscriber_id = $2 AND s.id = r.subscriber_id
               AND r.status IN ('created', 'delivery_failed')
               AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= now())
             RETURNING r.attempts, s.kind, s.target, s.secret",
            &[&set, &subscriber, &lease.as_secs_f64()],
        )
        .await?
    else {
        return Ok(Attempt::NotDue);
    };
    drop(client);
    let attempt = row.try_get::<_, i32>(0)?.max(0) as u32;
    let kind: &str = row.try_get(1)?;
    let target: &str = row.try_get(2)?;
    let secret: &str = row.try_get(3)?;
    let result = match n.config.callback_url.as_deref() {
        None => Err("LUCID_NOTIFIER_CALLBACK_URL is not set: no callback to send".to_owned()),
        Some(base) => {
            let body = WebhookBody {
                notification_id: set,
                callback: format!("{}{set}", with_slash(base)),
            };
            match serde_json::to_vec(&body) {
                Err(e) => Err(e.to_string()),
                Ok(bytes) if kind == SubscriberKind::Sqs.as_str() => {
                    send_sqs(n, target, &bytes).await
                }
                Ok(bytes) if kind == SubscriberKind::Sns.as_str() => {
                    publish_sns(n, target, &bytes).await
                }
                Ok(bytes) => post_webhook(n, target, secret, bytes).await,
            }
        }
    };
    let client = n.db.client().await?;
    match result {
        Ok(()) => {
            client
                .execute(
                    "UPDATE receipt SET status = 'delivered', next_attempt_at = NULL, last_error = '',
                            updated_at = now()
                     WHERE set_id = $1 AND subscriber_id = $2 AND status <> 'deleted'",
                    &[&set, &subscriber],
                )
                .await?;
            tracing::info!(attempt, "delivered");
            Ok(Attempt::Delivered { attempt })
        }
        Err(error) if attempt >= n.config.max_attempts => {
            client
                .execute(
                    "UPDATE receipt SET status = 'dead_letter', next_attempt_at = NULL, last_error = $3,
                            updated_at = now()
                     WHERE set_id = $1 AND subscriber_id = $2 AND status <> 'deleted'",
                    &[&set, &subscriber, &error],
                )
                .await?;
            tracing::error!(attempt, %error, "delivery failed for the last time: dead letter");
            Ok(Attempt::DeadLetter { attempt, error })
        }
        Err(error) => {
            let delay = webhook::retry_delay(attempt, n.config.retry_base, n.config.retry_max);
            client
                .execute(
                    "UPDATE receipt SET status = 'delivery_failed', last_error = $3, updated_at = now(),
                            next_attempt_at = now() + make_interval(secs => $4)
                     WHERE set_id = $1 AND subscriber_id = $2 AND status <> 'deleted'",
                    &[&set, &subscriber, &error, &delay.as_secs_f64()],
                )
                .await?;
            drop(client);
            let message = NotifierMessage::Deliver { set, subscriber }.to_body()?;
            n.queue.send_delayed(&message, delay).await?;
            tracing::warn!(attempt, %error, retry_in = ?delay, "delivery failed; will retry");
            Ok(Attempt::Failed {
                attempt,
                retry_in_ms: delay.as_millis() as u64,
                error,
            })
        }
    }
}

fn with_slash(base: &str) -> String {
    if base.ends_with('/') {
        base.to_owned()
    } else {
        format!("{base}/")
    }
}

/// POSTs Clair's webhook body: only to the addresses the target guard checked, within the timeout,
/// without following redirects; any 2xx is success.
async fn post_webhook(
    n: &Notifier,
    target: &str,
    secret: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    let addresses = webhook::check_target(target, n.config.allow_private_targets)
        .await
        .map_err(|e| e.to_string())?;
    let url = url::Url::parse(target).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let resolved: Vec<std::net::SocketAddr> = addresses
        .into_iter()
        .map(|a| std::net::SocketAddr::new(a, port))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(n.config.webhook_timeout)
        .connect_timeout(n.config.webhook_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &resolved)
        .user_agent(concat!("lucid-notifier/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(auth) = &n.auth {
        let token = crate::api::auth::sign(auth, crate::api::auth::NOTIFIER_ISSUER)
            .map_err(|e| e.to_string())?;
        request = request.bearer_auth(token);
    }
    if !secret.is_empty() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        request = request.header(
            webhook::SIGNATURE_HEADER,
            webhook::signature(secret.as_bytes(), now, &body),
        );
    }
    let response = request.body(body).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("timed out after {:?}", n.config.webhook_timeout)
        } else {
            crate::error_chain(&e)
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered HTTP {status}"))
    }
}

/// Publishes the webhook body to an SNS topic subscriber.
async fn publish_sns(n: &Notifier, topic_arn: &str, body: &[u8]) -> Result<(), String> {
    let client = n
        .sns
        .get_or_init(|| async { crate::aws::sns_client(&crate::aws::sdk_config(&n.app).await) })
        .await;
    client
        .publish()
        .topic_arn(topic_arn)
        .message(String::from_utf8_lossy(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "SNS publish to {topic_arn}: {}",
                crate::aws::describe_sdk_error(&e)
            )
        })
}

/// Sends the webhook body to an SQS queue subscriber.
async fn send_sqs(n: &Notifier, queue_url: &str, body: &[u8]) -> Result<(), String> {
    let client = n
        .sqs
        .get_or_init(|| async { crate::aws::sqs_client(&crate::aws::sdk_config(&n.app).await) })
        .await;
    let body = String::from_utf8_lossy(body).into_owned();
    crate::queue::SqsQueue::new(client.clone(), queue_url)
        .send_batch(&[body])
        .await
        .map_err(|e| e.to_string())
}
