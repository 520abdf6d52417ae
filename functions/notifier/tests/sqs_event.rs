//! The notifier handler driven by SQS events in the shape AWS sends them (`events/sqs_batch.json`), on real
//! PostgreSQL and the SQS protocol (moto): the whole round trip from the real feed updater's diff to a
//! webhook delivery and the callback's notifications, duplicate deliveries, partial batch failures, and
//! the scheduled maintenance event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::Bytes;
use harness::notify::{alpine_layer, config, index_manifest, write_alpine_secdb};
use harness::webhook::Receiver;
use lucid::notifier::Notifier;
use lucid::queue::{Queue, ReceivedMessage, SqsQueue};
use lucid::services::Services;
use serde_json::{Value, json};

fn aws_batch() -> Result<Value> {
    Ok(serde_json::from_str(include_str!("events/sqs_batch.json"))?)
}

/// An SQS event as the Lambda event source mapping builds it from received messages (the record layout of
/// `events/sqs_batch.json`, with each message's id, receipt handle, body and receive count).
fn sqs_event(messages: &[ReceivedMessage]) -> Result<Value> {
    let template = aws_batch()?["Records"][0].clone();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut r = template.clone();
            r["messageId"] = json!(m.id);
            r["receiptHandle"] = json!(m.receipt);
            r["body"] = json!(m.body);
            r["attributes"]["ApproximateReceiveCount"] = json!(m.receive_count.to_string());
            r
        })
        .collect();
    Ok(json!({ "Records": records }))
}

/// Polls the queue like the event source mapping: each batch → one `handle` call; messages not listed in
/// `batchItemFailures` are deleted. `duplicate` hands every batch to the handler twice (at-least-once).
async fn pump(
    notifier: &Notifier,
    queue: &SqsQueue,
    idle: Duration,
    limit: Duration,
    duplicate: bool,
) -> Result<usize> {
    let deadline = Instant::now() + limit;
    let mut batches = 0;
    while Instant::now() < deadline {
        let messages = queue.receive(10, idle, None).await?;
        if messages.is_empty() {
            break;
        }
        let event = sqs_event(&messages)?;
        let mut response = lucid_notifier::handle(notifier, &event).await?;
        if duplicate {
            response = lucid_notifier::handle(notifier, &event).await?;
        }
        batches += 1;
        let failed: Vec<&str> = response["batchItemFailures"]
            .as_array()
            .ok_or_else(|| anyhow!("no batchItemFailures in {response}"))?
            .iter()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        let done: Vec<String> = messages
            .iter()
            .filter(|m| !failed.contains(&m.id.as_str()))
            .map(|m| m.receipt.clone())
            .collect();
        queue.delete_batch(&done).await?;
    }
    Ok(batches)
}

struct Setup {
    services: Services,
    queue: SqsQueue,
    receiver: Receiver,
    feeds: tempfile::TempDir,
}

async fn setup() -> Result<Setup> {
    let db = harness::fresh_database().await?;
    let moto = harness::moto()?;
    let queue_url = moto.queue(&[]).await?;
    let receiver = Receiver::start().await?;
    let feeds = tempfile::tempdir()?;
    let home = tempfile::tempdir()?.keep();
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ] {
        // The AWS SDK reads credentials and region from the process environment.
        unsafe { std::env::set_var(k, v) };
    }
    let config = config(&[
        ("DATABASE_URL", db.url.clone()),
        ("LUCID_FEED_DIR", feeds.path().display().to_string()),
        ("LUCID_NOTIFY_QUEUE_URL", queue_url.clone()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("LUCID_HOME", home.display().to_string()),
        (
            "LUCID_SUBSCRIBERS",
            json!([{"target": receiver.url(), "secret": "s"}]).to_string(),
        ),
        ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        (
            "LUCID_NOTIFIER_CALLBACK_URL",
            "https://lucid.test/notifier/api/v1/notification/".to_owned(),
        ),
    ])?;
    let services = Services::for_function(config).await?;
    Ok(Setup {
        queue: SqsQueue::new(moto.sqs(), queue_url),
        services,
        receiver,
        feeds,
    })
}

const ZLIB: (&str, &str, &[&str]) = ("zlib", "1.3.1-r0", &["CVE-2023-45853"]);
const OPENSSL: (&str, &str, &[&str]) = ("openssl", "3.1.4-r5", &["CVE-2024-0727"]);

