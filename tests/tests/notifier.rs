//! The notifier on real PostgreSQL: feed diffs committed by the feed store fan out to the manifests indexed
//! through the index store, in Clair's notification shape; re-processing never duplicates; a feed's first
//! load is not notified; deliveries to a local webhook receiver survive failures, outages and hangs;
//! Clair's paged notification routes and garbage collection.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use harness::notify::{alpine_layer, config, index_manifest, pump, write_alpine_secdb};
use harness::webhook::Receiver;
use lucid::feeds::store::{CommitOutcome, FeedStore};
use lucid::model::Vulnerability;
use lucid::notifier::delivery::Attempt;
use lucid::notifier::{Handled, Notifier, NotifierMessage};
use lucid::queue::{MemoryQueue, Queue, SqsQueue};
use lucid::store::Database;
use serde_json::{Value, json};
use uuid::Uuid;

const UPDATER: &str = "alpine/v3.19/main";

/// Alpine records for `fixes` (origin, fixed version, CVEs), parsed by the real secdb parser.
fn alpine_records(fixes: &[(&str, &str, &[&str])]) -> Result<Vec<Vulnerability>> {
    let dir = tempfile::tempdir()?;
    write_alpine_secdb(dir.path(), fixes)?;
    let json = std::fs::read(dir.path().join("alpine/v3.19/main.json"))?;
    Ok(lucid::ecosystems::alpine::parse_alpine_secdb(&json)?)
}

/// Commits `records` as the next operation of the Alpine updater; returns (prev, cur) references.
async fn commit(db: &Database, records: &[Vulnerability]) -> Result<(Option<Uuid>, Uuid)> {
    match FeedStore::new(db.clone())
        .commit(UPDATER, "test", records)
        .await?
    {
        CommitOutcome::Committed {
            operation,
            previous,
            ..
        } => Ok((previous.map(|p| p.reference), operation.reference)),
        CommitOutcome::Unchanged { .. } => anyhow::bail!("nothing changed"),
    }
}

fn diff_message(prev: Option<Uuid>, cur: Uuid) -> String {
    serde_json::to_string(&lucid::feeds::updater::DiffMessage {
        kind: lucid::feeds::updater::DIFF_MESSAGE_KIND.to_owned(),
        updater: UPDATER.to_owned(),
        prev,
        cur,
    })
    .unwrap()
}

const BUSYBOX: (&str, &str, &[&str]) = ("busybox", "1.36.1-r20", &["CVE-2023-42366"]);
const ZLIB: (&str, &str, &[&str]) = ("zlib", "1.3.1-r0", &["CVE-2023-45853"]);
const OPENSSL: (&str, &str, &[&str]) = ("openssl", "3.1.4-r5", &["CVE-2024-0727"]);

/// Five images: three with a vulnerable openssl (one of them also busybox), one fixed, one without.
async fn index_images(db: &Database) -> Result<Vec<lucid::model::Digest>> {
    let vulnerable = [
        ("libcrypto3", "3.1.4-r0", "openssl"),
        ("libssl3", "3.1.4-r0", "openssl"),
    ];
    let mut digests = Vec::new();
    for seed in ["a", "b"] {
        digests.push(index_manifest(db, seed, &alpine_layer(&vulnerable)).await?);
    }
    let mut with_busybox = vulnerable.to_vec();
    with_busybox.push(("busybox", "1.36.1-r15", "busybox"));
    digests.push(index_manifest(db, "c", &alpine_layer(&with_busybox)).await?);
    digests.push(
        index_manifest(
            db,
            "fixed",
            &alpine_layer(&[("libssl3", "3.1.4-r6", "openssl")]),
        )
        .await?,
    );
    digests
        .push(index_manifest(db, "other", &alpine_layer(&[("musl", "1.2.4-r2", "musl")])).await?);
    Ok(digests)
}

