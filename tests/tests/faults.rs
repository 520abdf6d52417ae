//! Faults (issue #10, item 4): PostgreSQL stopped (`pg_ctl stop -m immediate`) in the middle of a feed
//! update and in the middle of indexing, then restarted under the same connection pool; the S3/SQS emulator
//! answering throttling, server errors and connection resets through a fault-injecting proxy.
//!
//! The PostgreSQL tests own their cluster (the shared test server is never stopped). To stop the server at
//! an exact point rather than at a lucky moment, the test holds a table lock the writer needs next, waits
//! until `pg_stat_activity` shows the writer blocked on it inside its transaction, and stops the server
//! then; one case instead stops it while a large `COPY` streams.
//!
//! The webhook receiver being down is covered in `notifier.rs`
//! (`deliveries_survive_failures_and_an_outage_and_arrive_once_per_set`,
//! `a_hanging_receiver_times_out_and_ends_as_a_dead_letter`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use harness::faults::{
    Fault, FaultPlan, FaultProxy, OwnedCluster, connect_url, wait_for_blocked_statement,
};
use lucid::blob::{BlobKey, BlobStore, S3BlobStore};
use lucid::feeds::source::{FeedFormat, FeedSource, FetchOptions, Origin};
use lucid::feeds::store::{FeedStatus, FeedStore};
use lucid::feeds::updater::{FeedUpdater, SourceOutcome, UpdaterOptions, http_client};
use lucid::indexer::Indexer;
use lucid::model::{Digest, LayerRef, Manifest};
use lucid::queue::{Queue, SqsQueue};
use lucid::store::Database;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

const ECOSYSTEMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/ecosystems");
const UPDATER: &str = "alpine/v3.19/main";

fn testdata(rel: &str) -> Result<Vec<u8>> {
    std::fs::read(format!("{ECOSYSTEMS}/{rel}")).with_context(|| rel.to_owned())
}

/// A pool as the binaries build one (short connect timeout so a stopped server fails fast).
async fn migrated(url: &str) -> Result<Database> {
    let db = Database::connect(url, 4, Duration::from_secs(3)).await?;
    db.migrate().await?;
    Ok(db)
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL stopped mid-update

/// What a reader of the feed tables sees for the updater: the live operation, its record names, every
/// operation's count, and the feed status.
#[derive(Debug, Clone, PartialEq)]
struct FeedView {
    latest: Option<uuid::Uuid>,
    live_names: Vec<String>,
    operations: i64,
    status: Option<FeedStatus>,
}

async fn feed_view(db: &Database) -> Result<FeedView> {
    let store = FeedStore::new(db.clone());
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT v.name FROM vulnerability v
             JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
             JOIN latest_update_operation l ON l.uo_id = uv.uo_id
             WHERE l.updater = $1 ORDER BY v.name, v.package_name",
            &[&UPDATER],
        )
        .await?;
    let operations: i64 = client
        .query_one("SELECT count(*) FROM update_operation", &[])
        .await?
        .get(0);
    Ok(FeedView {
        latest: store.latest(UPDATER).await?.map(|o| o.reference),
        live_names: rows.iter().map(|r| r.get(0)).collect(),
        operations,
        status: store
            .feed_status()
            .await?
            .into_iter()
            .find(|s| s.source == UPDATER),
    })
}

/// An Alpine secdb document of `packages` synthetic packages with `per_package` CVEs each.
fn synthetic_secdb(packages: usize, per_package: usize) -> Vec<u8> {
    let packages: Vec<Value> = (0..packages)
        .map(|p| {
            let cves: Vec<String> = (0..per_package)
                .map(|c| format!("CVE-2099-{:07}", p * per_package + c))
                .collect();
            json!({ "pkg": { "name": format!("synthetic-{p}"), "secfixes": { "1.0-r1": cves } } })
        })
        .collect();
    json!({
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
        "archs": ["x86_64"],
        "reponame": "main",
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "distroversion": "v3.19",
        "packages": packages,
    })
    .to_string()
    .into_bytes()
}

fn feed_updater(db: &Database) -> Result<FeedUpdater> {
    Ok(FeedUpdater::new(
        FeedStore::new(db.clone()),
        http_client()?,
        None,
        UpdaterOptions {
            fetch: FetchOptions {
                retries: 1,
                backoff: Duration::from_millis(20),
                ..FetchOptions::default()
            },
            keep_operations: 5,
        },
    ))
}