#[tokio::test]
async fn updater_diff_to_webhook_to_callback_round_trip() -> Result<()> {
    let s = setup().await?;
    let db = &s.services.db;
    let vulnerable = alpine_layer(&[("libssl3", "3.1.4-r0", "openssl")]);
    let a = index_manifest(db, "a", &vulnerable).await?;
    let b = index_manifest(db, "b", &vulnerable).await?;
    index_manifest(
        db,
        "fixed",
        &alpine_layer(&[("libssl3", "3.1.4-r7", "openssl")]),
    )
    .await?;
    let notifier = Notifier::for_services(&s.services);

    // First load: queued by the updater, not notified.
    write_alpine_secdb(s.feeds.path(), &[ZLIB])?;
    lucid::feeds::updater::run_configured(&s.services, &[], |_| {}).await?;
    pump(
        &notifier,
        &s.queue,
        Duration::from_secs(1),
        Duration::from_secs(30),
        false,
    )
    .await?;
    assert_eq!(s.receiver.requests(), 0, "a first load notifies nobody");

    // An update adding an openssl advisory: one set, delivered once though every batch is handled twice.
    write_alpine_secdb(s.feeds.path(), &[ZLIB, OPENSSL])?;
    let summary = lucid::feeds::updater::run_configured(&s.services, &[], |_| {}).await?;
    assert_eq!(summary.failed().count(), 0, "{summary:?}");
    pump(
        &notifier,
        &s.queue,
        Duration::from_secs(2),
        Duration::from_secs(60),
        true,
    )
    .await?;
    let received = s.receiver.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let webhook = received[0].json()?;
    let id = webhook["notification_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        webhook["callback"],
        format!("https://lucid.test/notifier/api/v1/notification/{id}")
    );

    // The callback route lists the two vulnerable images.
    let api = lucid::api::Api::from_services(&s.services);
    let req = http::Request::builder()
        .uri(format!("/notifier/api/v1/notification/{id}"))
        .body(Bytes::new())?;
    let resp = lucid::api::handle(&api, req).await;
    assert_eq!(resp.status(), 200);
    let page: Value = serde_json::from_slice(resp.body())?;
    let mut manifests: Vec<&str> = page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["manifest"].as_str().unwrap_or_default())
        .collect();
    manifests.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(manifests, expected);
    assert!(
        page["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["reason"] == "added" && n["vulnerability"]["name"] == "CVE-2024-0727")
    );

    // The same diff redelivered later changes nothing.
    let again = lucid::feeds::store::FeedStore::new(db.clone())
        .latest("alpine/v3.19/main")
        .await?
        .ok_or_else(|| anyhow!("no live operation"))?;
    let previous = lucid::feeds::store::FeedStore::new(db.clone())
        .previous_operation(&again)
        .await?
        .ok_or_else(|| anyhow!("no previous operation"))?;
    s.queue
        .send_batch(&[serde_json::to_string(&json!({
            "kind": "update_diff", "updater": "alpine/v3.19/main",
            "prev": previous.reference, "cur": again.reference,
        }))?])
        .await?;
    pump(
        &notifier,
        &s.queue,
        Duration::from_secs(2),
        Duration::from_secs(30),
        false,
    )
    .await?;
    assert_eq!(s.receiver.received().len(), 1);
    Ok(())
}

#[tokio::test]
async fn malformed_messages_are_dropped_and_failures_reported_per_item() -> Result<()> {
    let s = setup().await?;
    let db = &s.services.db;
    index_manifest(
        db,
        "a",
        &alpine_layer(&[("libssl3", "3.1.4-r0", "openssl")]),
    )
    .await?;
    let store = lucid::feeds::store::FeedStore::new(db.clone());
    let records = |fixes: &[(&str, &str, &[&str])]| -> Result<Vec<lucid::model::Vulnerability>> {
        let dir = tempfile::tempdir()?;
        write_alpine_secdb(dir.path(), fixes)?;
        Ok(lucid::ecosystems::alpine::parse_alpine_secdb(
            &std::fs::read(dir.path().join("alpine/v3.19/main.json"))?,
        )?)
    };
    store
        .commit("alpine/v3.19/main", "1", &records(&[ZLIB])?)
        .await?;
    store
        .commit("alpine/v3.19/main", "2", &records(&[ZLIB, OPENSSL])?)
        .await?;
    let cur = store.latest("alpine/v3.19/main").await?.unwrap();
    let prev = store.previous_operation(&cur).await?.unwrap();

    // The AWS batch as sent: a first-load diff (handled: not notified) and a malformed body (dropped).
    let notifier = Notifier::for_services(&s.services);
    let response = lucid_notifier::handle(&notifier, &aws_batch()?).await?;
    assert_eq!(response, json!({"batchItemFailures": []}));

    // A notifier whose notify queue does not exist cannot queue the diff's chunks: that item fails alone.
    let moto = harness::moto()?;
    let broken = Notifier::new(
        db.clone(),
        Arc::new(SqsQueue::new(
            moto.sqs(),
            format!("{}/123456789012/no-such-queue", moto.endpoint),
        )),
        &s.services.config,
    );
    let mut event = aws_batch()?;
    event["Records"][0]["body"] = json!(
        json!({"kind": "update_diff", "updater": "alpine/v3.19/main",
               "prev": prev.reference, "cur": cur.reference})
        .to_string()
    );
    let response = lucid_notifier::handle(&broken, &event).await?;
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "059f36b4-87a3-44ab-83d2-661975830a7d"}]})
    );
    // Retried with a working queue, the same diff completes.
    let response = lucid_notifier::handle(&notifier, &event).await?;
    assert_eq!(response, json!({"batchItemFailures": []}));
    pump(
        &notifier,
        &s.queue,
        Duration::from_secs(2),
        Duration::from_secs(30),
        false,
    )
    .await?;
    assert_eq!(s.receiver.received().len(), 1);

    // The scheduled event runs maintenance.
    let scheduled: Value = serde_json::from_str(include_str!("events/scheduled.json"))?;
    let report = lucid_notifier::handle(&notifier, &scheduled).await?;
    assert_eq!(report["requeued"], 0, "{report}");
    Ok(())
}