fn notifier(db: &Database, queue: Arc<dyn Queue>, vars: &[(&str, String)]) -> Result<Notifier> {
    Ok(Notifier::new(db.clone(), queue, &config(vars)?))
}

fn memory_queue() -> Arc<MemoryQueue> {
    Arc::new(MemoryQueue::new("notify", Duration::from_secs(30)))
}

async fn all_notifications(db: &Database, set: Uuid) -> Result<Vec<Value>> {
    let page = lucid::notifier::store::page(db, set, 1000, None)
        .await?
        .expect("the set exists");
    Ok(page.notifications)
}

fn planned_set(handled: &[Handled]) -> Uuid {
    handled
        .iter()
        .find_map(|h| match h {
            Handled::Planned { set, .. } => Some(*set),
            _ => None,
        })
        .expect("a planned set")
}

#[tokio::test]
async fn a_diff_notifies_exactly_the_affected_manifests_in_clairs_shape() -> Result<()> {
    let db = harness::database().await?;
    let images = index_images(&db).await?;
    let (_, first) = commit(&db, &alpine_records(&[BUSYBOX, ZLIB])?).await?;
    let (prev, cur) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    assert_eq!(prev, Some(first));

    let queue = memory_queue();
    // One manifest per chunk: the three affected manifests take three chunk messages.
    let n = notifier(
        &db,
        queue.clone(),
        &[("LUCID_NOTIFIER_CHUNK_MANIFESTS", "1".to_owned())],
    )?;
    queue.send_batch(&[diff_message(prev, cur)]).await?;
    let handled = pump(
        &n,
        &*queue,
        Duration::from_millis(200),
        Duration::from_secs(30),
    )
    .await?;
    let set = planned_set(&handled);
    assert!(
        handled.contains(&Handled::Planned { set, chunks: 3 }),
        "{handled:?}"
    );

    let notifications = all_notifications(&db, set).await?;
    let mut seen: Vec<(String, String, String)> = notifications
        .iter()
        .map(|n| {
            (
                n["manifest"].as_str().unwrap_or_default().to_owned(),
                n["reason"].as_str().unwrap_or_default().to_owned(),
                n["vulnerability"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut expected = vec![
        (
            images[0].to_string(),
            "added".into(),
            "CVE-2024-0727".into(),
        ),
        (
            images[1].to_string(),
            "added".into(),
            "CVE-2024-0727".into(),
        ),
        (
            images[2].to_string(),
            "added".into(),
            "CVE-2024-0727".into(),
        ),
        (
            images[2].to_string(),
            "removed".into(),
            "CVE-2023-42366".into(),
        ),
    ];
    expected.sort();
    assert_eq!(
        seen, expected,
        "the fixed and the unrelated image are not notified"
    );

    // Clair's shape: {id, manifest, reason, vulnerability{name, description, package, distribution, repo,
    // severity, normalized_severity, fixed_in_version, links}}.
    let added = notifications
        .iter()
        .find(|n| n["reason"] == "added")
        .expect("an added notification");
    let keys: Vec<&str> = added
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "manifest", "reason", "vulnerability"]);
    Uuid::parse_str(added["id"].as_str().unwrap())?;
    let v = &added["vulnerability"];
    for key in [
        "name",
        "description",
        "package",
        "distribution",
        "repo",
        "severity",
        "normalized_severity",
        "fixed_in_version",
        "links",
    ] {
        assert!(v.get(key).is_some(), "vulnerability.{key} missing: {v}");
    }
    assert_eq!(v["fixed_in_version"], "3.1.4-r5");
    assert_eq!(v["package"]["name"], "openssl");
    assert_eq!(v["distribution"]["did"], "alpine");
    assert_eq!(v["distribution"]["version_id"], "3.19");

    // Re-processing: the diff again, and every chunk twice, write nothing new.
    queue.send_batch(&[diff_message(prev, cur)]).await?;
    for chunk in 0..3 {
        let body = NotifierMessage::NotifyChunk {
            set,
            chunk,
            from: 0,
            to: i64::MAX,
        }
        .to_body()?;
        queue.send_batch(&[body.clone(), body]).await?;
    }
    let again = pump(
        &n,
        &*queue,
        Duration::from_millis(200),
        Duration::from_secs(30),
    )
    .await?;
    assert!(again.contains(&Handled::Planned { set, chunks: 3 }));
    assert!(again.iter().all(|h| !matches!(
        h,
        Handled::Chunk {
            already_done: false,
            ..
        }
    )));
    assert_eq!(all_notifications(&db, set).await?.len(), 4);
    let sets: i64 = db
        .client()
        .await?
        .query_one("SELECT count(*) FROM notification_set", &[])
        .await?
        .get(0);
    assert_eq!(sets, 1, "one set per diff");
    Ok(())
}

#[tokio::test]
async fn a_feeds_first_load_is_not_notified() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let (prev, cur) = commit(&db, &alpine_records(&[BUSYBOX, ZLIB, OPENSSL])?).await?;
    assert_eq!(prev, None);
    let queue = memory_queue();
    let receiver = Receiver::start().await?;
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([{"target": receiver.url()}]).to_string(),
            ),
            ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
            (
                "LUCID_NOTIFIER_CALLBACK_URL",
                "http://lucid.test/".to_owned(),
            ),
        ],
    )?;
    queue.send_batch(&[diff_message(prev, cur)]).await?;
    let handled = pump(
        &n,
        &*queue,
        Duration::from_millis(200),
        Duration::from_secs(10),
    )
    .await?;
    assert_eq!(handled, vec![Handled::FirstLoad]);
    let client = db.client().await?;
    let count = |table: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?;
            Ok::<i64, anyhow::Error>(row.get(0))
        }
    };
    assert_eq!(count("notification_set").await?, 0);
    assert_eq!(count("notification").await?, 0);
    assert_eq!(receiver.requests(), 0);
    Ok(())
}