async fn source_serving(body: Vec<u8>) -> Result<FeedSource> {
    Ok(FeedSource {
        name: UPDATER.to_owned(),
        origin: Origin::Url(format!(
            "{}/v3.19/main.json",
            harness::blob_server(body).await?
        )),
        format: FeedFormat::AlpineSecdb,
    })
}

/// Asserts a run failed because the database went away, and names the step.
fn assert_failed_on_the_database(outcome: &SourceOutcome) {
    let SourceOutcome::Failed(reason) = outcome else {
        panic!("the run should fail while the database is down: {outcome:?}");
    };
    assert!(
        reason.starts_with(&format!("storing {UPDATER}: database")),
        "{reason}"
    );
}

/// After the restart: the same pool serves again, and readers see exactly the state before the run: the
/// same live operation and records, no extra operation, and a feed status whose success fields
/// (fingerprint, record count, last success) are the previous run's, with the failed attempt newer.
async fn assert_nothing_partial_is_visible(db: &Database, before: &FeedView) -> Result<()> {
    let after = feed_view(db).await?;
    assert_eq!(after.latest, before.latest);
    assert_eq!(after.live_names, before.live_names);
    assert_eq!(after.operations, before.operations);
    let (Some(was), Some(now)) = (&before.status, &after.status) else {
        bail!("feed_status rows missing: {before:?} {after:?}");
    };
    assert_eq!(
        now.fingerprint, was.fingerprint,
        "the next run re-downloads"
    );
    assert_eq!(now.record_count, was.record_count);
    assert_eq!(now.last_success, was.last_success);
    assert!(
        now.last_attempt > was.last_attempt,
        "the interrupted attempt is recorded: {now:?}"
    );
    Ok(())
}

