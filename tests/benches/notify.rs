//! Notifier fan-out benchmark (not a timed test; run it with `bench/notify.sh`): the time from a committed
//! feed diff to all notifications written, for `LUCID_BENCH_MANIFESTS` (default 100,000) affected manifests.
//!
//! Setup (untimed): one Alpine 3.19 image of 10 packages is indexed through the index store, then cloned in
//! SQL into N finished manifests with the same reverse-index rows (N × 10 `manifest_package` rows); two
//! update operations of the Alpine updater are committed, the second adding an openssl advisory that
//! affects every image. Timed: the diff message through `Notifier::handle_message` on an in-process queue —
//! planning, then every chunk (`LUCID_NOTIFIER_CHUNK_MANIFESTS`, default 5,000) in turn, as one Lambda
//! invocation each would, until the completing chunk has created the receipts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use harness::notify::{alpine_layer, config, index_manifest, write_alpine_secdb};
use lucid::feeds::store::{CommitOutcome, FeedStore};
use lucid::notifier::{Handled, Notifier};
use lucid::queue::{MemoryQueue, Queue};

fn records(fixes: &[(&str, &str, &[&str])]) -> Result<Vec<lucid::model::Vulnerability>> {
    let dir = tempfile::tempdir()?;
    write_alpine_secdb(dir.path(), fixes)?;
    Ok(lucid::ecosystems::alpine::parse_alpine_secdb(
        &std::fs::read(dir.path().join("alpine/v3.19/main.json"))?,
    )?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let manifests: i64 = std::env::var("LUCID_BENCH_MANIFESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let chunk = std::env::var("LUCID_NOTIFIER_CHUNK_MANIFESTS").unwrap_or_else(|_| "5000".into());
    let db = harness::database().await?;

    let setup = Instant::now();
    let template = index_manifest(
        &db,
        "template",
        &alpine_layer(&[
            ("libssl3", "3.1.4-r0", "openssl"),
            ("libcrypto3", "3.1.4-r0", "openssl"),
            ("musl", "1.2.4-r2", "musl"),
            ("busybox", "1.36.1-r15", "busybox"),
            ("zlib", "1.3.1-r0", "zlib"),
            ("apk-tools", "2.14.0-r5", "apk-tools"),
            ("ca-certificates-bundle", "20230506-r0", "ca-certificates"),
            ("libc-utils", "0.7.2-r5", "libc-dev"),
            ("scanelf", "1.3.7-r2", "pax-utils"),
            ("ssl_client", "1.36.1-r15", "busybox"),
        ]),
    )
    .await?;
    let client = db.client().await?;
    client
        .execute(
            "INSERT INTO manifest (digest, state)
             SELECT 'sha256:' || encode(sha256(('bench ' || i)::bytea), 'hex'), 'IndexFinished'
             FROM generate_series(2, $1::bigint) AS i",
            &[&manifests],
        )
        .await?;
    client
        .execute(
            "INSERT INTO manifest_package (manifest_id, package_id, distribution_id)
             SELECT m.id, t.package_id, t.distribution_id
             FROM manifest m
             CROSS JOIN (SELECT mp.package_id, mp.distribution_id FROM manifest_package mp
                         JOIN manifest tm ON tm.id = mp.manifest_id WHERE tm.digest = $1) t
             WHERE m.digest <> $1",
            &[&template.to_string()],
        )
        .await?;
    client.batch_execute("ANALYZE").await?;
    let store = FeedStore::new(db.clone());
    store
        .commit(
            "alpine/v3.19/main",
            "1",
            &records(&[("zlib", "1.2.13-r0", &["CVE-2022-37434"])])?,
        )
        .await?;
    let CommitOutcome::Committed {
        operation,
        previous,
        ..
    } = store
        .commit(
            "alpine/v3.19/main",
            "2",
            &records(&[
                ("zlib", "1.2.13-r0", &["CVE-2022-37434"]),
                ("openssl", "3.1.4-r5", &["CVE-2024-0727"]),
            ])?,
        )
        .await?
    else {
        bail!("the second operation changed nothing");
    };
    println!(
        "setup: {manifests} manifests × 10 packages indexed in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let queue = Arc::new(MemoryQueue::new("notify", Duration::from_secs(300)));
    let notifier = Notifier::new(
        db.clone(),
        queue.clone(),
        &config(&[
            ("LUCID_NOTIFIER_CHUNK_MANIFESTS", chunk.clone()),
            (
                "LUCID_SUBSCRIBERS",
                r#"[{"target":"https://hooks.example/lucid"}]"#.to_owned(),
            ),
        ])?,
    );
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let body = serde_json::to_string(&lucid::feeds::updater::DiffMessage {
        kind: lucid::feeds::updater::DIFF_MESSAGE_KIND.to_owned(),
        updater: operation.updater.clone(),
        prev: previous.map(|p| p.reference),
        cur: operation.reference,
    })?;
    let started = Instant::now();
    queue.send_batch(&[body]).await?;
    // Handle the diff and every chunk; stop before delivering (the target is not reachable from here).
    let mut planned = Duration::ZERO;
    let mut chunks = 0;
    loop {
        let messages = queue.receive(10, Duration::from_millis(50), None).await?;
        let mut progressed = false;
        for m in messages {
            if m.body.contains("\"deliver\"") {
                continue;
            }
            progressed = true;
            match notifier.handle_message(&m.body).await? {
                Handled::Planned { .. } => planned = started.elapsed(),
                Handled::Chunk { .. } => chunks += 1,
                other => println!("unexpected: {other:?}"),
            }
            queue.delete_batch(std::slice::from_ref(&m.receipt)).await?;
        }
        if !progressed {
            break;
        }
    }
    let elapsed = started.elapsed();
    let written: i64 = client
        .query_one("SELECT count(*) FROM notification", &[])
        .await?
        .get(0);
    let receipts: i64 = client
        .query_one("SELECT count(*) FROM receipt", &[])
        .await?
        .get(0);
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "diff → {written} notifications for {manifests} manifests: {:.2} s (planning {:.3} s, {chunks} chunks of ≤ {chunk}); {receipts} receipt(s); {:.0} notifications/s",
        elapsed.as_secs_f64(),
        planned.as_secs_f64(),
        written as f64 / elapsed.as_secs_f64()
    );
    println!(
        "load average before/after: {} / {}",
        load_before.trim(),
        load_after.trim()
    );
    if written != manifests {
        bail!("expected {manifests} notifications, wrote {written}");
    }
    Ok(())
}