/// Receipts by status, for one set.
async fn receipt(db: &Database, set: Uuid) -> Result<(String, i32, String)> {
    let row = db
        .client()
        .await?
        .query_one(
            "SELECT status, attempts, last_error FROM receipt WHERE set_id = $1",
            &[&set],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2)))
}

#[tokio::test]
async fn deliveries_survive_failures_and_an_outage_and_arrive_once_per_set() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let moto = harness::moto()?;
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(moto.sqs(), moto.queue(&[]).await?));
    let receiver = Receiver::start().await?;
    let secret = "whsec-notifier-test";
    let psk = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="; // base64 of 32 bytes
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([{"target": receiver.url(), "secret": secret, "min_severity": "Unknown"}])
                    .to_string(),
            ),
            ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
            (
                "LUCID_NOTIFIER_CALLBACK_URL",
                "https://lucid.test/notifier/api/v1/notification/".to_owned(),
            ),
            ("LUCID_NOTIFIER_RETRY_BASE_MS", "100".to_owned()),
            ("LUCID_NOTIFIER_RETRY_MAX_SECS", "1".to_owned()),
            ("LUCID_PSK", psk.to_owned()),
        ],
    )?;

    // Two diffs → two sets. The receiver fails its first three requests, then is down for a while.
    let (_, first) = commit(&db, &alpine_records(&[BUSYBOX])?).await?;
    let (_, second) = commit(&db, &alpine_records(&[BUSYBOX, ZLIB, OPENSSL])?).await?;
    let (_, third) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    receiver.fail_next(3);
    queue
        .send_batch(&[
            diff_message(Some(first), second),
            diff_message(Some(second), third),
        ])
        .await?;
    // Duplicate deliveries of the same diff (SQS is at-least-once).
    queue
        .send_batch(&[diff_message(Some(first), second)])
        .await?;

    let outage = async {
        while receiver.requests() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        receiver.stop();
        tokio::time::sleep(Duration::from_secs(3)).await;
        receiver.restart().await
    };
    let (handled, restarted) = tokio::join!(
        pump(&n, &*queue, Duration::from_secs(4), Duration::from_secs(90)),
        outage
    );
    restarted?;
    let handled = handled?;
    assert!(
        handled
            .iter()
            .any(|h| matches!(h, Handled::Delivery(Attempt::Failed { .. }))),
        "{handled:?}"
    );

    let received = receiver.received();
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| {
            r.json().unwrap()["notification_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "each set delivered exactly once");
    assert_eq!(ids.len(), 2, "both sets delivered: {handled:?}");
    for r in &received {
        let body = r.json()?;
        let id = body["notification_id"].as_str().unwrap();
        assert_eq!(
            body["callback"],
            format!("https://lucid.test/notifier/api/v1/notification/{id}")
        );
        // The HMAC signature verifies with the subscriber's secret.
        let header = r.header("x-lucid-signature").expect("signature header");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        lucid::notifier::webhook::verify_signature(
            secret.as_bytes(),
            header,
            &r.body,
            now,
            Duration::from_secs(300),
        )?;
        // The PSK JWT verifies as Clair's notifier token.
        let auth = lucid::config::AuthConfig {
            key: b"0123456789abcdef0123456789abcdef".to_vec(),
            issuers: vec!["clair-notifier".to_owned()],
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            r.header("authorization").expect("a bearer token").parse()?,
        );
        lucid::api::auth::Verifier::new(&auth).verify(&headers)?;
        assert_eq!(receipt(&db, Uuid::parse_str(id)?).await?.0, "delivered");
    }
    Ok(())
}

/// SQS and SNS subscribers get the webhook's body as a message: an SQS queue directly, an SNS topic (here
/// with an SQS queue subscribed to it, raw delivery) by publish; both on the emulator's real protocols.
#[tokio::test]
async fn sqs_and_sns_subscribers_receive_the_notification_message() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let moto = harness::moto()?;
    let sqs = moto.sqs();
    let target_queue = moto.queue(&[]).await?;
    let topic_queue = moto.queue(&[]).await?;
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config());
    let topic = sns
        .create_topic()
        .name(format!("lucid-{}", Uuid::new_v4().simple()))
        .send()
        .await?
        .topic_arn
        .expect("a topic ARN");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(moto.queue_arn(&topic_queue).await?)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await?;
    let queue = memory_queue();
    let callback = "https://lucid.test/notifier/api/v1/notification/";
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([{"kind": "sqs", "target": target_queue}, {"kind": "sns", "target": topic}])
                    .to_string(),
            ),
            ("LUCID_NOTIFIER_CALLBACK_URL", callback.to_owned()),
        ],
    )?
    .with_aws(&moto.sdk_config());
    commit(&db, &alpine_records(&[BUSYBOX, ZLIB])?).await?;
    let (prev, cur) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    queue.send_batch(&[diff_message(prev, cur)]).await?;
    let handled = pump(
        &n,
        &*queue,
        Duration::from_millis(200),
        Duration::from_secs(30),
    )
    .await?;
    let set = planned_set(&handled);
    for url in [&target_queue, &topic_queue] {
        let messages = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?
            .messages
            .unwrap_or_default();
        assert_eq!(messages.len(), 1, "{url}: {messages:?}");
        let body: Value = serde_json::from_str(messages[0].body().unwrap_or_default())?;
        assert_eq!(
            body,
            json!({"notification_id": set.to_string(), "callback": format!("{callback}{set}")})
        );
    }
    let delivered: i64 = db
        .client()
        .await?
        .query_one(
            "SELECT count(*) FROM receipt WHERE set_id = $1 AND status = 'delivered'",
            &[&set],
        )
        .await?
        .get(0);
    assert_eq!(delivered, 2);
    Ok(())
}

