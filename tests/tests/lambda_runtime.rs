//! The real function binaries, run as Lambda runs them (harness::lambda: a local Lambda Runtime API, Lambda's
//! environment and nothing else), over real PostgreSQL and the S3/SQS/Secrets Manager emulator, wired as
//! template.yaml wires them:
//!
//! - the database is named by a Secrets Manager secret in RDS's JSON shape, its host replaced by
//!   `LUCID_DATABASE_HOST` (the RDS Proxy endpoint in the template); the four functions start at once and
//!   migrate the empty database concurrently (the advisory lock serializes them);
//! - the updater gets an EventBridge scheduled event and loads the feeds (an air-gapped folder with Debian's
//!   real bookworm OVAL excerpt), queueing its diffs on the notify queue;
//! - the notifier takes the updater's diff as an SQS event and runs its maintenance schedule;
//! - the API function gets API Gateway HTTP API (v2) events with Clair's PSK JWT: a manifest POST answers
//!   with presigned S3 PUT URLs, which a plain HTTP client uploads the real layer bytes to;
//! - the bucket's notification (prefix `layers/`, as in the template) lands on the index queue; its messages
//!   go to the indexer as the SQS event Lambda's event source mapping builds;
//! - the vulnerability report is read back through the API function;
//! - a manifest whose layer has a URL (Quay's way) goes API → fetch queue → indexer (fetch job: blob into
//!   the bucket) → the bucket's notification → indexer.
//!
//! Each function's init time (process start → first `next`), peak RSS (VmHWM) and handler time are printed
//! (`cargo test -p lucid-tests --test lambda_runtime -- --nocapture`); infra/README.md records them.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use base64::Engine as _;
use harness::fixtures::{debian_base_layer, gzip, manifest_of, python_layer, tar_of};
use harness::lambda::{
    FunctionConfig, LambdaFunction, Measurements, Outcome, apigw_v2_event, apigw_v2_response,
    function_binary, sqs_event,
};
use serde_json::{Value, json};

const PSK: &[u8] = b"lambda-runtime-test-key-0123456789";

/// `LUCID_LAMBDA_LAYER_MIB=N` adds a layer holding an N MiB file (to measure the indexer's time and
/// memory on a layer of realistic size; off by default, as it takes a while in a debug build).
fn big_layer_mib() -> usize {
    std::env::var("LUCID_LAMBDA_LAYER_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `len` bytes of lines of pseudo-random hex digits: gzip shrinks them about 2x, as it does binaries.
fn filler(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|i| {
            if i % 64 == 63 {
                return b'\n';
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b"0123456789abcdef"[(x & 15) as usize]
        })
        .collect()
}

/// Receives everything pending on `queue` (deleting it, as a successful event source mapping does).
async fn drain(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<Vec<aws_sdk_sqs::types::Message>> {
    let mut all = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            break;
        }
        for m in &msgs {
            sqs.delete_message()
                .queue_url(queue)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await?;
        }
        all.extend(msgs);
    }
    Ok(all)
}

fn token(iss: &str) -> Result<String> {
    let exp = jsonwebtoken::get_current_timestamp() + 300;
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iss": iss, "exp": exp}),
        &jsonwebtoken::EncodingKey::from_secret(PSK)?,
    )?)
}