#[tokio::test]
async fn postgres_stopped_mid_update_leaves_the_previous_operation_and_a_retry_completes()
-> Result<()> {
    let cluster = OwnedCluster::start()?;
    let url = cluster.fresh_database().await?;
    let db = migrated(&url).await?;
    let updater = feed_updater(&db)?;

    // The first load: Alpine's real v3.19 main secdb.
    let real = testdata("alpine/testdata/v3.19-main.json")?;
    let first = updater
        .run_source(&source_serving(real.clone()).await?)
        .await;
    assert!(
        matches!(first.outcome, SourceOutcome::Updated(_)),
        "{first:?}"
    );
    let before = feed_view(&db).await?;
    assert_eq!(before.operations, 1);
    assert!(
        before.live_names.len() > 2000,
        "{}",
        before.live_names.len()
    );

    // A changed feed (one package dropped). The test holds an EXCLUSIVE lock on latest_update_operation, so
    // the commit blocks on its last statement, the switch of the live pointer, with the new records, the
    // operation and its links already written inside its transaction. The server stops there.
    let mut changed: Value = serde_json::from_slice(&real)?;
    changed["packages"]
        .as_array_mut()
        .context("packages")?
        .remove(0);
    let changed_source = source_serving(serde_json::to_vec(&changed)?).await?;
    let holder = connect_url(&url).await?;
    holder
        .batch_execute("BEGIN; LOCK TABLE latest_update_operation IN EXCLUSIVE MODE")
        .await?;
    let watcher = connect_url(&url).await?;
    let run = {
        let updater = feed_updater(&db)?;
        let source = changed_source.clone();
        tokio::spawn(async move { updater.run_source(&source).await })
    };
    wait_for_blocked_statement(
        &watcher,
        "INSERT INTO latest_update_operation",
        Duration::from_secs(60),
    )
    .await?;
    // Even before the crash, other sessions see none of the blocked transaction's rows.
    let visible: i64 = watcher
        .query_one("SELECT count(*) FROM update_operation", &[])
        .await?
        .get(0);
    assert_eq!(visible, 1);
    cluster.stop_immediately()?;
    let interrupted = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the run hangs after the database stopped")??;
    assert_failed_on_the_database(&interrupted.outcome);
    drop((holder, watcher));

    cluster.restart()?;
    assert_nothing_partial_is_visible(&db, &before).await?;

    // The retry, on the same pool and updater: the full changed feed goes live.
    let retry = updater.run_source(&changed_source).await;
    let SourceOutcome::Updated(committed) = &retry.outcome else {
        panic!("{retry:?}");
    };
    assert_eq!(committed[0].removed, 3, "aom's three CVEs are gone");
    let after_retry = feed_view(&db).await?;
    assert_eq!(after_retry.operations, 2);
    assert_eq!(after_retry.live_names.len(), before.live_names.len() - 3);
    let status = after_retry.status.context("status")?;
    assert!(status.last_error.is_empty(), "{status:?}");
    assert_ne!(
        status.fingerprint,
        before.status.context("status")?.fingerprint
    );

    // A large feed (60,000 records), with the server stopped while its COPY streams into the transaction.
    let large = source_serving(synthetic_secdb(6_000, 10)).await?;
    let before_large = feed_view(&db).await?;
    let watcher = connect_url(&url).await?;
    let run = {
        let updater = feed_updater(&db)?;
        let source = large.clone();
        tokio::spawn(async move { updater.run_source(&source).await })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copying: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE state = 'active' AND query LIKE 'COPY incoming%'",
                &[],
            )
            .await?
            .get(0);
        if copying > 0 {
            break;
        }
        if run.is_finished() || Instant::now() > deadline {
            bail!("the COPY was not seen running");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    cluster.stop_immediately()?;
    let interrupted = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .context("the run hangs after the database stopped")??;
    assert_failed_on_the_database(&interrupted.outcome);
    drop(watcher);
    cluster.restart()?;
    assert_nothing_partial_is_visible(&db, &before_large).await?;

    let retry = updater.run_source(&large).await;
    assert!(
        matches!(retry.outcome, SourceOutcome::Updated(_)),
        "{retry:?}"
    );
    let done = feed_view(&db).await?;
    assert_eq!(done.live_names.len(), 60_000);
    assert_eq!(done.operations, 3);
    assert!(done.status.context("status")?.last_error.is_empty());
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL stopped mid-index

fn tar_of(files: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, data.as_slice())?;
    }
    Ok(builder.into_inner()?)
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// Two layers: Debian bookworm's real os-release and dpkg database (gzip), then a Python package (zstd).
fn image_layers() -> Result<(Vec<Vec<u8>>, Manifest)> {
    let base = gzip(&tar_of(&[
        (
            "etc/os-release",
            testdata("distribution/testdata/debian-12.os-release")?,
        ),
        (
            "var/lib/dpkg/status",
            testdata("dpkg/testdata/bookworm-minbase-status")?,
        ),
    ])?)?;
    let apps = zstd::encode_all(
        tar_of(&[(
            "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
            testdata("python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA")?,
        )])?
        .as_slice(),
        3,
    )?;
    let layers = vec![base, apps];
    let refs: Vec<LayerRef> = layers
        .iter()
        .map(|b| LayerRef {
            hash: Digest::sha256_of(b),
            uri: String::new(),
            headers: Default::default(),
        })
        .collect();
    let manifest = Manifest {
        hash: Digest::sha256_of(b"faults test image"),
        layers: refs,
    };
    Ok((layers, manifest))
}

/// An indexer on `db` reading an emulator bucket whose notifications go to a queue.
struct IndexStack {
    db: Database,
    indexer: Indexer,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl IndexStack {
    async fn new(url: &str, layers: &[Vec<u8>], manifest: &Manifest) -> Result<IndexStack> {
        let moto = harness::moto()?;
        let db = migrated(url).await?;
        let bucket = moto.bucket().await?;
        let queue_url = moto.queue(&[]).await?;
        moto.notify_on_create(&bucket, &queue_url, None).await?;
        let store = Arc::new(S3BlobStore::new(moto.s3(), bucket));
        let indexer = Indexer::new(db.clone(), store.clone());
        indexer.submit_manifest(manifest).await?;
        for blob in layers {
            store
                .put(
                    &BlobKey::layer(&Digest::sha256_of(blob)),
                    blob.clone().into(),
                )
                .await?;
        }
        Ok(IndexStack {
            db,
            indexer,
            queue_url,
            sqs: moto.sqs(),
        })
    }

    /// The pending S3 notifications as the records of one Lambda SQS event (S3's test event dropped).
    async fn event(&self) -> Result<Value> {
        let mut records = Vec::new();
        loop {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let body = m.body.clone().unwrap_or_default();
                if !body.contains("s3:TestEvent") {
                    records.push(json!({
                        "messageId": m.message_id.clone().unwrap_or_default(),
                        "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                        "body": body,
                        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764331200000",
                                       "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                                       "ApproximateFirstReceiveTimestamp": "1764331200001"},
                        "messageAttributes": {},
                        "md5OfBody": m.md5_of_body.clone().unwrap_or_default(),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lucid-index",
                        "awsRegion": "us-east-1"
                    }));
                }
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap_or_default())
                    .send()
                    .await?;
            }
        }
        if records.len() < 2 {
            bail!("expected a notification per layer, got {records:?}");
        }
        Ok(json!({ "Records": records }))
    }

    /// The indexer's tables as what they say: row counts, each layer's scan status and package count, the
    /// manifest's state, and the report's packages.
    async fn state(&self, manifest: &Manifest) -> Result<Value> {
        let client = self.db.client().await?;
        let mut counts = serde_json::Map::new();
        for table in [
            "layer_scan",
            "package",
            "layer_package",
            "distribution",
            "layer_distribution",
            "index_report",
            "manifest_package",
        ] {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            counts.insert(table.to_owned(), json!(n));
        }
        let mut layers = Vec::new();
        for layer in &manifest.layers {
            let row = client
                .query_one(
                    "SELECT (SELECT s.status FROM layer_scan s WHERE s.layer_id = l.id),
                            (SELECT count(*) FROM layer_package p WHERE p.layer_id = l.id)
                     FROM layer l WHERE l.digest = $1",
                    &[&layer.hash.to_string()],
                )
                .await?;
            layers.push(json!([
                row.get::<_, Option<String>>(0),
                row.get::<_, i64>(1)
            ]));
        }
        let report = self.indexer.index_report(&manifest.hash).await?;
        let mut packages: Vec<(String, String, String)> = report
            .iter()
            .flat_map(|r| r.packages.values())
            .map(|p| (p.ecosystem.clone(), p.name.clone(), p.version.clone()))
            .collect();
        packages.sort();
        Ok(json!({
            "counts": counts,
            "layers": layers,
            "state": report.as_ref().map(|r| r.state.clone()),
            "packages": packages,
        }))
    }
}