#[tokio::test]
async fn a_hanging_receiver_times_out_and_ends_as_a_dead_letter() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let queue = memory_queue();
    let receiver = Receiver::start().await?;
    receiver.set_hang(true);
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([{"target": receiver.url()}]).to_string(),
            ),
            ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
            (
                "LUCID_NOTIFIER_CALLBACK_URL",
                "http://lucid.test/".to_owned(),
            ),
            ("LUCID_WEBHOOK_TIMEOUT_MS", "300".to_owned()),
            ("LUCID_NOTIFIER_RETRY_BASE_MS", "50".to_owned()),
            ("LUCID_NOTIFIER_MAX_ATTEMPTS", "3".to_owned()),
        ],
    )?;
    let (_, first) = commit(&db, &alpine_records(&[ZLIB])?).await?;
    let (_, second) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    queue
        .send_batch(&[diff_message(Some(first), second)])
        .await?;
    let started = std::time::Instant::now();
    let handled = pump(&n, &*queue, Duration::from_secs(1), Duration::from_secs(60)).await?;
    let set = planned_set(&handled);
    let attempts: Vec<&Attempt> = handled
        .iter()
        .filter_map(|h| match h {
            Handled::Delivery(a) => Some(a),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            attempts.last(),
            Some(Attempt::DeadLetter { attempt: 3, .. })
        ),
        "{attempts:?}"
    );
    let (status, tries, error) = receipt(&db, set).await?;
    assert_eq!((status.as_str(), tries), ("dead_letter", 3));
    assert!(error.contains("timed out"), "{error}");
    assert_eq!(receiver.requests(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "timeouts bound each attempt"
    );

    // Maintenance does not requeue a dead letter.
    let maintenance = n.maintain(Duration::ZERO).await?;
    assert_eq!(maintenance.requeued, 0);
    Ok(())
}

