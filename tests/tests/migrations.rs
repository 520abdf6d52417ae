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

#[tokio::test]
async fn backfills_agree_with_what_the_feed_store_writes() -> Result<()> {
    use lucid::feeds::store::FeedStore;
    use std::path::Path;

    // Real records of two kinds of namespace (a distribution release, a language ecosystem), written by
    // the feed store as an update does.
    let db = harness::database().await?;
    let shared = harness::repo_root().join("shared/src");
    let alpine = lucid::ecosystems::alpine::parse_alpine_secdb(&std::fs::read(
        shared.join("ecosystems/alpine/testdata/v3.19-main.json"),
    )?)?;
    let osv = lucid::feeds::osv::parse_directory(Path::new(&shared.join("feeds/testdata/osv")))?;
    let store = FeedStore::new(db.clone());
    store.commit("alpine/v3.19/main", "t", &alpine).await?;
    let pypi: Vec<_> = osv
        .into_iter()
        .filter(|r| r.updater == "osv/PyPI")
        .collect();
    assert!(!pypi.is_empty());
    store.commit("osv/PyPI", "t", &pypi).await?;

    let client = db.client().await?;
    let namespaces = "SELECT id, namespaces FROM update_operation ORDER BY id";
    let reports = "SELECT id, report FROM vulnerability ORDER BY id";
    let records = "SELECT vulnerability_id, record FROM vulnerability_record ORDER BY 1";
    let read_records = |rows: Vec<tokio_postgres::Row>| -> Vec<(i64, serde_json::Value)> {
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let read_namespaces = |rows: Vec<tokio_postgres::Row>| -> Vec<(i64, Option<Vec<String>>)> {
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let read_reports = |rows: Vec<tokio_postgres::Row>| -> Result<Vec<(i64, serde_json::Value)>> {
        rows.iter()
            .map(|r| Ok((r.get(0), serde_json::from_str(r.get::<_, &str>(1))?)))
            .collect()
    };
    let written_namespaces = read_namespaces(client.query(namespaces, &[]).await?);
    assert_eq!(
        written_namespaces
            .iter()
            .map(|(_, n)| n.clone())
            .collect::<Vec<_>>(),
        [
            Some(vec!["apk/alpine/3.19".to_owned()]),
            Some(vec!["pypi//".to_owned()])
        ]
    );
    let written_reports = read_reports(client.query(reports, &[]).await?)?;
    assert!(written_reports.len() > 10);
    let written_records = read_records(client.query(records, &[]).await?);
    assert_eq!(written_records.len(), written_reports.len());

    // As a database from before migrations V5 to V7 had them: no namespaces, no report text, the record
    // in the `vulnerability` row. Their own backfill statements must restore exactly what the feed store
    // writes.
    client
        .batch_execute(&format!(
            "{} UPDATE update_operation SET namespaces = NULL; UPDATE vulnerability SET report = ''",
            harness::RECORDS_BEFORE_V7
        ))
        .await?;
    let statements = harness::backfill_statements(&[
        "V5__operation_namespaces.sql",
        "V6__vulnerability_report_text.sql",
        "V7__vulnerability_record_apart.sql",
    ]);
    assert_eq!(statements.len(), 3, "{statements:?}");
    for statement in &statements {
        client.batch_execute(statement).await?;
    }
    assert_eq!(
        read_namespaces(client.query(namespaces, &[]).await?),
        written_namespaces
    );
    assert_eq!(
        read_reports(client.query(reports, &[]).await?)?,
        written_reports
    );
    assert_eq!(
        read_records(client.query(records, &[]).await?),
        written_records
    );
    client
        .batch_execute("ALTER TABLE vulnerability DROP COLUMN record")
        .await?;
    Ok(())
}