/// Delivers `event` while the test holds `lock_table` EXCLUSIVE, stops the server once the indexer blocks
/// on `statement`, and checks the delivery ends (every message listed for redelivery) instead of hanging.
async fn deliver_and_stop_at(
    cluster: &OwnedCluster,
    url: &str,
    stack: &IndexStack,
    event: &Value,
    lock_table: &str,
    statement: &str,
) -> Result<()> {
    let holder = connect_url(url).await?;
    holder
        .batch_execute(&format!("BEGIN; LOCK TABLE {lock_table} IN EXCLUSIVE MODE"))
        .await?;
    let watcher = connect_url(url).await?;
    let delivery = {
        let indexer = stack.indexer.clone();
        let event = event.clone();
        tokio::spawn(async move { indexer.handle_event(&event).await })
    };
    wait_for_blocked_statement(&watcher, statement, Duration::from_secs(60)).await?;
    cluster.stop_immediately()?;
    let response = tokio::time::timeout(Duration::from_secs(60), delivery)
        .await
        .context("the delivery hangs after the database stopped")???;
    let failures = response["batchItemFailures"]
        .as_array()
        .context("batchItemFailures")?;
    assert!(
        !failures.is_empty(),
        "the interrupted message is retried: {response}"
    );
    drop((holder, watcher));
    cluster.restart()?;
    Ok(())
}

