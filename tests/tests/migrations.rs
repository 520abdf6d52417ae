//! Migrations: concurrent migrators converge on one schema; a second run is a no-op.

use std::time::Duration;

use anyhow::Result;
use lucid::store::Database;

#[tokio::test]
async fn concurrent_migrators_converge_and_rerun_is_a_no_op() -> Result<()> {
    let db = harness::fresh_database().await?;
    let a = Database::connect(&db.url, 2, Duration::from_secs(10)).await?;
    let b = Database::connect(&db.url, 2, Duration::from_secs(10)).await?;
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    let (ra, rb) = (ra?, rb?);
    // Exactly one of them applied the migrations; the other found nothing to do.
    assert!(
        (ra.is_empty()) != (rb.is_empty()),
        "applied by a: {ra:?}, by b: {rb:?}"
    );
    let applied = if ra.is_empty() { rb } else { ra };
    assert!(!applied.is_empty());
    let version = a.schema_version().await?;
    assert!(version.is_some());
    assert_eq!(b.schema_version().await?, version);

    // A third run changes nothing.
    assert!(a.migrate().await?.is_empty());

    // The schema is there.
    let client = a.client().await?;
    for table in [
        "manifest",
        "layer",
        "layer_scan",
        "index_report",
        "update_operation",
        "vulnerability",
        "latest_update_operation",
        "feed_status",
        "notification",
        "receipt",
    ] {
        let row = client
            .query_one("SELECT to_regclass($1)::text", &[&table])
            .await?;
        let found: Option<String> = row.get(0);
        assert_eq!(found.as_deref(), Some(table), "table {table} missing");
    }
    Ok(())
}

#[tokio::test]
async fn unreachable_database_is_one_clear_error() {
    let err = Database::connect(
        "postgres://lucid@127.0.0.1:1/lucid",
        1,
        Duration::from_secs(2),
    )
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.starts_with("database unreachable"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