#[tokio::test]
async fn subscribers_below_their_minimum_severity_get_no_receipt() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let queue = memory_queue();
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([
                    {"target": "https://critical.example/hook", "min_severity": "Critical"},
                    {"target": "https://all.example/hook"}
                ])
                .to_string(),
            ),
            ("LUCID_NOTIFIER_MAX_ATTEMPTS", "1".to_owned()),
        ],
    )?;
    let (_, first) = commit(&db, &alpine_records(&[ZLIB])?).await?;
    let (_, second) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    queue
        .send_batch(&[diff_message(Some(first), second)])
        .await?;
    pump(
        &n,
        &*queue,
        Duration::from_millis(300),
        Duration::from_secs(30),
    )
    .await?;
    let rows = db
        .client()
        .await?
        .query(
            "SELECT s.target, r.status, r.last_error FROM receipt r JOIN subscriber s ON s.id = r.subscriber_id",
            &[],
        )
        .await?;
    // Alpine records carry no severity (Unknown): only the subscriber without a minimum gets a receipt;
    // with no callback URL configured its one allowed attempt fails and the receipt is a dead letter.
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, &str>(0), "https://all.example/hook");
    assert_eq!(rows[0].get::<_, &str>(1), "dead_letter");
    assert!(
        rows[0]
            .get::<_, &str>(2)
            .contains("LUCID_NOTIFIER_CALLBACK_URL")
    );
    Ok(())
}

