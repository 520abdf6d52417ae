//! End to end: layer blobs of a multi-layer image uploaded to the S3 emulator, the bucket's notifications
//! delivered through real SQS, the SQS event handed to the indexer as Lambda would, and the IndexReport read
//! back from PostgreSQL and checked package by package.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use lucid::blob::{BlobKey, BlobStore, S3BlobStore};
use lucid::indexer::Indexer;
use lucid::model::{Digest, IndexState, LayerRef, Manifest};
use serde_json::{Value, json};

const ECOSYSTEMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/ecosystems");

fn testdata(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{ECOSYSTEMS}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A tar of (path, contents) regular files; a `None` content makes an empty whiteout marker.
fn tar_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd_of(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn manifest_of(layers: &[&[u8]]) -> Manifest {
    let refs: Vec<LayerRef> = layers
        .iter()
        .map(|b| LayerRef {
            hash: Digest::sha256_of(b),
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

struct Stack {
    db: lucid::store::Database,
    indexer: Indexer,
    store: Arc<S3BlobStore>,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

async fn stack() -> Result<Stack> {
    let moto = harness::moto()?;
    let db = harness::database().await?;
    let bucket = moto.bucket().await?;
    let queue_url = moto.queue(&[]).await?;
    let sqs = moto.sqs();
    moto.notify_on_create(&bucket, &queue_url, None).await?;
    let store = Arc::new(S3BlobStore::new(moto.s3(), bucket));
    let indexer = Indexer::new(db.clone(), store.clone());
    Ok(Stack {
        db,
        indexer,
        store,
        queue_url,
        sqs,
    })
}

impl Stack {
    /// Receives every pending notification and hands them to the indexer as one Lambda SQS event.
    async fn deliver(&self) -> Result<Value> {
        let records = self.receive_records().await?;
        Ok(self
            .indexer
            .handle_event(&json!({ "Records": records }))
            .await?)
    }

    /// Receives every pending notification as the records of a Lambda SQS event, without handling them.
    async fn receive_records(&self) -> Result<Vec<Value>> {
        let mut records = Vec::new();
        loop {
            let msgs = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if msgs.is_empty() {
                return Ok(records);
            }
            for m in msgs {
                records.push(json!({
                    "messageId": m.message_id.clone().unwrap_or_default(),
                    "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                    "body": m.body.clone().unwrap_or_default(),
                    // The record shape the Lambda SQS event source delivers.
                    "attributes": {
                        "ApproximateReceiveCount": "1",
                        "SentTimestamp": "1764331200000",
                        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                        "ApproximateFirstReceiveTimestamp": "1764331200001"
                    },
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body.clone().unwrap_or_default(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lucid-index",
                    "awsRegion": "us-east-1"
                }));
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle.unwrap_or_default())
                    .send()
                    .await?;
            }
        }
    }

    /// The indexer's tables, as what they say rather than their row ids: row counts, and the finished
    /// report's packages, distributions and layers of introduction.
    async fn state(&self, manifest: &Manifest) -> Result<Value> {
        let client = self.db.client().await?;
        let mut counts = serde_json::Map::new();
        for table in [
            "manifest",
            "layer",
            "manifest_layer",
            "layer_scan",
            "package",
            "layer_package",
            "distribution",
            "layer_distribution",
            "repository",
            "layer_repository",
            "layer_whiteout",
            "index_report",
            "manifest_package",
        ] {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                .await?
                .get(0);
            counts.insert(table.to_owned(), json!(n));
        }
        let report = self
            .indexer
            .index_report(&manifest.hash)
            .await?
            .context("no report")?;
        let mut packages: Vec<(String, String, String, String)> = report
            .packages
            .values()
            .map(|p| {
                let introduced = report
                    .environments
                    .get(&p.id)
                    .and_then(|e| e.first())
                    .map(|e| e.introduced_in.clone())
                    .unwrap_or_default();
                (
                    p.ecosystem.clone(),
                    p.name.clone(),
                    p.version.clone(),
                    introduced,
                )
            })
            .collect();
        packages.sort();
        let distributions: Vec<(String, String)> = report
            .distributions
            .values()
            .map(|d| (d.did.clone(), d.version_id.clone()))
            .collect();
        Ok(json!({
            "counts": counts,
            "state": report.state,
            "success": report.success,
            "packages": packages,
            "distributions": distributions,
        }))
    }

    async fn upload(&self, blob: &[u8]) -> Result<()> {
        self.store
            .put(
                &BlobKey::layer(&Digest::sha256_of(blob)),
                blob.to_vec().into(),
            )
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn multi_layer_image_is_indexed_package_by_package() -> Result<()> {
    let s = stack().await?;
    // Base: Debian bookworm's real dpkg database and os-release (gzip).
    let base = gzip(&tar_of(&[
        (
            "etc/os-release",
            testdata("distribution/testdata/debian-12.os-release"),
        ),
        (
            "var/lib/dpkg/status",
            testdata("dpkg/testdata/bookworm-minbase-status"),
        ),
    ]));
    // Then language packages (zstd): a wheel's METADATA and an npm package.
    let apps = zstd_of(&tar_of(&[
        (
            "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
            testdata("python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA"),
        ),
        (
            "app/node_modules/lodash/package.json",
            testdata("npm/testdata/scanner/node_modules/lodash/package.json"),
        ),
    ]));
    // Then a layer that deletes the npm package (whiteout), uncompressed.
    let cleanup = tar_of(&[("app/node_modules/.wh.lodash", Vec::new())]);
    let manifest = manifest_of(&[&base, &apps, &cleanup]);

    let reg = s.indexer.submit_manifest(&manifest).await?;
    assert_eq!(reg.state, IndexState::FetchLayers);
    assert_eq!(reg.layers_to_scan.len(), 3);
    for blob in [&base, &apps, &cleanup] {
        s.upload(blob).await?;
    }
    let resp = s.deliver().await?;
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");

    let report = s
        .indexer
        .index_report(&manifest.hash)
        .await?
        .context("no report")?;
    assert_eq!(report.state, "IndexFinished", "{}", report.err);
    assert!(report.success);
    let dist = report
        .distributions
        .values()
        .next()
        .context("no distribution")?;
    assert_eq!(dist.did, "debian");
    assert_eq!(dist.version_id, "12");

    let find = |name: &str| report.packages.values().find(|p| p.name == name);
    let libc = find("libc6").context("libc6 missing")?;
    assert_eq!(libc.version, "2.36-9+deb12u14");
    assert_eq!(libc.source.as_ref().map(|s| s.name.as_str()), Some("glibc"));
    let dpkg_count = report
        .packages
        .values()
        .filter(|p| p.ecosystem == "dpkg")
        .count();
    assert_eq!(dpkg_count, 88);
    let pyyaml = report
        .packages
        .values()
        .find(|p| p.ecosystem == "pypi")
        .context("PyYAML missing")?;
    assert_eq!(pyyaml.version, "6.0.4");
    assert!(find("lodash").is_none(), "lodash was whited out");

    // Each package records the layer that introduced it.
    let libc_env = &report.environments[&libc.id][0];
    assert_eq!(libc_env.introduced_in, manifest.layers[0].hash.to_string());
    assert_eq!(libc_env.package_db, "var/lib/dpkg/status");
    let py_env = &report.environments[&pyyaml.id][0];
    assert_eq!(py_env.introduced_in, manifest.layers[1].hash.to_string());

    // A second image sharing the base layer finishes without re-reading it.
    let other = manifest_of(&[&base]);
    let reg = s.indexer.submit_manifest(&other).await?;
    assert_eq!(reg.state, IndexState::IndexFinished);
    assert!(reg.layers_to_scan.is_empty());

    // Duplicate delivery of the same notifications changes nothing.
    for blob in [&base] {
        s.upload(blob).await?;
    }
    let resp = s.deliver().await?;
    assert_eq!(resp["batchItemFailures"], json!([]));
    let again = s
        .indexer
        .index_report(&manifest.hash)
        .await?
        .context("report")?;
    assert_eq!(again.packages.len(), report.packages.len());
    Ok(())
}

#[tokio::test]
async fn a_corrupt_layer_fails_its_manifest_only() -> Result<()> {
    let s = stack().await?;
    let good = gzip(&tar_of(&[(
        "etc/os-release",
        testdata("distribution/testdata/debian-12.os-release"),
    )]));
    let mut corrupt = gzip(&tar_of(&[(
        "var/lib/dpkg/status",
        testdata("dpkg/testdata/bookworm-minbase-status"),
    )]));
    corrupt.truncate(corrupt.len() / 2);
    let bad_manifest = manifest_of(&[&good, &corrupt]);
    let good_manifest = manifest_of(&[&good]);
    s.indexer.submit_manifest(&bad_manifest).await?;
    s.indexer.submit_manifest(&good_manifest).await?;
    s.upload(&good).await?;
    s.upload(&corrupt).await?;
    let resp = s.deliver().await?;
    // A corrupt layer is not worth retrying: no batch item failure.
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");

    let bad = s
        .indexer
        .index_report(&bad_manifest.hash)
        .await?
        .context("report")?;
    assert_eq!(bad.state, "IndexError");
    assert!(!bad.success);
    assert!(
        bad.err
            .contains(&manifest_of(&[&corrupt]).layers[0].hash.to_string()),
        "{}",
        bad.err
    );
    assert!(bad.err.contains("truncated"), "{}", bad.err);
    let good = s
        .indexer
        .index_report(&good_manifest.hash)
        .await?
        .context("report")?;
    assert_eq!(good.state, "IndexFinished");
    Ok(())
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_digest_fails_with_that_reason() -> Result<()> {
    let s = stack().await?;
    let real = gzip(&tar_of(&[("etc/hostname", b"x\n".to_vec())]));
    let manifest = manifest_of(&[&real]);
    s.indexer.submit_manifest(&manifest).await?;
    // Upload different bytes under the layer's key.
    let other = gzip(&tar_of(&[("etc/hostname", b"y\n".to_vec())]));
    s.store
        .put(&BlobKey::layer(&manifest.layers[0].hash), other.into())
        .await?;
    s.deliver().await?;
    let report = s
        .indexer
        .index_report(&manifest.hash)
        .await?
        .context("report")?;
    assert_eq!(report.state, "IndexError");
    assert!(report.err.contains("digest mismatch"), "{}", report.err);
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}

/// Messages that are not S3 notifications, or name objects that are not layers, are dropped (retrying the
/// same bytes cannot help) without failing the batch; S3's test event is ignored.
#[tokio::test]
async fn malformed_messages_are_dropped_not_retried() -> Result<()> {
    let s = stack().await?;
    let record = |id: &str, body: &str| {
        json!({"messageId": id, "receiptHandle": "r", "body": body, "attributes": {},
               "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lucid-index", "awsRegion": "us-east-1"})
    };
    let event = json!({"Records": [
        record("1", "not json at all"),
        record("2", r#"{"Records": "not an array"}"#),
        record("3", r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#),
        record("4", r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"other/readme.txt"}}}]}"#),
        record("5", r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"layers/sha256%3Anothex"}}}]}"#),
    ]});
    let resp = s.indexer.handle_event(&event).await?;
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    Ok(())
}

/// Real image layouts through the deployed path: the blobs of an OCI layout (directory) and of a Docker 25+
/// docker-save archive (gzip, zstd and plain layers, a whiteout) are uploaded to S3 as a registry or CI job
/// would, the bucket's notifications are handed to the indexer handler, and the report is read back.
#[tokio::test]
async fn oci_layout_and_docker_save_blobs_index_through_s3_events() -> Result<()> {
    use std::io::Read;
    let (_scratch, dir) = harness::images::scratch()?;
    let layers = harness::images::debian_layers()?;
    let layout = dir.join("oci");
    harness::images::oci_layout(&layout, &layers)?;
    let archive = dir.join("docker-save.tar");
    harness::images::docker_save_oci(&archive, &layers, "example/debian:12")?;

    for path in [layout, archive] {
        let s = stack().await?;
        let lucid::image::ScanTarget::Image(image) =
            lucid::image::open(&path, &lucid::image::OpenOptions::default())?
        else {
            anyhow::bail!("{} opened as a root filesystem", path.display());
        };
        let registration = s.indexer.submit_manifest(&image.manifest).await?;
        assert_eq!(registration.layers_to_scan.len(), 3, "{}", path.display());
        for layer in &image.layers {
            let mut blob = Vec::new();
            image.open_layer(layer)?.read_to_end(&mut blob)?;
            s.upload(&blob).await?;
        }
        let response = s.deliver().await?;
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
        let report = s
            .indexer
            .index_report(&image.manifest.hash)
            .await?
            .context("report")?;
        assert_eq!(report.state, "IndexFinished", "{}", path.display());
        let names: Vec<(&str, &str)> = report
            .packages
            .values()
            .map(|p| (p.ecosystem.as_str(), p.name.as_str()))
            .collect();
        let dpkg = names.iter().filter(|(e, _)| *e == "dpkg").count();
        assert_eq!(dpkg, 88, "{}", path.display());
        let python: Vec<&str> = names
            .iter()
            .filter(|(e, _)| *e == "pypi")
            .map(|(_, n)| *n)
            .collect();
        assert!(
            python.contains(&"requests")
                && python.contains(&"urllib3")
                && python.contains(&"django")
        );
        assert!(
            !python.contains(&"pyyaml"),
            "the whiteout removes PyYAML: {python:?}"
        );
    }
    Ok(())
}

/// S3 notifications are at-least-once and unordered: every one delivered three times, out of order, some
/// one per invocation and some in one batch, leaves exactly the database state a single in-order delivery
/// does.
#[tokio::test]
async fn events_delivered_three_times_out_of_order_give_the_same_state() -> Result<()> {
    let base = gzip(&tar_of(&[
        (
            "etc/os-release",
            testdata("distribution/testdata/debian-12.os-release"),
        ),
        (
            "var/lib/dpkg/status",
            testdata("dpkg/testdata/bookworm-minbase-status"),
        ),
    ]));
    let apps = zstd_of(&tar_of(&[(
        "usr/lib/python3/dist-packages/PyYAML-6.0.4.dist-info/METADATA",
        testdata("python/testdata/scanner/pyyaml-6.0.4.dist-info.METADATA"),
    )]));
    let cleanup = tar_of(&[(
        "usr/lib/python3/dist-packages/.wh.PyYAML-6.0.4.dist-info",
        Vec::new(),
    )]);
    let manifest = manifest_of(&[&base, &apps, &cleanup]);

    let mut states = Vec::new();
    for hostile in [false, true] {
        let s = stack().await?;
        s.indexer.submit_manifest(&manifest).await?;
        for blob in [&base, &apps, &cleanup] {
            s.upload(blob).await?;
        }
        let records = s.receive_records().await?;
        assert!(records.len() >= 3, "{records:?}");
        if hostile {
            // Three copies of each, in reverse order: the first copy of each alone, the rest in one batch
            // interleaved.
            let mut reversed = records.clone();
            reversed.reverse();
            for record in &reversed {
                let resp = s
                    .indexer
                    .handle_event(&json!({ "Records": [record] }))
                    .await?;
                assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
            }
            let mut batch: Vec<Value> = Vec::new();
            for record in records.iter().chain(&reversed) {
                batch.push(record.clone());
            }
            let resp = s.indexer.handle_event(&json!({ "Records": batch })).await?;
            assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
        } else {
            let resp = s
                .indexer
                .handle_event(&json!({ "Records": records }))
                .await?;
            assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
        }
        states.push(s.state(&manifest).await?);
    }
    assert_eq!(states[0]["state"], "IndexFinished", "{}", states[0]);
    assert!(
        states[0]["packages"]
            .as_array()
            .is_some_and(|p| p.len() == 88),
        "88 dpkg packages, PyYAML whited out: {}",
        states[0]["packages"]
    );
    assert_eq!(states[0], states[1]);
    Ok(())
}
