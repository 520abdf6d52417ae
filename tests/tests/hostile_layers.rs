//! The hostile layer corpus (`harness::hostile`) through the real indexer function: the `lucid-indexer`
//! binary run as Lambda runs it (harness::lambda), layer blobs uploaded to the S3 emulator, the bucket's
//! notifications delivered from SQS one event at a time.
//!
//! Each hostile layer sits in a manifest after a good layer. For every case: the indexer never crashes or
//! times out; the layer is rejected with its reason stored on the layer (`layer_scan.status = 'failed'`,
//! `error`), or indexed safely (`..` paths not read, links not followed); the function's peak RSS while
//! handling that one layer stays under [`RSS_BOUND_MIB`]; the good layer's packages are stored; and a
//! manifest of good layers indexed after the whole corpus is complete.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use harness::hostile::{self, Case, Expect};
use harness::lambda::{FunctionConfig, LambdaFunction, function_binary, sqs_event};
use lucid::blob::{BlobKey, BlobStore, S3BlobStore};
use lucid::indexer::Indexer;
use lucid::model::{Digest, LayerRef, Manifest};

/// Peak resident set size allowed to the indexer function while it handles one hostile layer.
const RSS_BOUND_MIB: u64 = 256;

fn manifest_of(layers: &[&Digest]) -> Manifest {
    let refs: Vec<LayerRef> = layers
        .iter()
        .map(|d| LayerRef {
            hash: (*d).clone(),
            uri: String::new(),
            headers: Default::default(),
        })
        .collect();
    let mut id = Vec::new();
    for l in &refs {
        id.extend_from_slice(l.hash.to_string().as_bytes());
    }
    Manifest {
        hash: Digest::sha256_of(&id),
        layers: refs,
    }
}

/// `/proc/<pid>/status`'s `VmHWM` (peak RSS) in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmHWM missing")
}

/// Resets the peak RSS of `pid` to its current RSS (Linux: `5` into `/proc/<pid>/clear_refs`).
fn reset_peak_rss(pid: u32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
        .with_context(|| format!("resetting VmHWM of {pid}"))
}

struct Rig {
    indexer: Indexer,
    function: LambdaFunction,
    store: S3BlobStore,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    db: lucid::store::Database,
}

impl Rig {
    /// Uploads `blob` as the layer `digest` and hands the resulting notifications to the function.
    /// Returns the function's peak RSS (KiB) while it handled them and the time taken.
    async fn index(&mut self, digest: &Digest, blob: Vec<u8>) -> Result<(u64, Duration)> {
        self.store
            .put(&BlobKey::layer(digest), blob.into())
            .await
            .context("upload")?;
        let pid = self.function.pid().context("the indexer function exited")?;
        reset_peak_rss(pid)?;
        let t0 = Instant::now();
        let mut delivered = 0;
        while delivered == 0 {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(2)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if messages.is_empty() && t0.elapsed() > Duration::from_secs(30) {
                bail!("no notification for {digest}");
            }
            for m in messages {
                let body = m.body().unwrap_or_default();
                let names_layer = body.contains(digest.hex());
                let resp = self
                    .function
                    .call(sqs_event(&self.queue_arn, std::slice::from_ref(&m)))
                    .await?;
                ensure!(
                    resp["batchItemFailures"] == serde_json::json!([]),
                    "the indexer asked for a retry: {resp}"
                );
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
                if names_layer {
                    delivered += 1;
                }
            }
        }
        Ok((peak_rss_kib(pid)?, t0.elapsed()))
    }

    /// The stored scan of a layer: status and error.
    async fn layer_scan(&self, digest: &Digest) -> Result<(String, String)> {
        let client = self.db.client().await?;
        let row = client
            .query_one(
                "SELECT s.status, s.error FROM layer_scan s JOIN layer l ON l.id = s.layer_id \
                 WHERE l.digest = $1",
                &[&digest.to_string()],
            )
            .await
            .with_context(|| format!("layer_scan of {digest}"))?;
        Ok((row.get(0), row.get(1)))
    }

    async fn package_names(&self, manifest: &Manifest) -> Result<(String, String, Vec<String>)> {
        let report = self
            .indexer
            .index_report(&manifest.hash)
            .await?
            .context("no report")?;
        let mut names: Vec<String> = report.packages.values().map(|p| p.name.clone()).collect();
        names.sort();
        Ok((report.state, report.err, names))
    }
}