/// One API call through the API function; answers status and JSON body.
async fn api_call(
    api: &mut LambdaFunction,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Result<(u16, Value)> {
    let bearer = auth.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let resp = api
        .call(apigw_v2_event(method, path, &headers, body))
        .await?;
    let (status, body) = apigw_v2_response(&resp)?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// Hands what arrives on `sources` (queue URL, ARN) to the indexer, one message per event as with the
/// template's `BatchSize: 1`, until the manifest's index report is `IndexFinished`. Answers the report,
/// the number of messages delivered and the slowest invocation.
async fn index_until_finished(
    indexer: &mut LambdaFunction,
    api: &mut LambdaFunction,
    sqs: &aws_sdk_sqs::Client,
    sources: &[(&str, &str)],
    manifest: &str,
    jwt: &str,
) -> Result<(Value, usize, Duration)> {
    let (mut delivered, mut slowest) = (0, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (queue, arn) in sources {
            for m in drain(sqs, queue).await? {
                let t0 = Instant::now();
                let resp = indexer.call(sqs_event(arn, &[m])).await?;
                slowest = slowest.max(t0.elapsed());
                ensure!(resp["batchItemFailures"] == json!([]), "{resp}");
                delivered += 1;
            }
        }
        let path = format!("/indexer/api/v1/index_report/{manifest}");
        let (status, report) = api_call(api, "GET", &path, Some(jwt), b"").await?;
        ensure!(status == 200, "{report}");
        if report["state"] == "IndexFinished" {
            return Ok((report, delivered, slowest));
        }
        ensure!(report["state"] != "IndexError", "{report}");
        ensure!(
            Instant::now() < deadline,
            "not indexed after {delivered} messages: {report}"
        );
    }
}

fn print_figures(rows: &[(&str, u32, Measurements)]) {
    println!("function    memory  init     peak RSS   invocations  handler time");
    for (name, memory, m) in rows {
        println!(
            "{name:<11} {memory:>4} MB {:>6.0} ms {:>7.1} MiB {:>6}       {:>8.0} ms",
            m.init.as_secs_f64() * 1000.0,
            m.peak_rss_kib as f64 / 1024.0,
            m.invocations,
            m.busy.as_secs_f64() * 1000.0
        );
    }
}

#[tokio::test]
async fn functions_run_under_a_lambda_runtime_api_end_to_end() -> Result<()> {
    let binaries = [
        function_binary("lucid-api")?,
        function_binary("lucid-indexer")?,
        function_binary("lucid-updater")?,
        function_binary("lucid-notifier")?,
    ];
    let moto = harness::moto()?;
    let db = harness::fresh_database().await?;
    let db_url = url::Url::parse(&db.url)?;
    let sqs = moto.sqs();

    // The resources template.yaml creates.
    let bucket = moto.bucket().await?;
    let index_queue = moto.queue(&[]).await?;
    let fetch_queue = moto.queue(&[]).await?;
    let notify_queue = moto.queue(&[]).await?;
    let index_queue_arn = moto
        .notify_on_create(&bucket, &index_queue, Some("layers/"))
        .await?;
    // The database secret in RDS's shape; its host is not reachable, LUCID_DATABASE_HOST replaces it.
    let secrets = aws_sdk_secretsmanager::Client::new(&moto.sdk_config());
    let secret_arn = secrets
        .create_secret()
        .name(format!("lucid-db-{}", uuid::Uuid::new_v4().simple()))
        .secret_string(
            json!({
                "engine": "postgres",
                "username": db_url.username(),
                "password": db_url.password().unwrap_or_default(),
                "host": "lucid-cluster.cluster-abcdef.us-east-1.rds.amazonaws.com",
                "port": db_url.port().unwrap_or(5432),
                "dbname": db.name,
            })
            .to_string(),
        )
        .send()
        .await?
        .arn
        .context("secret ARN")?;
    let feeds = tempfile::tempdir()?;
    std::fs::copy(
        harness::repo_root()
            .join("shared/src/ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml"),
        feeds.path().join("oval-definitions-bookworm.xml"),
    )?;

    // template.yaml's Globals: Environment, plus the emulator's endpoint.
    let globals = [
        ("LUCID_DATABASE_SECRET_ARN", secret_arn.clone()),
        (
            "LUCID_DATABASE_HOST",
            db_url.host_str().unwrap_or("127.0.0.1").to_owned(),
        ),
        ("LUCID_BUCKET", bucket.clone()),
        ("LUCID_FETCH_QUEUE_URL", fetch_queue.clone()),
        ("LUCID_NOTIFY_QUEUE_URL", notify_queue.clone()),
        ("LUCID_LOG", "info".to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
    ];
    let psk = base64::engine::general_purpose::STANDARD.encode(PSK);
    let config =
        |name: &str, binary: &std::path::Path, memory_mb, timeout, own: &[(&str, String)]| {
            FunctionConfig {
                name: name.to_owned(),
                binary: binary.to_owned(),
                memory_mb,
                timeout: Duration::from_secs(timeout),
                env: globals
                    .iter()
                    .chain(own)
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            }
        };
    let configs = [
        config(
            "lucid-api",
            &binaries[0],
            512,
            29,
            &[
                ("LUCID_PSK", psk.clone()),
                ("LUCID_PSK_ISSUERS", "ci,quay".to_owned()),
            ],
        ),
        config("lucid-indexer", &binaries[1], 1024, 900, &[]),
        config(
            "lucid-updater",
            &binaries[2],
            2048,
            900,
            &[
                ("LUCID_FEEDS", String::new()),
                // Offline: the feeds come from a folder (air-gapped mode) instead of the internet.
                ("LUCID_FEED_DIR", feeds.path().display().to_string()),
            ],
        ),
        config(
            "lucid-notifier",
            &binaries[3],
            512,
            300,
            &[
                ("LUCID_PSK", psk.clone()),
                (
                    "LUCID_NOTIFIER_CALLBACK_URL",
                    "https://api.example/notifier/api/v1/notification/".to_owned(),
                ),
            ],
        ),
    ];
    let logs = tempfile::tempdir()?;
    // Three cold starts at once against the empty database.
    let [api, indexer, updater, notifier] = configs;
    let (api, indexer, updater, notifier) = tokio::try_join!(
        LambdaFunction::start(api, logs.path()),
        LambdaFunction::start(indexer, logs.path()),
        LambdaFunction::start(updater, logs.path()),
        LambdaFunction::start(notifier, logs.path()),
    )?;
    let (mut api, mut indexer, mut updater, mut notifier) = (api, indexer, updater, notifier);

    // The schedule: one EventBridge event loads the feed folder and queues a diff for the notifier.
    let scheduled: Value = serde_json::from_str(include_str!(
        "../../functions/updater/tests/events/scheduled.json"
    ))?;
    let summary = updater.call(scheduled).await?;
    assert_eq!(
        summary["sources"][0]["source"], "debian-oval/bookworm",
        "{summary:#}"
    );
    assert_eq!(
        summary["sources"][0]["outcome"]["outcome"], "updated",
        "{summary:#}"
    );
    let diffs = drain(&sqs, &notify_queue).await?;
    assert_eq!(diffs.len(), 1);
    let diff: Value = serde_json::from_str(diffs[0].body().unwrap_or("{}"))?;
    assert_eq!(diff["kind"], "update_diff");
    assert_eq!(diff["updater"], "debian-oval/bookworm");
    // The notifier takes the diff from its queue as an SQS event (a first load: nothing to notify, by
    // policy) and reports no failed item; its maintenance schedule runs too.
    let notify_queue_arn = moto.queue_arn(&notify_queue).await?;
    let handled = notifier.call(sqs_event(&notify_queue_arn, &diffs)).await?;
    assert_eq!(handled["batchItemFailures"], json!([]), "{handled:#}");
    let maintenance: Value = serde_json::from_str(include_str!(
        "../../functions/notifier/tests/events/scheduled.json"
    ))?;
    notifier.call(maintenance).await?;

    // The API refuses a request without Clair's PSK JWT, and serves health without one.
    let mut layers = vec![debian_base_layer(), python_layer()];
    let big_mib = big_layer_mib();
    if big_mib > 0 {
        layers.push(gzip(&tar_of(&[(
            "usr/share/lucid-bench/filler.txt",
            filler(big_mib << 20),
        )])));
    }
    let blobs: Vec<&[u8]> = layers.iter().map(Vec::as_slice).collect();
    let manifest = manifest_of(&blobs);
    let manifest_json = serde_json::to_vec(&manifest)?;
    let (status, body) = api_call(
        &mut api,
        "POST",
        "/indexer/api/v1/index_report",
        None,
        &manifest_json,
    )
    .await?;
    assert_eq!(status, 401, "{body}");
    let (status, _) = api_call(&mut api, "GET", "/healthz", None, b"").await?;
    assert_eq!(status, 200);

    // Submit the manifest: presigned upload URLs for both layers.
    let jwt = token("ci")?;
    let (status, body) = api_call(
        &mut api,
        "POST",
        "/indexer/api/v1/index_report",
        Some(&jwt),
        &manifest_json,
    )
    .await?;
    assert_eq!(
        (status, &body["state"]),
        (201, &json!("FetchLayers")),
        "{body}"
    );
    let pending = body["pending_layers"]
        .as_array()
        .context("pending_layers")?;
    // Presigned PUTs into the bucket's `layers/` prefix (which notifies the indexer).
    let prefix = format!("/{bucket}/layers/sha256");
    ensure!(
        pending.len() == blobs.len()
            && pending.iter().all(|p| p["action"] == "upload"
                && p["upload"]["url"]
                    .as_str()
                    .is_some_and(|u| u.contains(&prefix))),
        "{body}"
    );
    harness::upload_pending(pending, &blobs).await?;

    // The bucket notified the index queue; the event source mapping hands the messages to the indexer.
    let index_source = (index_queue.as_str(), index_queue_arn.as_str());
    let (report, delivered, slowest_index) = index_until_finished(
        &mut indexer,
        &mut api,
        &sqs,
        &[index_source],
        &manifest.hash.to_string(),
        &jwt,
    )
    .await?;
    assert_eq!(report["packages"].as_object().map(|p| p.len()), Some(89));
    assert!(
        delivered >= blobs.len(),
        "one notification per uploaded layer"
    );

    // The vulnerability report, through the API function: the unfixed bookworm issues of apt and tar.
    let (status, report) = api_call(
        &mut api,
        "GET",
        &format!("/matcher/api/v1/vulnerability_report/{}", manifest.hash),
        Some(&token("quay")?),
        b"",
    )
    .await?;
    assert_eq!(status, 200, "{report}");
    let mut names: Vec<&str> = report["vulnerabilities"]
        .as_object()
        .context("vulnerabilities")?
        .values()
        .filter_map(|v| v["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["CVE-2005-2541", "CVE-2011-3374"], "{report:#}");
    let affected: usize = report["package_vulnerabilities"]
        .as_object()
        .context("package_vulnerabilities")?
        .values()
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert_eq!(affected, 3, "apt, libapt-pkg6.0 and tar");

    // Quay's way: layers by URL. The API queues a fetch job; the indexer (its fetch queue event source)
    // downloads the blob into the bucket, whose notification then indexes it.
    let fetched = gzip(&python_layer());
    let digest = lucid::model::Digest::sha256_of(&fetched);
    let registry = harness::blob_server(fetched).await?;
    let by_url = lucid::model::Manifest {
        hash: lucid::model::Digest::sha256_of(b"layers fetched by the indexer function"),
        layers: vec![lucid::model::LayerRef {
            hash: digest.clone(),
            uri: format!("{registry}/v2/app/blobs/{digest}"),
            headers: Default::default(),
        }],
    };
    let (status, body) = api_call(
        &mut api,
        "POST",
        "/indexer/api/v1/index_report",
        Some(&jwt),
        &serde_json::to_vec(&by_url)?,
    )
    .await?;
    assert_eq!(
        (status, &body["pending_layers"][0]["action"]),
        (201, &json!("fetch")),
        "{body}"
    );
    let fetch_queue_arn = moto.queue_arn(&fetch_queue).await?;
    let (report, delivered, _) = index_until_finished(
        &mut indexer,
        &mut api,
        &sqs,
        &[
            (fetch_queue.as_str(), fetch_queue_arn.as_str()),
            index_source,
        ],
        &by_url.hash.to_string(),
        &jwt,
    )
    .await?;
    assert_eq!(
        report["packages"].as_object().map(|p| p.len()),
        Some(1),
        "{report}"
    );
    assert!(
        delivered >= 2,
        "a fetch job, then the bucket's notification"
    );

    // A function error goes to …/error: the updater refuses what is not an EventBridge event.
    match updater.invoke(json!({"Records": []})).await? {
        Outcome::Error { error_type, body } => {
            assert!(!error_type.is_empty());
            assert!(body["errorMessage"].is_string(), "{body}");
        }
        Outcome::Response(v) => panic!("expected an error, got {v}"),
    }

    // A later cold start of the API (a new execution environment; the schema is current): what a user
    // waits for when API Gateway scales out.
    let mut second = LambdaFunction::start(api.config.clone(), logs.path()).await?;
    let (status, _) = api_call(&mut second, "GET", "/readyz", None, b"").await?;
    assert_eq!(status, 200);

    let rows = [
        ("api", 512, api.measurements()?),
        ("api (2nd)", 512, second.measurements()?),
        ("indexer", 1024, indexer.measurements()?),
        ("updater", 2048, updater.measurements()?),
        ("notifier", 512, notifier.measurements()?),
    ];
    print_figures(&rows);
    if big_mib > 0 {
        println!(
            "indexer: a {big_mib} MiB layer ({:.1} MiB gzipped) indexed in {:.0} ms (the slowest invocation)",
            blobs[2].len() as f64 / 1048576.0,
            slowest_index.as_secs_f64() * 1000.0
        );
    }
    for (name, memory, m) in rows {
        // Far below what the template gives each function.
        assert!(
            m.peak_rss_kib < u64::from(memory) * 1024 / 2,
            "{name}: peak RSS {} KiB",
            m.peak_rss_kib
        );
    }
    Ok(())
}