#[tokio::test]
async fn postgres_stopped_mid_index_leaves_no_half_written_layer_and_redelivery_completes()
-> Result<()> {
    let (layers, manifest) = image_layers()?;
    let cluster = OwnedCluster::start()?;

    // The state an undisturbed delivery leaves.
    let undisturbed = IndexStack::new(&cluster.fresh_database().await?, &layers, &manifest).await?;
    let response = undisturbed
        .indexer
        .handle_event(&undisturbed.event().await?)
        .await?;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    let expected = undisturbed.state(&manifest).await?;
    assert_eq!(expected["state"], "IndexFinished", "{expected}");
    assert_eq!(expected["layers"], json!([["done", 88], ["done", 1]]));

    // 1. Stopped while the base layer's contents are stored: its packages are written inside the
    //    transaction, the insert of its distribution waits on the test's lock.
    let url = cluster.fresh_database().await?;
    let stack = IndexStack::new(&url, &layers, &manifest).await?;
    let event = stack.event().await?;
    deliver_and_stop_at(
        &cluster,
        &url,
        &stack,
        &event,
        "distribution",
        "INSERT INTO distribution",
    )
    .await?;
    let after_crash = stack.state(&manifest).await?;
    assert_eq!(
        after_crash["layers"][0][1], 0,
        "no package of the interrupted layer is visible: {after_crash}"
    );
    assert_ne!(after_crash["layers"][0][0], "done", "{after_crash}");
    assert_eq!(after_crash["counts"]["index_report"], 0, "{after_crash}");
    assert_eq!(
        after_crash["counts"]["manifest_package"], 0,
        "{after_crash}"
    );
    assert_ne!(after_crash["state"], "IndexFinished", "{after_crash}");
    // Redelivery (the same messages, on the same pool) completes it.
    let response = stack.indexer.handle_event(&event).await?;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(stack.state(&manifest).await?, expected);

    // 2. Stopped while the manifest is completed: both layers are stored, the report is written and the
    //    manifest marked finished inside the transaction, the reverse index waits on the test's lock.
    let url = cluster.fresh_database().await?;
    let stack = IndexStack::new(&url, &layers, &manifest).await?;
    let event = stack.event().await?;
    deliver_and_stop_at(
        &cluster,
        &url,
        &stack,
        &event,
        "manifest_package",
        "DELETE FROM manifest_package",
    )
    .await?;
    let after_crash = stack.state(&manifest).await?;
    assert_eq!(
        after_crash["layers"],
        json!([["done", 88], ["done", 1]]),
        "each layer is either done with all its packages or absent: {after_crash}"
    );
    assert_eq!(after_crash["counts"]["index_report"], 0, "{after_crash}");
    assert_eq!(
        after_crash["counts"]["manifest_package"], 0,
        "{after_crash}"
    );
    assert_ne!(
        after_crash["state"], "IndexFinished",
        "the manifest is not marked complete: {after_crash}"
    );
    let response = stack.indexer.handle_event(&event).await?;
    assert_eq!(response["batchItemFailures"], json!([]), "{response}");
    assert_eq!(stack.state(&manifest).await?, expected);
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// S3 and SQS errors, throttling and dropped connections

/// SDK configuration for the emulator reached through `proxy`, with Lucid's call policy (shortened waits).
fn through(proxy: &FaultProxy, policy: &lucid::aws::AwsCallPolicy) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&proxy.endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("test", "test", None, None, "lucid-faults"),
        ))
        .retry_config(policy.retry_config())
        .timeout_config(policy.timeout_config())
        .build()
}

/// A short policy for tests: the production backoff shape, with waits in tens of milliseconds.
fn quick_policy(max_attempts: u32) -> lucid::aws::AwsCallPolicy {
    lucid::aws::AwsCallPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
    }
}

async fn read_all(store: &S3BlobStore, key: &BlobKey) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    store.get(key).await?.read_to_end(&mut body).await?;
    Ok(body)
}

