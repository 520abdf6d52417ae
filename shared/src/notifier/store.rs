//! The notifier's reads and housekeeping: subscribers from the configuration, Clair's paged notification
//! reads and deletes, and garbage collection.

use std::time::Duration;

use uuid::Uuid;

use super::NotifierError;
use super::config::SubscriberConfig;
use crate::store::Database;

/// Writes the configured subscribers into the `subscriber` table (`source = 'env'`), updating secret and
/// minimum severity of known ones, and removes env subscribers no longer configured. Subscribers inserted
/// into the table by hand (`source = 'table'`) are left alone.
pub async fn sync_subscribers(
    db: &Database,
    subscribers: &[SubscriberConfig],
) -> Result<(), NotifierError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let kinds: Vec<&str> = subscribers.iter().map(|s| s.kind.as_str()).collect();
    let targets: Vec<&str> = subscribers.iter().map(|s| s.target.as_str()).collect();
    let secrets: Vec<&str> = subscribers.iter().map(|s| s.secret.as_str()).collect();
    let severities: Vec<&str> = subscribers
        .iter()
        .map(|s| s.min_severity.as_str())
        .collect();
    tx.execute(
        "DELETE FROM subscriber WHERE source = 'env'
           AND (kind, target) NOT IN (SELECT * FROM UNNEST($1::text[], $2::text[]))",
        &[&kinds, &targets],
    )
    .await?;
    tx.execute(
        "INSERT INTO subscriber (id, kind, target, secret, min_severity, source)
         SELECT gen_random_uuid(), k, t, s, m, 'env'
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) AS u(k, t, s, m)
         ON CONFLICT (kind, target) DO UPDATE
             SET secret = EXCLUDED.secret, min_severity = EXCLUDED.min_severity, source = 'env'",
        &[&kinds, &targets, &secrets, &severities],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One page of a set's notifications (Clair's NotificationPage).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NotificationPage {
    pub page: Page,
    pub notifications: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub size: usize,
    /// The id to pass as `next` for the following page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// The notifications of `set` after `next` (keyset paging by id), at most `size`. `None` when the set
/// does not exist.
pub async fn page(
    db: &Database,
    set: Uuid,
    size: usize,
    next: Option<Uuid>,
) -> Result<Option<NotificationPage>, NotifierError> {
    let client = db.client().await?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM notification_set WHERE id = $1 AND deleted_at IS NULL",
            &[&set],
        )
        .await?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let limit = size as i64 + 1;
    let rows = client
        .query(
            "SELECT n.id, n.manifest, n.reason, COALESCE(n.body, v.body)
             FROM notification n
             LEFT JOIN notification_vuln v ON v.set_id = n.set_id AND v.record = n.record
             WHERE n.set_id = $1 AND ($2::uuid IS NULL OR n.id > $2)
             ORDER BY n.id LIMIT $3",
            &[&set, &next, &limit],
        )
        .await?;
    let more = rows.len() > size;
    let mut notifications = Vec::with_capacity(rows.len().min(size));
    let mut last = None;
    for row in rows.iter().take(size) {
        let id: Uuid = row.try_get(0)?;
        let manifest: String = row.try_get(1)?;
        let reason: String = row.try_get(2)?;
        let vulnerability: Option<serde_json::Value> = row.try_get(3)?;
        notifications.push(serde_json::json!({
            "id": id,
            "manifest": manifest,
            "reason": reason,
            "vulnerability": vulnerability.unwrap_or(serde_json::Value::Null),
        }));
        last = Some(id);
    }
    Ok(Some(NotificationPage {
        page: Page {
            size,
            next: if more { last } else { None },
        },
        notifications,
    }))
}

/// Clair's DELETE: the client has read the set. Marks it and its receipts deleted (collected by the next
/// [`gc`]). Returns false when the set does not exist.
pub async fn delete(db: &Database, set: Uuid) -> Result<bool, NotifierError> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let found = tx
        .execute(
            "UPDATE notification_set SET deleted_at = COALESCE(deleted_at, now()) WHERE id = $1",
            &[&set],
        )
        .await?;
    tx.execute(
        "UPDATE receipt SET status = 'deleted', next_attempt_at = NULL, updated_at = now()
         WHERE set_id = $1",
        &[&set],
    )
    .await?;
    tx.commit().await?;
    Ok(found > 0)
}

/// What garbage collection removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct GcReport {
    pub sets_deleted: u64,
}

/// What scheduled maintenance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Maintenance {
    pub requeued: usize,
    pub gc: GcReport,
}

/// Deletes (with their notifications, chunks and receipts) the sets a client deleted, and completed sets
/// older than `retention` with no delivery still pending (all delivered, dead-lettered, or no subscriber).
pub async fn gc(db: &Database, retention: Duration) -> Result<GcReport, NotifierError> {
    let client = db.client().await?;
    let sets_deleted = client
        .execute(
            "DELETE FROM notification_set s
             WHERE s.deleted_at IS NOT NULL
                OR (s.completed_at < now() - make_interval(secs => $1)
                    AND NOT EXISTS (SELECT 1 FROM receipt r WHERE r.set_id = s.id
                                    AND r.status IN ('created', 'delivery_failed')))",
            &[&retention.as_secs_f64()],
        )
        .await?;
    if sets_deleted > 0 {
        tracing::info!(sets_deleted, "notification sets garbage-collected");
    }
    Ok(GcReport { sets_deleted })
}