async fn call(api: &lucid::api::Api, method: &str, uri: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = http::Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = lucid::api::handle(api, req.body(Bytes::new()).unwrap()).await;
    let status = resp.status().as_u16();
    let body = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn notification_routes_page_delete_and_gc() -> Result<()> {
    let db = harness::database().await?;
    // Seven images affected by one added record.
    for i in 0..7 {
        index_manifest(
            &db,
            &format!("paged {i}"),
            &alpine_layer(&[("libssl3", "3.1.4-r0", "openssl")]),
        )
        .await?;
    }
    let (_, first) = commit(&db, &alpine_records(&[ZLIB])?).await?;
    let (_, second) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    let queue = memory_queue();
    let n = notifier(&db, queue.clone(), &[])?;
    queue
        .send_batch(&[diff_message(Some(first), second)])
        .await?;
    let set = planned_set(
        &pump(
            &n,
            &*queue,
            Duration::from_millis(200),
            Duration::from_secs(30),
        )
        .await?,
    );

    let psk = lucid::config::AuthConfig {
        key: b"0123456789abcdef0123456789abcdef".to_vec(),
        issuers: Vec::new(),
    };
    let api = lucid::api::Api::new(
        db.clone(),
        lucid::indexer::Indexer::new(
            db.clone(),
            Arc::new(lucid::blob::DirBlobStore::new(tempfile::tempdir()?.keep())),
        ),
        queue.clone(),
        Some(&psk),
    );
    let token = lucid::api::auth::sign(&psk, "test")?;
    let base = format!("/notifier/api/v1/notification/{set}");
    assert_eq!(call(&api, "GET", &base, None).await.0, 401);

    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let uri = match &next {
            Some(n) => format!("{base}?page_size=3&next={n}"),
            None => format!("{base}?page_size=3"),
        };
        let (status, page) = call(&api, "GET", &uri, Some(&token)).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        assert_eq!(page["page"]["size"], 3);
        for n in page["notifications"].as_array().unwrap() {
            ids.push(n["id"].as_str().unwrap().to_owned());
        }
        match page["page"].get("next").and_then(Value::as_str) {
            Some(n) => next = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (ids.len(), unique.len()),
        (7, 7),
        "pages neither repeat nor skip"
    );

    for (uri, code) in [
        (format!("{base}?page_size=0"), 400),
        (format!("{base}?next=nope"), 400),
        ("/notifier/api/v1/notification/nope".to_owned(), 400),
        (
            format!("/notifier/api/v1/notification/{}", Uuid::new_v4()),
            404,
        ),
    ] {
        let (status, body) = call(&api, "GET", &uri, Some(&token)).await;
        assert_eq!(status, code, "{uri}: {body}");
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    assert_eq!(call(&api, "PUT", &base, Some(&token)).await.0, 405);

    assert_eq!(call(&api, "DELETE", &base, Some(&token)).await.0, 200);
    assert_eq!(call(&api, "GET", &base, Some(&token)).await.0, 404);
    let maintenance = n.maintain(Duration::from_secs(60)).await?;
    assert_eq!(maintenance.gc.sets_deleted, 1);
    let left: i64 = db
        .client()
        .await?
        .query_one("SELECT count(*) FROM notification", &[])
        .await?
        .get(0);
    assert_eq!(left, 0);
    assert_eq!(call(&api, "DELETE", &base, Some(&token)).await.0, 404);
    Ok(())
}

#[tokio::test]
async fn the_in_process_worker_of_lucid_serve_notifies_and_delivers() -> Result<()> {
    let db = harness::database().await?;
    index_images(&db).await?;
    let queue = memory_queue();
    let receiver = Receiver::start().await?;
    let n = notifier(
        &db,
        queue.clone(),
        &[
            (
                "LUCID_SUBSCRIBERS",
                json!([{"target": receiver.url()}]).to_string(),
            ),
            ("LUCID_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ],
    )?
    .with_callback_url("http://127.0.0.1:6060/notifier/api/v1/notification/".to_owned());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(lucid::notifier::run_worker(
        n,
        queue.clone(),
        Duration::from_secs(300),
        stopped,
    ));
    let (_, first) = commit(&db, &alpine_records(&[ZLIB])?).await?;
    let (_, second) = commit(&db, &alpine_records(&[ZLIB, OPENSSL])?).await?;
    queue
        .send_batch(&[diff_message(Some(first), second), "not json".to_owned()])
        .await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while receiver.received().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    worker.await?;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let id = received[0].json()?["notification_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        received[0].json()?["callback"],
        format!("http://127.0.0.1:6060/notifier/api/v1/notification/{id}")
    );
    assert!(
        queue.is_empty(),
        "handled and malformed messages are deleted"
    );
    Ok(())
}
