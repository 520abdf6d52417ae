//! End to end over the S3/SQS emulator, as deployed: POST a manifest to the API → presigned S3 PUT URLs →
//! a plain HTTP client uploads the real layer bytes → the bucket notifies SQS → the SQS event goes to the
//! indexer as Lambda delivers it → GET the finished report. Fetch jobs travel over real SQS as well.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use harness::fixtures::{debian_base_layer, manifest_of, python_layer};
use http::{Request, StatusCode};
use lucid::api::{Api, handle};
use lucid::blob::S3BlobStore;
use lucid::indexer::Indexer;
use lucid::indexer::fetch::FetchJob;
use lucid::model::{Digest, LayerRef};
use lucid::queue::SqsQueue;
use serde_json::{Value, json};

struct Stack {
    api: Api,
    indexer: Indexer,
    sqs: aws_sdk_sqs::Client,
    index_queue: String,
    fetch_queue: String,
}

async fn stack() -> Result<Stack> {
    let moto = harness::moto()?;
    let db = harness::database().await?;
    let bucket = moto.bucket().await?;
    let index_queue = moto.queue(&[]).await?;
    let fetch_queue = moto.queue(&[]).await?;
    let sqs = moto.sqs();
    moto.notify_on_create(&bucket, &index_queue, None).await?;
    let blobs = Arc::new(S3BlobStore::new(moto.s3(), bucket));
    // As deployed: the bucket notification indexes, fetch jobs only store.
    let indexer = Indexer::new(db.clone(), blobs).with_index_after_fetch(false);
    let api = Api::new(
        db,
        indexer.clone(),
        Arc::new(SqsQueue::new(sqs.clone(), &fetch_queue)),
        None,
    );
    Ok(Stack {
        api,
        indexer,
        sqs,
        index_queue,
        fetch_queue,
    })
}

impl Stack {
    /// Receives what is pending on `queue` and hands it to the indexer as one Lambda SQS event.
    async fn deliver(&self, queue: &str) -> Result<(usize, Value)> {
        let mut records = Vec::new();
        for _ in 0..10 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await?;
            let msgs = out.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                records.push(json!({
                    "messageId": m.message_id.clone().unwrap_or_default(),
                    "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                    "body": m.body.clone().unwrap_or_default(),
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1764331200000"},
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body.clone().unwrap_or_default(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lucid",
                    "awsRegion": "us-east-1"
                }));
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle.unwrap_or_default())
                    .send()
                    .await?;
            }
        }
        let n = records.len();
        let resp = self
            .indexer
            .handle_event(&json!({ "Records": records }))
            .await?;
        Ok((n, resp))
    }

    async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Bytes::from(body))
            .unwrap();
        let resp = handle(&self.api, req).await;
        let status = resp.status();
        (
            status,
            serde_json::from_slice(resp.body()).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test]
async fn presigned_uploads_are_indexed_through_bucket_notifications() -> Result<()> {
    let s = stack().await?;
    let base = debian_base_layer();
    let py = python_layer();
    let m = manifest_of(&[&base, &py]);
    let (status, body) = s
        .call(
            "POST",
            "/indexer/api/v1/index_report",
            serde_json::to_vec(&m)?,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["state"], "FetchLayers");
    let pending = body["pending_layers"]
        .as_array()
        .context("pending_layers")?;
    assert_eq!(pending.len(), 2);

    // Upload each blob with a plain HTTP client, as a CI job would with curl.
    for p in pending {
        assert_eq!(p["action"], "upload");
        let url = p["upload"]["url"].as_str().context("url")?;
        assert!(url.contains("X-Amz-Signature"), "{url}");
        assert!(url.contains("/layers/sha256"), "{url}");
        assert_eq!(p["upload"]["expires_in"], 3600);
    }
    harness::upload_pending(pending, &[&base, &py]).await?;

    let (n, resp) = s.deliver(&s.index_queue).await?;
    assert!(n >= 1, "no bucket notifications arrived");
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");

    let (status, report) = s
        .call(
            "GET",
            &format!("/indexer/api/v1/index_report/{}", m.hash),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["state"], "IndexFinished", "{}", report["err"]);
    let packages = report["packages"].as_object().context("packages")?;
    assert_eq!(packages.len(), 89);
    let libc = packages
        .values()
        .find(|p| p["name"] == "libc6")
        .context("libc6")?;
    assert_eq!(libc["version"], "2.36-9+deb12u14");
    assert_eq!(libc["source"]["name"], "glibc");
    Ok(())
}

/// A fetch job goes over real SQS to the indexer, which stores the blob in S3 (it does not index: the
/// bucket notification does); the notification then finishes the manifest.
#[tokio::test]
async fn fetch_jobs_travel_over_sqs_and_land_in_s3() -> Result<()> {
    let s = stack().await?;
    let base = debian_base_layer();
    let digest = Digest::sha256_of(&base);
    // Serve the blob from a loopback "registry".
    let registry = harness::blob_server(base.clone()).await?;
    let m = lucid::model::Manifest {
        hash: Digest::sha256_of(b"fetched over sqs"),
        layers: vec![LayerRef {
            hash: digest.clone(),
            uri: format!("{registry}/v2/app/blobs/{digest}"),
            headers: Default::default(),
        }],
    };
    let (status, body) = s
        .call(
            "POST",
            "/indexer/api/v1/index_report",
            serde_json::to_vec(&m)?,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["pending_layers"][0]["action"], "fetch");

    // The fetch queue holds exactly the job the API described.
    let (n, resp) = s.deliver(&s.fetch_queue).await?;
    assert_eq!(n, 1);
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    let (status, report) = s
        .call(
            "GET",
            &format!("/indexer/api/v1/index_report/{}", m.hash),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["state"], "FetchLayers", "stored, not yet indexed");

    let (n, resp) = s.deliver(&s.index_queue).await?;
    assert!(n >= 1);
    assert_eq!(resp["batchItemFailures"], json!([]), "{resp}");
    let (_, report) = s
        .call(
            "GET",
            &format!("/indexer/api/v1/index_report/{}", m.hash),
            Vec::new(),
        )
        .await;
    assert_eq!(report["state"], "IndexFinished", "{}", report["err"]);
    assert_eq!(report["packages"].as_object().map(|p| p.len()), Some(88));

    // A malformed fetch job is dropped, not retried.
    let job =
        json!({"type": lucid::indexer::fetch::FETCH_JOB_TYPE, "layer": {"hash": "sha256:nope"}});
    let event = json!({"Records": [{"messageId": "m1", "body": job.to_string(), "eventSource": "aws:sqs"}]});
    assert_eq!(
        s.indexer.handle_event(&event).await?["batchItemFailures"],
        json!([])
    );
    // A job for an unreachable registry is retried (network error).
    let unreachable = FetchJob::new(
        None,
        LayerRef {
            hash: Digest::sha256_of(b"elsewhere"),
            uri: "http://127.0.0.1:9/v2/x/blobs/y".into(),
            headers: Default::default(),
        },
    );
    let event = json!({"Records": [{"messageId": "m2", "body": unreachable.to_body(), "eventSource": "aws:sqs"}]});
    assert_eq!(
        s.indexer.handle_event(&event).await?["batchItemFailures"],
        json!([{"itemIdentifier": "m2"}])
    );
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(())
}