/// Deterministic pseudo-random bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[tokio::test]
async fn s3_and_sqs_calls_are_retried_through_throttling_errors_and_resets() -> Result<()> {
    let moto = harness::moto()?;
    let bucket = moto.bucket().await?;
    let queue_url = moto.queue(&[]).await?;
    let proxy = FaultProxy::start(&moto.endpoint).await?;
    let sdk = through(&proxy, &quick_policy(5));
    let store = S3BlobStore::new(lucid::aws::s3_client(&sdk, true), &bucket);
    let queue = SqsQueue::new(lucid::aws::sqs_client(&sdk), &queue_url);

    // Half of all requests fail, in turn with 503 SlowDown, 500 InternalError and a connection reset.
    proxy.set_plan(FaultPlan {
        share: 0.5,
        faults: vec![Fault::SlowDown, Fault::InternalError, Fault::Reset],
    });
    let small = noise(64 * 1024, 1);
    let large = noise(20 * 1024 * 1024, 2); // three multipart parts
    let small_key = BlobKey::new("faults/small")?;
    let large_key = BlobKey::new("faults/large")?;
    store.put(&small_key, small.clone().into()).await?;
    let written = store
        .put_stream(&large_key, Box::pin(std::io::Cursor::new(large.clone())))
        .await?;
    assert_eq!(written, large.len() as u64);
    assert_eq!(read_all(&store, &small_key).await?, small);
    assert_eq!(read_all(&store, &large_key).await?, large);
    assert_eq!(store.size(&large_key).await?, Some(large.len() as u64));
    store.delete(&small_key).await?;
    assert_eq!(store.size(&small_key).await?, None);

    let bodies: Vec<String> = (0..5).map(|i| format!("message {i}")).collect();
    queue.send_batch(&bodies).await?;
    let mut received = Vec::new();
    for _ in 0..20 {
        let batch = queue.receive(10, Duration::ZERO, None).await?;
        if !batch.is_empty() {
            queue
                .delete_batch(&batch.iter().map(|m| m.receipt.clone()).collect::<Vec<_>>())
                .await?;
            received.extend(batch.into_iter().map(|m| m.body));
        }
        if received.len() == bodies.len() {
            break;
        }
    }
    received.sort();
    assert_eq!(received, bodies);

    let seen = proxy.seen();
    let faulted = seen.iter().filter(|r| r.fault.is_some()).count();
    for fault in [Fault::SlowDown, Fault::InternalError, Fault::Reset] {
        assert!(
            seen.iter().any(|r| r.fault == Some(fault)),
            "{fault:?} was injected"
        );
    }
    assert!(faulted * 2 >= seen.len() - 1, "{faulted} of {}", seen.len());
    assert!(
        seen.len() >= 20,
        "every call went through the proxy: {}",
        seen.len()
    );

    // Never an answer: each attempt times out (the 1 s read timeout), the call gives up after its attempts.
    proxy.set_plan(FaultPlan::always(Fault::Stall));
    proxy.clear_seen();
    let started = Instant::now();
    let stalled = store.put(&small_key, small.clone().into()).await;
    let elapsed = started.elapsed();
    let error = stalled.expect_err("a stalled S3 fails").to_string();
    assert!(error.contains("faults/small"), "{error}");
    assert!(elapsed < Duration::from_secs(15), "bounded: {elapsed:?}");
    assert_eq!(proxy.seen().len(), 5, "five attempts");
    Ok(())
}

#[tokio::test]
async fn persistent_s3_failures_end_in_a_clear_error_after_the_configured_attempts() -> Result<()> {
    let moto = harness::moto()?;
    let bucket = moto.bucket().await?;
    let proxy = FaultProxy::start(&moto.endpoint).await?;
    let store = S3BlobStore::new(
        lucid::aws::s3_client(&through(&proxy, &quick_policy(4)), true),
        &bucket,
    );
    let key = BlobKey::new("faults/persistent")?;
    for (fault, expected) in [
        (Fault::SlowDown, "SlowDown"),
        (Fault::InternalError, "InternalError"),
        (Fault::Reset, "dispatch failure"),
    ] {
        proxy.set_plan(FaultPlan::always(fault));
        proxy.clear_seen();
        let started = Instant::now();
        let result = store.put(&key, bytes::Bytes::from_static(b"x")).await;
        let error = result.expect_err("every attempt fails").to_string();
        assert!(
            error.contains("faults/persistent") && error.contains(expected),
            "{fault:?}: {error}"
        );
        let attempts = proxy.seen();
        assert_eq!(attempts.len(), 4, "{fault:?}: the configured attempts");
        // Backoff: the attempts are spread out, not fired back to back.
        let spread = attempts[attempts.len() - 1].at - attempts[0].at;
        let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].at - w[0].at).collect();
        eprintln!("{fault:?}: {} attempts, gaps {gaps:?}", attempts.len());
        assert!(spread > Duration::from_millis(5), "{fault:?}: {spread:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{fault:?}");
    }
    // The same store works again once the emulator answers.
    proxy.set_plan(FaultPlan::none());
    store.put(&key, bytes::Bytes::from_static(b"x")).await?;
    assert_eq!(read_all(&store, &key).await?, b"x");
    Ok(())
}