#[tokio::test]
async fn hostile_layers_are_rejected_or_indexed_safely_with_bounded_memory() -> Result<()> {
    let t_corpus = Instant::now();
    let corpus = hostile::corpus();
    let corpus_time = t_corpus.elapsed();

    let moto = harness::moto()?;
    let test_db = harness::fresh_database().await?;
    let db = lucid::store::Database::connect(&test_db.url, 4, Duration::from_secs(10)).await?;
    db.migrate().await?;
    let bucket = moto.bucket().await?;
    let queue_url = moto.queue(&[]).await?;
    let fetch_queue = moto.queue(&[]).await?;
    let notify_queue = moto.queue(&[]).await?;
    let queue_arn = moto
        .notify_on_create(&bucket, &queue_url, Some("layers/"))
        .await?;
    let logs = tempfile::tempdir()?;
    let function = LambdaFunction::start(
        FunctionConfig {
            name: "lucid-indexer".to_owned(),
            binary: function_binary("lucid-indexer")?,
            memory_mb: 1024,
            timeout: Duration::from_secs(600),
            env: [
                ("DATABASE_URL", test_db.url.clone()),
                ("LUCID_BUCKET", bucket.clone()),
                ("LUCID_FETCH_QUEUE_URL", fetch_queue),
                ("LUCID_NOTIFY_QUEUE_URL", notify_queue),
                ("LUCID_LOG", "warn".to_owned()),
                ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        },
        logs.path(),
    )
    .await?;
    let store = S3BlobStore::new(moto.s3(), bucket);
    let mut rig = Rig {
        indexer: Indexer::new(db.clone(), std::sync::Arc::new(store.clone())),
        function,
        store,
        sqs: moto.sqs(),
        queue_url,
        queue_arn,
        db,
    };

    // The good neighbour every hostile manifest starts with, indexed first.
    let good = hostile::good_layer("good-neighbour");
    let good_digest = Digest::sha256_of(&good);
    let manifests: Vec<Manifest> = corpus
        .iter()
        .map(|case| manifest_of(&[&good_digest, &case.digest]))
        .collect();
    for m in &manifests {
        rig.indexer.submit_manifest(m).await?;
    }
    rig.index(&good_digest, good).await?;

    let mut figures = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for (case, manifest) in corpus.iter().zip(&manifests) {
        let Case {
            name,
            blob,
            digest,
            expect,
        } = case;
        let blob_bytes = blob.len();
        let (peak_kib, took) = rig
            .index(digest, blob.clone())
            .await
            .with_context(|| format!("{name}: indexing"))?;
        let (status, error) = rig.layer_scan(digest).await?;
        let (state, err, names) = rig.package_names(manifest).await?;
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                problems.push(what);
            }
        };
        match expect {
            Expect::Rejected(reason) => {
                check(status == "failed", format!("layer {status}, not failed"));
                check(
                    error.contains(reason),
                    format!("reason {error:?}, expected {reason:?}"),
                );
                check(state == "IndexError", format!("manifest {state}"));
                check(
                    err.contains(&digest.to_string()),
                    format!("manifest error {err:?} does not name the layer"),
                );
            }
            Expect::Indexed { found, absent } => {
                check(status == "done", format!("layer {status}: {error}"));
                check(state == "IndexFinished", format!("manifest {state}: {err}"));
                for p in *found {
                    check(
                        names.iter().any(|n| n == p),
                        format!("{p} missing from {names:?}"),
                    );
                }
                for p in *absent {
                    check(
                        !names.iter().any(|n| n == p),
                        format!("{p} must not be read"),
                    );
                }
                // A hostile layer with a dpkg database of its own replaces the good layer's (the newest
                // package database wins); otherwise the good layer's package shows.
                check(
                    !found.is_empty() || names.iter().any(|n| n == "good-neighbour"),
                    format!("the good layer's package is missing: {names:?}"),
                );
            }
        }
        let peak_mib = peak_kib / 1024;
        check(peak_mib < RSS_BOUND_MIB, format!("peak RSS {peak_mib} MiB"));
        for p in problems {
            failures.push(format!("{name}: {p}"));
        }
        figures.push(format!(
            "{name:<34} {blob_bytes:>10} B  {:>7.2} s  peak RSS {peak_mib:>4} MiB  {}",
            took.as_secs_f64(),
            if status == "failed" {
                error
            } else {
                format!("indexed: {names:?}")
            }
        ));
    }

    println!(
        "hostile corpus: {} cases generated in {:.1} s; the indexer function (debug build) per case:",
        corpus.len(),
        corpus_time.as_secs_f64()
    );
    for f in &figures {
        println!("{f}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The good layer's packages were stored despite its hostile neighbours: a manifest of it alone is
    // complete at once; and a new manifest indexed after the corpus completes normally.
    let alone = manifest_of(&[&good_digest]);
    rig.indexer.submit_manifest(&alone).await?;
    let (state, err, names) = rig.package_names(&alone).await?;
    assert_eq!(state, "IndexFinished", "{err}");
    assert_eq!(names, vec!["good-neighbour".to_owned()]);
    let after = hostile::good_layer("indexed-after");
    let after_digest = Digest::sha256_of(&after);
    let other = manifest_of(&[&good_digest, &after_digest]);
    rig.indexer.submit_manifest(&other).await?;
    rig.index(&after_digest, after).await?;
    let (state, err, names) = rig.package_names(&other).await?;
    assert_eq!(state, "IndexFinished", "{err}");
    // Its dpkg database, the newer one, replaces the good layer's.
    assert_eq!(names, vec!["indexed-after".to_owned()]);

    let m = rig.function.measurements()?;
    println!(
        "indexer function: {} invocations, overall peak RSS {} MiB",
        m.invocations,
        m.peak_rss_kib / 1024
    );
    Ok(())
}
