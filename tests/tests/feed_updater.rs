//! The feed updater over real PostgreSQL: update operations, deduplication, unchanged re-runs, diffs, garbage
//! collection, air-gapped folders of real advisory files, and HTTP feeds served by a local server that
//! answers with validators, 304s, 5xx and truncated bodies.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use lucid::feeds::catalog;
use lucid::feeds::source::{FeedFormat, FeedSource, FetchOptions, Origin};
use lucid::feeds::store::{CommitOutcome, FeedStore};
use lucid::feeds::updater::{DiffMessage, FeedUpdater, SourceOutcome, UpdaterOptions, http_client};
use lucid::model::{AffectedRange, DistributionSelector, Ecosystem, Severity, Vulnerability};
use lucid::queue::MemoryQueue;
use lucid::queue::Queue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn record(name: &str, package: &str, fixed: &str) -> Vulnerability {
    Vulnerability {
        updater: "alpine".to_owned(),
        name: name.to_owned(),
        description: format!("{name} in {package}"),
        severity: "High".to_owned(),
        normalized_severity: Severity::High,
        ecosystem: Some(Ecosystem::Apk),
        package_name: package.to_owned(),
        package_is_source: true,
        distribution: Some(DistributionSelector {
            did: "alpine".to_owned(),
            release: "3.19".to_owned(),
        }),
        ranges: vec![AffectedRange {
            fixed: Some(fixed.to_owned()),
            ..AffectedRange::default()
        }],
        fixed_in_version: fixed.to_owned(),
        ..Vulnerability::default()
    }
}

fn shared_testdata(relative: &str) -> PathBuf {
    harness::repo_root().join("shared/src").join(relative)
}

async fn live_names(db: &lucid::store::Database, updater: &str) -> Result<Vec<String>> {
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT v.name FROM vulnerability v
             JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
             JOIN latest_update_operation l ON l.uo_id = uv.uo_id
             WHERE l.updater = $1 ORDER BY v.name",
            &[&updater],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

async fn count(db: &lucid::store::Database, table: &str) -> Result<i64> {
    let client = db.client().await?;
    Ok(client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .get(0))
}

#[tokio::test]
async fn operations_deduplicate_switch_atomically_diff_and_collect() -> Result<()> {
    let db = harness::database().await?;
    let store = FeedStore::new(db.clone());
    let a = record("CVE-2024-0001", "openssl", "3.1.4-r1");
    let b = record("CVE-2024-0002", "busybox", "1.36.1-r16");
    let c = record("CVE-2024-0003", "musl", "1.2.4-r3");

    // First load: everything added, no previous operation. A duplicate record in the input is stored once.
    let first = store
        .commit(
            "alpine/v3.19/main",
            "fp1",
            &[a.clone(), b.clone(), a.clone()],
        )
        .await?;
    let CommitOutcome::Committed {
        operation: op1,
        previous: None,
        added: 2,
        removed: 0,
    } = first
    else {
        panic!("first commit: {first:?}");
    };
    assert_eq!(op1.record_count, 2);
    assert_eq!(
        live_names(&db, "alpine/v3.19/main").await?,
        ["CVE-2024-0001", "CVE-2024-0002"]
    );

    // The same records again (any order): nothing is written.
    let again = store
        .commit("alpine/v3.19/main", "fp2", &[b.clone(), a.clone()])
        .await?;
    assert_eq!(
        again,
        CommitOutcome::Unchanged {
            latest: op1.clone()
        }
    );
    assert_eq!(count(&db, "update_operation").await?, 1);

    // Another updater holding an identical record shares its row.
    store
        .commit("alpine/v3.19/community", "fpc", std::slice::from_ref(&a))
        .await?;
    assert_eq!(count(&db, "vulnerability").await?, 2);

    // A changed feed: one added, one removed; the latest pointer moves.
    let second = store
        .commit("alpine/v3.19/main", "fp3", &[b.clone(), c.clone()])
        .await?;
    let CommitOutcome::Committed {
        operation: op2,
        previous: Some(prev),
        added: 1,
        removed: 1,
    } = second
    else {
        panic!("second commit: {second:?}");
    };
    assert_eq!(prev, op1);
    assert_eq!(store.latest("alpine/v3.19/main").await?, Some(op2.clone()));
    assert_eq!(
        live_names(&db, "alpine/v3.19/main").await?,
        ["CVE-2024-0002", "CVE-2024-0003"]
    );

    let diff = store
        .diff(Some(op1.reference), op2.reference)
        .await?
        .expect("both operations exist");
    assert_eq!(diff.added, vec![c.clone()]);
    assert_eq!(diff.removed, vec![a.clone()]);
    let first_load = store.diff(None, op1.reference).await?.expect("exists");
    assert_eq!(first_load.added.len(), 2);
    assert!(first_load.removed.is_empty());
    // Operations of different updaters are not comparable.
    let community = store.latest("alpine/v3.19/community").await?.expect("live");
    assert!(
        store
            .diff(Some(community.reference), op2.reference)
            .await?
            .is_none()
    );

    // Clair's update_operation listing: newest first per updater.
    let listing = store.operations().await?;
    assert_eq!(
        listing["alpine/v3.19/main"]
            .iter()
            .map(|o| o.reference)
            .collect::<Vec<_>>(),
        [op2.reference, op1.reference]
    );

    // GC keeping one operation per updater drops op1; record `a` survives (community links it).
    let gc = store.gc(1).await?;
    assert_eq!(gc.operations_deleted, 1);
    assert_eq!(gc.vulnerabilities_deleted, 0);
    assert_eq!(count(&db, "vulnerability").await?, 3);
    // Once the community feed drops `a`, the next GC deletes the orphan.
    store
        .commit("alpine/v3.19/community", "fpd", std::slice::from_ref(&b))
        .await?;
    let gc = store.gc(1).await?;
    assert_eq!(gc.operations_deleted, 1);
    assert_eq!(gc.vulnerabilities_deleted, 1);
    assert_eq!(count(&db, "vulnerability").await?, 2);
    assert_eq!(
        live_names(&db, "alpine/v3.19/main").await?,
        ["CVE-2024-0002", "CVE-2024-0003"]
    );

    // Deleting the live operation makes the newest remaining one live (none left here: no data).
    assert_eq!(store.delete_operations(&[op2.reference]).await?, 1);
    assert_eq!(store.latest("alpine/v3.19/main").await?, None);
    assert!(live_names(&db, "alpine/v3.19/main").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn one_run_per_source_at_a_time() -> Result<()> {
    let db = harness::database().await?;
    let store = FeedStore::new(db);
    let held = store.try_lock_source("osv/PyPI").await?.expect("free");
    assert!(store.try_lock_source("osv/PyPI").await?.is_none());
    assert!(store.try_lock_source("osv/npm").await?.is_some());
    held.release().await?;
    let again = store.try_lock_source("osv/PyPI").await?.expect("released");
    // A lock dropped without release (an error path) frees with its connection.
    drop(again);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(store.try_lock_source("osv/PyPI").await?.is_some());
    Ok(())
}

/// A folder laid out like real feed mirrors, from the repository's copies of real advisories.
fn feed_folder() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let copy = |from: &str, to: &str| -> Result<()> {
        let target = dir.path().join(to);
        std::fs::create_dir_all(target.parent().expect("has a parent"))?;
        std::fs::copy(shared_testdata(from), target)?;
        Ok(())
    };
    copy(
        "ecosystems/alpine/testdata/v3.19-main.json",
        "alpine/v3.19/main.json",
    )?;
    copy(
        "ecosystems/ubuntu/testdata/com.ubuntu.oracular.usn.oval.xml.bz2",
        "ubuntu/com.ubuntu.oracular.usn.oval.xml.bz2",
    )?;
    copy(
        "ecosystems/debian/testdata/oval-definitions-bookworm-excerpt.xml",
        "debian/oval-definitions-bookworm.xml",
    )?;
    copy(
        "feeds/testdata/oval/rhsa-RHEL9-excerpt.xml",
        "redhat/com.redhat.rhsa-RHEL9.xml",
    )?;
    copy(
        "ecosystems/rhel/testdata/cve-2023-38545.json",
        "redhat/csaf/vex/2023/cve-2023-38545.json",
    )?;
    // An Amazon Linux repository's updateinfo, gzip as published, in a folder named for its release.
    let updateinfo = std::fs::read(shared_testdata(
        "ecosystems/amazon/testdata/updateinfo-al2023.xml",
    ))?;
    std::fs::create_dir_all(dir.path().join("amazon/2023"))?;
    std::fs::write(
        dir.path().join("amazon/2023/updateinfo.xml.gz"),
        gzip(&updateinfo)?,
    )?;
    for entry in walk(&shared_testdata("feeds/testdata/osv")) {
        let name = entry.strip_prefix(shared_testdata("feeds/testdata/osv"))?;
        if entry
            .extension()
            .is_some_and(|e| e == "json" || e == "yaml")
        {
            copy(
                &format!("feeds/testdata/osv/{}", name.display()),
                &format!("osv/{}", name.display()),
            )?;
        }
    }
    // Wolfi's secdb, in the shape of packages.wolfi.dev/os/security.json (no distroversion).
    std::fs::create_dir_all(dir.path().join("wolfi"))?;
    std::fs::write(
        dir.path().join("wolfi/security.json"),
        br#"{"apkurl":"{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
            "archs":["x86_64","aarch64"],"reponame":"os","urlprefix":"https://packages.wolfi.dev",
            "packages":[{"pkg":{"name":"glibc","secfixes":{"2.38-r2":["CVE-2023-4911"]}}}]}"#,
    )?;
    // Enrichments, in the published shapes: an NVD JSON 2.0 feed (gzip), the KEV catalog, EPSS scores.
    std::fs::create_dir_all(dir.path().join("enrichment"))?;
    let nvd = br#"{"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":{"id":"CVE-2023-4911",
        "metrics":{"cvssMetricV31":[{"source":"nvd@nist.gov","type":"Primary","cvssData":{"version":"3.1",
        "vectorString":"CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H","baseScore":7.8,"baseSeverity":"HIGH"}}]}}}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, nvd)?;
    std::fs::write(
        dir.path().join("enrichment/nvdcve-2.0-2023.json.gz"),
        gz.finish()?,
    )?;
    std::fs::write(
        dir.path().join("enrichment/known_exploited_vulnerabilities.json"),
        br#"{"catalogVersion":"2026.11.27","count":1,"vulnerabilities":[{"cveID":"CVE-2023-4911",
            "vulnerabilityName":"GNU C Library Buffer Overflow","dateAdded":"2023-11-21","dueDate":"2023-12-12",
            "requiredAction":"Apply mitigations per vendor instructions.","knownRansomwareCampaignUse":"Unknown"}]}"#,
    )?;
    std::fs::write(
        dir.path().join("enrichment/epss_scores-2026-11-27.csv"),
        "#model_version:v2025.03.14,score_date:2026-11-27T12:55:00Z\ncve,epss,percentile\nCVE-2023-4911,0.8,0.99\n",
    )?;
    std::fs::write(dir.path().join("README.txt"), "not a feed")?;
    Ok(dir)
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn updater(db: &lucid::store::Database, queue: Option<Arc<dyn Queue>>) -> Result<FeedUpdater> {
    Ok(FeedUpdater::new(
        FeedStore::new(db.clone()),
        http_client()?,
        queue,
        UpdaterOptions {
            fetch: FetchOptions {
                retries: 1,
                backoff: Duration::from_millis(20),
                ..FetchOptions::default()
            },
            keep_operations: 2,
        },
    ))
}

async fn drain(queue: &MemoryQueue) -> Result<Vec<DiffMessage>> {
    let mut out = Vec::new();
    loop {
        let batch = queue.receive(10, Duration::ZERO, None).await?;
        if batch.is_empty() {
            return Ok(out);
        }
        for message in &batch {
            out.push(serde_json::from_str(&message.body)?);
        }
        let receipts: Vec<String> = batch.into_iter().map(|m| m.receipt).collect();
        queue.delete_batch(&receipts).await?;
    }
}

#[tokio::test]
async fn air_gapped_folder_loads_every_format_and_reruns_cheaply() -> Result<()> {
    let db = harness::database().await?;
    let folder = feed_folder()?;
    let (sources, ignored) = catalog::discover(folder.path());
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "alpine/v3.19/main",
            "amzn/2023",
            "debian-oval/bookworm",
            "epss",
            "kev",
            "nvd/2023",
            "osv",
            "rhel",
            "rhel-oval/9",
            "ubuntu/oracular/usn",
            "wolfi"
        ]
    );
    assert_eq!(ignored, vec![folder.path().join("README.txt")]);

    let queue = Arc::new(MemoryQueue::new("notify", Duration::from_secs(30)));
    let updater = updater(&db, Some(queue.clone()))?;
    let summary = updater.run(&sources, |_| {}).await?;
    for report in &summary.sources {
        assert!(
            matches!(report.outcome, SourceOutcome::Updated(_)),
            "{report:?}"
        );
        assert!(report.records > 0, "{report:?}");
    }
    // OSV records split into one operation per ecosystem.
    let latest = updater.store().latest_operations().await?;
    let updaters: Vec<&str> = latest.keys().map(String::as_str).collect();
    assert_eq!(
        updaters,
        [
            "alpine/v3.19/main",
            "amzn/2023",
            "debian-oval/bookworm",
            "epss",
            "kev",
            "nvd/2023",
            "osv/Go",
            "osv/PyPI",
            "osv/crates.io",
            "osv/npm",
            "rhel",
            "rhel-oval/9",
            "ubuntu/oracular/usn",
            "wolfi"
        ]
    );
    let wolfi = live_names(&db, "wolfi").await?;
    assert_eq!(wolfi, ["CVE-2023-4911"]);
    // Enrichments are stored per CVE, and change no finding: no diff message for them.
    assert_eq!(count(&db, "enrichment").await?, 3);
    assert_eq!(latest["nvd/2023"].kind, "enrichment");
    // One diff message per committed vulnerability operation, all first loads.
    let messages = drain(&queue).await?;
    assert_eq!(messages.len(), latest.len() - 3);
    assert!(
        messages
            .iter()
            .all(|m| m.prev.is_none() && m.kind == "update_diff")
    );
    let status = updater.store().feed_status().await?;
    assert!(
        status
            .iter()
            .all(|s| s.last_error.is_empty() && s.last_success.is_some())
    );
    let records_before = count(&db, "vulnerability").await?;

    // Unchanged re-run: every source unchanged, nothing written, nothing queued.
    let rerun = updater.run(&sources, |_| {}).await?;
    assert_eq!(rerun.gc.enrichments_deleted, 0);
    assert!(
        rerun
            .sources
            .iter()
            .all(|s| s.outcome == SourceOutcome::Unchanged),
        "{rerun:?}"
    );
    assert_eq!(count(&db, "update_operation").await?, latest.len() as i64);
    assert!(drain(&queue).await?.is_empty());

    // A malformed Alpine file fails that source only; its previous data stays live.
    let alpine = folder.path().join("alpine/v3.19/main.json");
    let good = std::fs::read(&alpine)?;
    std::fs::write(&alpine, &good[..good.len() / 2])?;
    let broken = updater.run(&sources, |_| {}).await?;
    let failed: Vec<&str> = broken.failed().map(|s| s.source.as_str()).collect();
    assert_eq!(failed, ["alpine/v3.19/main"]);
    let SourceOutcome::Failed(reason) = &broken.sources[0].outcome else {
        unreachable!()
    };
    assert!(reason.contains("malformed"), "{reason}");
    assert_eq!(
        updater.store().latest("alpine/v3.19/main").await?,
        latest.get("alpine/v3.19/main").cloned()
    );
    assert_eq!(count(&db, "vulnerability").await?, records_before);
    let alpine_status = updater
        .store()
        .feed_status()
        .await?
        .into_iter()
        .find(|s| s.source == "alpine/v3.19/main")
        .expect("status row");
    assert!(alpine_status.last_error.contains("malformed"));

    // Fixed again with one advisory fewer: a new operation whose diff removes exactly that record.
    let mut secdb: serde_json::Value = serde_json::from_slice(&good)?;
    let packages = secdb["packages"].as_array_mut().expect("packages");
    let dropped = packages.remove(0);
    let dropped_name = dropped["pkg"]["name"].as_str().expect("name").to_owned();
    std::fs::write(&alpine, serde_json::to_vec(&secdb)?)?;
    let fixed = updater.run(&sources, |_| {}).await?;
    let SourceOutcome::Updated(ops) = &fixed.sources[0].outcome else {
        panic!("{fixed:?}");
    };
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].added, 0);
    assert!(ops[0].removed > 0);
    let messages = drain(&queue).await?;
    assert_eq!(messages.len(), 1);
    let diff = updater
        .store()
        .diff(messages[0].prev, messages[0].cur)
        .await?
        .expect("diff");
    assert!(diff.added.is_empty());
    assert_eq!(diff.removed.len() as u64, ops[0].removed);
    assert!(diff.removed.iter().all(|r| r.package_name == dropped_name));
    Ok(())
}

/// What the local feed server answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    /// 200 with an ETag; 304 when If-None-Match matches.
    Validators,
    /// 200 without validators, every time.
    Plain,
    /// 503.
    Unavailable,
    /// 200 whose body stops halfway through its Content-Length.
    Truncated,
    /// 200 with a Last-Modified date and no ETag; 304 when If-Modified-Since carries that date.
    LastModified,
    /// Headers and half the body, then nothing for longer than any client's read timeout.
    Stalled,
}

/// The Last-Modified date the server sends.
const LAST_MODIFIED: &str = "Wed, 21 Oct 2026 07:28:00 GMT";

struct FeedServer {
    url: String,
    /// The server's root (`http://127.0.0.1:port`).
    base: String,
    body: Arc<Mutex<Vec<u8>>>,
    /// Paths answered with a fixed body (plain 200) whatever the behaviour; others get `body`.
    routes: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    /// Every requested path, in order.
    paths: Arc<Mutex<Vec<String>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    requests: Arc<AtomicUsize>,
    conditional: Arc<AtomicUsize>,
}

/// An HTTP/1.1 response: `status`, one optional extra header line, a `Content-Length` of `length` (which a
/// misbehaving response sets larger than `body`), then `body`.
fn http_response(status: &str, header: &str, body: &[u8], length: usize) -> Vec<u8> {
    let header = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\r\n")
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{header}content-length: {length}\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A minimal HTTP/1.1 server written for the test: it must misbehave on purpose (truncated bodies), which
/// well-behaved server libraries do not do.
async fn feed_server(body: Vec<u8>) -> Result<FeedServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let url = format!("{base}/v3.19/main.json");
    let body = Arc::new(Mutex::new(body));
    let routes: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>> = Arc::default();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let behaviour = Arc::new(Mutex::new(Behaviour::Validators));
    let requests = Arc::new(AtomicUsize::new(0));
    let conditional = Arc::new(AtomicUsize::new(0));
    let (b, m, r, c, routes_, paths_) = (
        body.clone(),
        behaviour.clone(),
        requests.clone(),
        conditional.clone(),
        routes.clone(),
        paths.clone(),
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (b, m, r, c) = (b.clone(), m.clone(), r.clone(), c.clone());
            let (routes, paths) = (routes_.clone(), paths_.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                r.fetch_add(1, Ordering::SeqCst);
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                paths.lock().expect("lock").push(path.clone());
                let routed = routes.lock().expect("lock").get(&path).cloned();
                let body = routed
                    .clone()
                    .unwrap_or_else(|| b.lock().expect("lock").clone());
                let etag = format!("\"{}\"", body.len());
                let behaviour = if routed.is_some() {
                    Behaviour::Plain
                } else {
                    *m.lock().expect("lock")
                };
                let response: Vec<u8> = match behaviour {
                    Behaviour::Validators if text.contains(&format!("if-none-match: {etag}")) => {
                        c.fetch_add(1, Ordering::SeqCst);
                        http_response("304 Not Modified", &format!("etag: {etag}"), &[], 0)
                    }
                    Behaviour::Validators => {
                        http_response("200 OK", &format!("etag: {etag}"), &body, body.len())
                    }
                    Behaviour::Plain => http_response("200 OK", "", &body, body.len()),
                    Behaviour::Unavailable => http_response("503 Service Unavailable", "", &[], 0),
                    Behaviour::Truncated => {
                        http_response("200 OK", "", &body[..body.len() / 2], body.len())
                    }
                    Behaviour::LastModified => {
                        let header = format!("last-modified: {LAST_MODIFIED}");
                        if text.contains(&format!(
                            "if-modified-since: {}",
                            LAST_MODIFIED.to_ascii_lowercase()
                        )) {
                            c.fetch_add(1, Ordering::SeqCst);
                            http_response("304 Not Modified", &header, &[], 0)
                        } else {
                            http_response("200 OK", &header, &body, body.len())
                        }
                    }
                    Behaviour::Stalled => {
                        let half = http_response("200 OK", "", &body[..body.len() / 2], body.len());
                        let _ = socket.write_all(&half).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                };
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(FeedServer {
        url,
        base,
        body,
        routes,
        paths,
        behaviour,
        requests,
        conditional,
    })
}

#[tokio::test]
async fn http_feeds_are_conditional_and_failures_keep_the_previous_data() -> Result<()> {
    let db = harness::database().await?;
    let secdb = std::fs::read(shared_testdata(
        "ecosystems/alpine/testdata/v3.19-main.json",
    ))?;
    let server = feed_server(secdb.clone()).await?;
    let source = FeedSource {
        name: "alpine/v3.19/main".to_owned(),
        origin: Origin::Url(server.url.clone()),
        format: FeedFormat::AlpineSecdb,
    };
    let updater = updater(&db, None)?;

    let first = updater.run_source(&source).await;
    assert!(
        matches!(first.outcome, SourceOutcome::Updated(_)),
        "{first:?}"
    );
    let live = updater
        .store()
        .latest("alpine/v3.19/main")
        .await?
        .expect("live");

    // The ETag is sent back: 304, one request, nothing written.
    let second = updater.run_source(&source).await;
    assert_eq!(second.outcome, SourceOutcome::Unchanged);
    assert_eq!(server.conditional.load(Ordering::SeqCst), 1);
    assert_eq!(server.requests.load(Ordering::SeqCst), 2);

    // A server that ignores validators: same bytes are recognised by their sha256.
    *server.behaviour.lock().expect("lock") = Behaviour::Plain;
    let third = updater.run_source(&source).await;
    assert_eq!(third.outcome, SourceOutcome::Unchanged);

    // 503 is retried (once, per the options), then the source fails with the status; data stays live.
    *server.behaviour.lock().expect("lock") = Behaviour::Unavailable;
    let before = server.requests.load(Ordering::SeqCst);
    let fourth = updater.run_source(&source).await;
    let SourceOutcome::Failed(reason) = &fourth.outcome else {
        panic!("{fourth:?}");
    };
    assert!(reason.contains("503"), "{reason}");
    assert_eq!(server.requests.load(Ordering::SeqCst) - before, 2);
    assert_eq!(
        updater.store().latest("alpine/v3.19/main").await?,
        Some(live.clone())
    );

    // A truncated body fails the download, never a half-parsed feed.
    *server.behaviour.lock().expect("lock") = Behaviour::Truncated;
    let fifth = updater.run_source(&source).await;
    assert!(
        matches!(fifth.outcome, SourceOutcome::Failed(_)),
        "{fifth:?}"
    );
    assert_eq!(
        updater.store().latest("alpine/v3.19/main").await?,
        Some(live.clone())
    );

    // New content: downloaded, parsed, a new live operation.
    let mut doc: serde_json::Value = serde_json::from_slice(&secdb)?;
    doc["packages"].as_array_mut().expect("packages").remove(0);
    *server.body.lock().expect("lock") = serde_json::to_vec(&doc)?;
    *server.behaviour.lock().expect("lock") = Behaviour::Validators;
    let sixth = updater.run_source(&source).await;
    assert!(
        matches!(sixth.outcome, SourceOutcome::Updated(_)),
        "{sixth:?}"
    );
    assert_ne!(
        updater.store().latest("alpine/v3.19/main").await?,
        Some(live)
    );
    let status = updater.store().feed_status().await?;
    assert_eq!(status.len(), 1);
    assert!(status[0].last_error.is_empty());
    assert!(status[0].fingerprint.contains("etag="));
    Ok(())
}

#[tokio::test]
async fn last_modified_only_servers_and_stalled_bodies() -> Result<()> {
    let db = harness::database().await?;
    let secdb = std::fs::read(shared_testdata(
        "ecosystems/alpine/testdata/v3.19-main.json",
    ))?;
    let server = feed_server(secdb).await?;
    *server.behaviour.lock().expect("lock") = Behaviour::LastModified;
    let source = FeedSource {
        name: "alpine/v3.19/main".to_owned(),
        origin: Origin::Url(server.url.clone()),
        format: FeedFormat::AlpineSecdb,
    };
    // A short read timeout, so a stalled body fails in a second rather than the production minute.
    let http = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build()?;
    let updater = FeedUpdater::new(
        FeedStore::new(db.clone()),
        http,
        None,
        UpdaterOptions {
            fetch: FetchOptions {
                retries: 1,
                backoff: Duration::from_millis(20),
                ..FetchOptions::default()
            },
            keep_operations: 2,
        },
    );

    let first = updater.run_source(&source).await;
    assert!(
        matches!(first.outcome, SourceOutcome::Updated(_)),
        "{first:?}"
    );
    let live = updater.store().latest("alpine/v3.19/main").await?;
    // Only Last-Modified: sent back as If-Modified-Since, answered 304, nothing written.
    let second = updater.run_source(&source).await;
    assert_eq!(second.outcome, SourceOutcome::Unchanged);
    assert_eq!(server.conditional.load(Ordering::SeqCst), 1);
    let status = updater.store().feed_status().await?;
    assert!(
        status[0]
            .fingerprint
            .contains(&format!("last-modified={LAST_MODIFIED}")),
        "{}",
        status[0].fingerprint
    );

    // A server that stalls mid-body: the read times out, is retried, then the source fails with the
    // reason recorded and the previous data stays live.
    *server.behaviour.lock().expect("lock") = Behaviour::Stalled;
    let before = server.requests.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let stalled = updater.run_source(&source).await;
    let SourceOutcome::Failed(reason) = &stalled.outcome else {
        panic!("{stalled:?}");
    };
    assert!(reason.contains("fetch failed"), "{reason}");
    assert_eq!(
        server.requests.load(Ordering::SeqCst) - before,
        2,
        "one retry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "timeouts bound the run"
    );
    assert_eq!(updater.store().latest("alpine/v3.19/main").await?, live);
    let status = updater.store().feed_status().await?;
    assert!(!status[0].last_error.is_empty());
    Ok(())
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

#[tokio::test]
async fn amazon_updateinfo_is_found_through_the_mirror_list_and_repomd() -> Result<()> {
    use sha2::Digest as _;
    let db = harness::database().await?;
    let server = feed_server(Vec::new()).await?;
    let publish = |updateinfo: &[u8], revision: &str| -> Result<()> {
        let compressed = gzip(updateinfo)?;
        let checksum = hex::encode(sha2::Sha256::digest(&compressed));
        let location = format!("repodata/{revision}-updateinfo.xml.gz");
        let repomd = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>{revision}</revision>
  <data type="updateinfo">
    <checksum type="sha256">{checksum}</checksum>
    <location href="{location}"/>
  </data>
</repomd>"#
        );
        let mut routes = server.routes.lock().expect("lock");
        routes.insert(
            "/al2023/core/mirrors/latest/x86_64/mirror.list".into(),
            format!("{}/al2023/core/guids/abc/x86_64/\n", server.base).into_bytes(),
        );
        routes.insert(
            "/al2023/core/guids/abc/x86_64/repodata/repomd.xml".into(),
            repomd.into_bytes(),
        );
        routes.insert(
            format!("/al2023/core/guids/abc/x86_64/{location}"),
            compressed,
        );
        Ok(())
    };
    let original = std::fs::read(shared_testdata(
        "ecosystems/amazon/testdata/updateinfo-al2023.xml",
    ))?;
    publish(&original, "1")?;
    let mirrors = catalog::FeedMirrors {
        amazon: server.base.clone(),
        ..catalog::FeedMirrors::default()
    };
    let source = catalog::online(&mirrors)
        .into_iter()
        .find(|s| s.name == "amzn/2023")
        .expect("amzn/2023 in the catalog");
    let updater = updater(&db, None)?;

    let first = updater.run_source(&source).await;
    let SourceOutcome::Updated(ops) = &first.outcome else {
        panic!("{first:?}");
    };
    assert_eq!(ops[0].added, 5, "{ops:?}");
    assert_eq!(live_names(&db, "amzn/2023").await?.len(), 5);

    // Unchanged: the mirror list and repomd only; the updateinfo itself is not downloaded again.
    server.paths.lock().expect("lock").clear();
    let second = updater.run_source(&source).await;
    assert_eq!(second.outcome, SourceOutcome::Unchanged);
    let paths = server.paths.lock().expect("lock").clone();
    assert_eq!(
        paths,
        [
            "/al2023/core/mirrors/latest/x86_64/mirror.list",
            "/al2023/core/guids/abc/x86_64/repodata/repomd.xml"
        ]
    );

    // A new revision without the openssl advisory: a new operation that removes it.
    let text = String::from_utf8(original)?;
    let start = text.find("<update author").and_then(|first| {
        text[first + 1..]
            .find("<update author")
            .map(|second| first + 1 + second)
    });
    let start = start.expect("second update");
    let end = start + text[start..].find("</update>").expect("end") + "</update>".len();
    let without_openssl = format!("{}{}", &text[..start], &text[end..]);
    publish(without_openssl.as_bytes(), "2")?;
    let third = updater.run_source(&source).await;
    let SourceOutcome::Updated(ops) = &third.outcome else {
        panic!("{third:?}");
    };
    assert_eq!((ops[0].added, ops[0].removed), (0, 1), "{ops:?}");
    assert!(
        !live_names(&db, "amzn/2023")
            .await?
            .contains(&"ALAS2023-2024-500".to_owned())
    );

    // A repository whose repomd names no updateinfo fails with that reason; the data stays live.
    server.routes.lock().expect("lock").insert(
        "/al2023/core/guids/abc/x86_64/repodata/repomd.xml".into(),
        b"<repomd><revision>3</revision></repomd>".to_vec(),
    );
    let fourth = updater.run_source(&source).await;
    let SourceOutcome::Failed(reason) = &fourth.outcome else {
        panic!("{fourth:?}");
    };
    assert!(reason.contains("no updateinfo"), "{reason}");
    assert_eq!(live_names(&db, "amzn/2023").await?.len(), 4);
    Ok(())
}

#[tokio::test]
async fn oracle_suse_and_photon_feeds_are_conditional_and_failures_keep_the_previous_data()
-> Result<()> {
    let db = harness::database().await?;
    let updater = updater(&db, None)?;
    let read = |relative: &str| std::fs::read(shared_testdata(relative));
    // Each feed as its host publishes it (Oracle's `.bz2` served decompressed: the format is sniffed).
    let feeds: [(&str, Vec<u8>, u64, &str); 3] = [
        (
            "ol/9",
            read("ecosystems/oracle/testdata/com.oracle.elsa-excerpt.xml")?,
            15,
            "/com.oracle.elsa-ol9.xml.bz2",
        ),
        (
            "sles/15",
            gzip(&read(
                "ecosystems/suse/testdata/suse.linux.enterprise.server.15-excerpt.xml",
            )?)?,
            5,
            "/suse.linux.enterprise.server.15.xml.gz",
        ),
        (
            "photon/5.0",
            read("ecosystems/photon/testdata/cve_data_photon5.0.json")?,
            6,
            "/cve_data_photon5.0.json",
        ),
    ];
    for (name, body, records, path) in feeds {
        let server = feed_server(body.clone()).await?;
        let mirrors = catalog::FeedMirrors {
            oracle: server.base.clone(),
            suse: server.base.clone(),
            photon: server.base.clone(),
            ..catalog::FeedMirrors::default()
        };
        let source = catalog::online(&mirrors)
            .into_iter()
            .find(|s| s.name == name)
            .expect("in the catalog");

        let first = updater.run_source(&source).await;
        let SourceOutcome::Updated(ops) = &first.outcome else {
            panic!("{name}: {first:?}");
        };
        assert_eq!(ops[0].added, records, "{name}: {ops:?}");
        assert_eq!(live_names(&db, name).await?.len() as u64, records, "{name}");
        assert_eq!(*server.paths.lock().expect("lock"), [path], "{name}");
        let live = updater.store().latest(name).await?;
        assert!(live.is_some(), "{name}");

        // Unchanged: the ETag goes back, 304, nothing written.
        let second = updater.run_source(&source).await;
        assert_eq!(second.outcome, SourceOutcome::Unchanged, "{name}");
        assert_eq!(server.conditional.load(Ordering::SeqCst), 1, "{name}");

        // A broken document (cut in half, served whole with a new ETag): the run fails as malformed and
        // the previous data stays live.
        *server.body.lock().expect("lock") = body[..body.len() / 2].to_vec();
        let third = updater.run_source(&source).await;
        let SourceOutcome::Failed(reason) = &third.outcome else {
            panic!("{name}: {third:?}");
        };
        assert!(reason.contains("malformed"), "{name}: {reason}");
        assert_eq!(updater.store().latest(name).await?, live, "{name}");
        assert_eq!(live_names(&db, name).await?.len() as u64, records, "{name}");

        // The host down: retried, failed with the status, data still live.
        *server.behaviour.lock().expect("lock") = Behaviour::Unavailable;
        let fourth = updater.run_source(&source).await;
        let SourceOutcome::Failed(reason) = &fourth.outcome else {
            panic!("{name}: {fourth:?}");
        };
        assert!(reason.contains("503"), "{name}: {reason}");
        assert_eq!(updater.store().latest(name).await?, live, "{name}");

        // Back with the original document: it matches the live fingerprint, nothing written.
        *server.body.lock().expect("lock") = body;
        *server.behaviour.lock().expect("lock") = Behaviour::Validators;
        let fifth = updater.run_source(&source).await;
        assert_eq!(fifth.outcome, SourceOutcome::Unchanged, "{name}");
        assert_eq!(updater.store().latest(name).await?, live, "{name}");
        let status = updater.store().feed_status().await?;
        let row = status
            .iter()
            .find(|s| s.source == name)
            .expect("status row");
        assert!(row.last_error.is_empty(), "{name}: {}", row.last_error);
    }
    Ok(())
}

#[tokio::test]
async fn oracle_suse_and_photon_folders_in_their_native_layout() -> Result<()> {
    let db = harness::database().await?;
    let dir = tempfile::tempdir()?;
    let put = |to: &str, bytes: &[u8]| -> Result<()> {
        let target = dir.path().join(to);
        std::fs::create_dir_all(target.parent().expect("has a parent"))?;
        std::fs::write(target, bytes)?;
        Ok(())
    };
    let read = |relative: &str| std::fs::read(shared_testdata(relative));
    let elsa = read("ecosystems/oracle/testdata/com.oracle.elsa-excerpt.xml")?;
    // Oracle's three layouts (per release, per year, all-in-one) under the names Oracle gives them.
    put("oracle/com.oracle.elsa-ol9.xml", &elsa)?;
    put("oracle/com.oracle.elsa-2023.xml", &elsa)?;
    put("oracle/com.oracle.elsa-all.xml", &elsa)?;
    // A single-advisory file is not a feed of its own.
    put("oracle/com.oracle.elsa-20190109.xml", &elsa)?;
    put(
        "suse/suse.linux.enterprise.server.15.xml.gz",
        &gzip(&read(
            "ecosystems/suse/testdata/suse.linux.enterprise.server.15-excerpt.xml",
        )?)?,
    )?;
    put(
        "suse/opensuse.leap.15.6.xml",
        &read("ecosystems/suse/testdata/opensuse.leap.15.6-excerpt.xml")?,
    )?;
    put(
        "photon/cve_data_photon5.0.json.gz",
        &gzip(&read("ecosystems/photon/testdata/cve_data_photon5.0.json")?)?,
    )?;
    put(
        "photon/cve_data_photon4.0.json",
        &read("ecosystems/photon/testdata/cve_data_photon4.0.json")?,
    )?;
    put(
        "photon/photon_versions.json",
        br#"{"branches":["4.0","5.0"]}"#,
    )?;

    let (sources, ignored) = catalog::discover(dir.path());
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ol",
            "ol-2023",
            "ol/9",
            "opensuse-leap/15.6",
            "photon/4.0",
            "photon/5.0",
            "sles/15"
        ]
    );
    assert_eq!(
        ignored,
        [
            dir.path().join("oracle/com.oracle.elsa-20190109.xml"),
            dir.path().join("photon/photon_versions.json")
        ]
    );
    let updater = updater(&db, None)?;
    let summary = updater.run(&sources, |_| {}).await?;
    let added: Vec<(&str, u64)> = summary
        .sources
        .iter()
        .map(|report| match &report.outcome {
            SourceOutcome::Updated(ops) => (report.source.as_str(), ops[0].added),
            other => panic!("{}: {other:?}", report.source),
        })
        .collect();
    assert_eq!(
        added,
        [
            ("ol", 15),
            ("ol-2023", 15),
            ("ol/9", 15),
            ("opensuse-leap/15.6", 4),
            ("photon/4.0", 2),
            ("photon/5.0", 6),
            ("sles/15", 5)
        ]
    );
    let rerun = updater.run(&sources, |_| {}).await?;
    assert!(
        rerun
            .sources
            .iter()
            .all(|s| s.outcome == SourceOutcome::Unchanged),
        "{rerun:?}"
    );
    Ok(())
}

#[test]
fn online_catalog_names_every_public_source() {
    let sources = catalog::online(&catalog::FeedMirrors::default());
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "debian",
        "ubuntu/noble",
        "alpine/v3.19/main",
        "alpine/edge/community",
        "osv/PyPI",
        "osv/crates.io",
        "wolfi",
        "chainguard",
        "rhel",
        "amzn/2023",
        "amzn/2",
        "ol/9",
        "ol/8",
        "sles/15",
        "opensuse-leap/15.6",
        "photon/5.0",
        "nvd/2024",
        "kev",
        "epss",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let pypi = sources.iter().find(|s| s.name == "osv/PyPI").expect("PyPI");
    assert_eq!(
        pypi.origin,
        Origin::Url("https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip".to_owned())
    );
}

#[tokio::test]
async fn export_then_import_reproduces_the_live_database() -> Result<()> {
    use lucid::feeds::archive;
    let source_db = harness::database().await?;
    let folder = feed_folder()?;
    let (sources, _) = catalog::discover(folder.path());
    updater(&source_db, None)?.run(&sources, |_| {}).await?;
    let source_store = FeedStore::new(source_db.clone());

    let mut file = tempfile::tempfile()?;
    let exported = archive::export(&source_store, &mut file).await?;
    assert_eq!(
        exported.updaters,
        source_store.latest_operations().await?.len()
    );
    assert!(exported.records > 100, "{exported:?}");

    let target_db = harness::database().await?;
    let target = FeedStore::new(target_db.clone());
    std::io::Seek::rewind(&mut file)?;
    let imported = archive::import(&target, &mut file).await?;
    assert_eq!(imported.updaters, exported.updaters);
    assert_eq!(imported.records, exported.records);
    assert_eq!(imported.committed, exported.updaters);
    for updater in source_store.latest_operations().await?.keys() {
        assert_eq!(
            live_names(&target_db, updater).await?,
            live_names(&source_db, updater).await?,
            "{updater}"
        );
    }
    assert_eq!(count(&target_db, "enrichment").await?, 3);
    assert_eq!(
        count(&target_db, "vulnerability").await?,
        count(&source_db, "vulnerability").await?
    );

    // Importing the same file again changes nothing.
    std::io::Seek::rewind(&mut file)?;
    let again = archive::import(&target, &mut file).await?;
    assert_eq!(again.committed, 0);

    // A truncated archive is rejected before anything is committed.
    std::io::Seek::rewind(&mut file)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    let truncated = std::io::Cursor::new(bytes[..bytes.len() * 2 / 3].to_vec());
    let empty_db = harness::database().await?;
    let err = archive::import(&FeedStore::new(empty_db.clone()), truncated)
        .await
        .expect_err("truncated");
    assert!(err.to_string().contains("feed archive"), "{err}");
    assert_eq!(count(&empty_db, "update_operation").await?, 0);
    // Not an archive at all.
    let err = archive::import(
        &FeedStore::new(empty_db),
        std::io::Cursor::new(b"{}".to_vec()),
    )
    .await
    .expect_err("garbage");
    assert!(
        err.to_string().contains("not zstd") || err.to_string().contains("malformed"),
        "{err}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Red Hat CSAF VEX: the published directory (archive + changes.csv + deletions.csv), online and in a folder.
// ---------------------------------------------------------------------------------------------------------

fn rhel_testdata(name: &str) -> Result<Vec<u8>> {
    Ok(std::fs::read(shared_testdata(&format!(
        "ecosystems/rhel/testdata/{name}"
    )))?)
}

/// A `csaf_vex_<date>.tar.zst` archive in Red Hat's layout (`<year>/cve-….json`), built from real documents.
fn vex_archive(documents: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, bytes) in documents {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *bytes)?;
    }
    Ok(zstd::encode_all(&builder.into_inner()?[..], 3)?)
}

/// The curl document with every RHEL `libcurl-devel` fix turned into "known affected" (no fix): a change
/// of one record.
fn curl_with_libcurl_devel_unfixed(curl: &[u8]) -> Result<Vec<u8>> {
    let mut doc: serde_json::Value = serde_json::from_slice(curl)?;
    let status = &mut doc["vulnerabilities"][0]["product_status"];
    let fixed: Vec<serde_json::Value> = status["fixed"].as_array().expect("fixed list").clone();
    let (moved, kept): (Vec<_>, Vec<_>) = fixed
        .into_iter()
        .partition(|id| id.as_str().is_some_and(|s| s.contains(":libcurl-devel-")));
    assert!(!moved.is_empty());
    status["fixed"] = serde_json::Value::Array(kept);
    status["known_affected"] = serde_json::Value::Array(moved);
    Ok(serde_json::to_vec(&doc)?)
}

async fn live_records(
    db: &lucid::store::Database,
    updater: &str,
) -> Result<Vec<(String, String, String)>> {
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT v.name, v.package_name, v.fixed_in_version FROM vulnerability v
             JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
             JOIN latest_update_operation l ON l.uo_id = uv.uo_id
             WHERE l.updater = $1 ORDER BY 1, 2, 3",
            &[&updater],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

fn record_keys(records: &[Vulnerability]) -> Vec<(String, String, String)> {
    let mut keys: Vec<_> = records
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                r.package_name.clone(),
                r.fixed_in_version.clone(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[tokio::test]
async fn rhel_vex_loads_the_archive_then_only_changed_documents() -> Result<()> {
    use lucid::ecosystems::rhel::vex::parse_vex;
    let db = harness::database().await?;
    let curl = rhel_testdata("cve-2023-38545.json")?;
    let sudo = rhel_testdata("cve-2023-22809-rhel-excerpt.json")?;
    let samba = rhel_testdata("cve-2023-4154.json")?;
    let kernel = rhel_testdata("cve-2021-0084.json")?;
    // `body` (every path not routed) is changes.csv, answered with an ETag and 304 on a match.
    let changes_v1 = "\"2023/cve-2023-4154.json\",\"2026-11-23T08:00:00+00:00\"\n\
                      \"2023/cve-2023-38545.json\",\"2026-11-20T10:00:00+00:00\"\n";
    let server = feed_server(changes_v1.as_bytes().to_vec()).await?;
    let route = |path: &str, body: Vec<u8>| {
        server
            .routes
            .lock()
            .expect("lock")
            .insert(format!("/vex/{path}"), body);
    };
    route(
        "archive_latest.txt",
        b"csaf_vex_2026-11-22.tar.zst\n".to_vec(),
    );
    route(
        "csaf_vex_2026-11-22.tar.zst",
        vex_archive(&[
            ("2021/cve-2021-0084.json", &kernel),
            ("2023/cve-2023-22809.json", &sudo),
            ("2023/cve-2023-38545.json", &curl),
            ("2023/cve-2023-4154.json", &samba),
        ])?,
    );
    // A deletion from before the archive: already reflected in it, ignored.
    route(
        "deletions.csv",
        b"\"2023/cve-2023-22809.json\",\"2026-11-01T00:00:00+00:00\"\n".to_vec(),
    );
    route("2023/cve-2023-4154.json", samba.clone());
    let mirrors = catalog::FeedMirrors {
        rhel_vex: format!("{}/vex/", server.base),
        ..catalog::FeedMirrors::default()
    };
    let source = catalog::online(&mirrors)
        .into_iter()
        .find(|s| s.name == "rhel")
        .expect("rhel (VEX) in the catalog");
    let queue = Arc::new(MemoryQueue::new("notify", Duration::from_secs(30)));
    let updater = updater(&db, Some(queue.clone()))?;

    // First run: the archive, then the one change dated after it (the older one is in the archive).
    let first = updater.run_source(&source).await;
    let SourceOutcome::Updated(ops) = &first.outcome else {
        panic!("{first:?}");
    };
    let mut expected = parse_vex(&curl)?;
    expected.extend(parse_vex(&sudo)?);
    assert_eq!(
        ops[0].added as usize,
        record_keys(&expected).len(),
        "{ops:?}"
    );
    assert_eq!(live_records(&db, "rhel").await?, record_keys(&expected));
    let mut paths = server.paths.lock().expect("lock").clone();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/vex/2023/cve-2023-4154.json",
            "/vex/archive_latest.txt",
            "/vex/changes.csv",
            "/vex/csaf_vex_2026-11-22.tar.zst",
            "/vex/deletions.csv"
        ]
    );
    let first_op = updater.store().latest("rhel").await?.expect("live");
    let status = updater.store().feed_status().await?;
    let fingerprint = &status[0].fingerprint;
    assert!(
        fingerprint.contains("archive=csaf_vex_2026-11-22.tar.zst")
            && fingerprint.contains("high-water=2026-11-23T08:00:00Z")
            && fingerprint.contains(&format!("operation={}", first_op.reference)),
        "{fingerprint}"
    );
    assert_eq!(drain(&queue).await?.len(), 1);

    // Unchanged: one conditional request for changes.csv, answered 304; nothing written or queued.
    server.paths.lock().expect("lock").clear();
    let operations_before = count(&db, "update_operation").await?;
    let second = updater.run_source(&source).await;
    assert_eq!(second.outcome, SourceOutcome::Unchanged);
    assert_eq!(*server.paths.lock().expect("lock"), ["/vex/changes.csv"]);
    assert_eq!(server.conditional.load(Ordering::SeqCst), 1);
    assert_eq!(count(&db, "update_operation").await?, operations_before);
    assert!(drain(&queue).await?.is_empty());

    // A changed document and a deletion: only those are fetched, and the new operation differs from the
    // previous one by exactly their records.
    let curl_v2 = curl_with_libcurl_devel_unfixed(&curl)?;
    route("2023/cve-2023-38545.json", curl_v2.clone());
    route(
        "deletions.csv",
        b"\"2023/cve-2023-22809.json\",\"2026-11-28T09:00:00+00:00\"\n\
          \"2023/cve-2023-22809.json\",\"2026-11-01T00:00:00+00:00\"\n"
            .to_vec(),
    );
    *server.body.lock().expect("lock") =
        format!("\"2023/cve-2023-38545.json\",\"2026-11-28T10:00:00+00:00\"\n{changes_v1}")
            .into_bytes();
    server.paths.lock().expect("lock").clear();
    let third = updater.run_source(&source).await;
    let SourceOutcome::Updated(ops) = &third.outcome else {
        panic!("{third:?}");
    };
    let sudo_records = record_keys(&parse_vex(&sudo)?).len() as u64;
    assert_eq!(
        (ops[0].added, ops[0].removed),
        (1, 1 + sudo_records),
        "{ops:?}"
    );
    let mut paths = server.paths.lock().expect("lock").clone();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/vex/2023/cve-2023-38545.json",
            // At the previous high-water second: fetched again in case it changed within that second.
            "/vex/2023/cve-2023-4154.json",
            "/vex/archive_latest.txt",
            "/vex/changes.csv",
            "/vex/deletions.csv"
        ]
    );
    let messages = drain(&queue).await?;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].prev, Some(first_op.reference));
    let diff = updater
        .store()
        .diff(messages[0].prev, messages[0].cur)
        .await?
        .expect("diff");
    let added: Vec<(&str, &str, &str)> = diff
        .added
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.package_name.as_str(),
                r.fixed_in_version.as_str(),
            )
        })
        .collect();
    assert_eq!(added, [("CVE-2023-38545", "libcurl-devel", "")]);
    let mut removed: Vec<(&str, &str)> = diff
        .removed
        .iter()
        .map(|r| (r.name.as_str(), r.package_name.as_str()))
        .collect();
    removed.dedup_by_key(|(name, _)| *name);
    assert_eq!(
        removed,
        [
            ("CVE-2023-22809", "sudo"),
            ("CVE-2023-38545", "libcurl-devel")
        ]
    );
    assert_eq!(diff.removed.len() as u64, 1 + sudo_records);
    assert!(
        diff.removed
            .iter()
            .filter(|r| r.name == "CVE-2023-38545")
            .all(|r| r.fixed_in_version == "0:7.76.1-26.el9_3.2")
    );
    assert_eq!(
        live_records(&db, "rhel").await?,
        record_keys(&parse_vex(&curl_v2)?)
    );
    let live = updater.store().latest("rhel").await?;

    // A changed document that does not parse: the run fails naming it; the previous data stays live.
    route("2023/cve-2023-4154.json", samba[..samba.len() / 2].to_vec());
    *server.body.lock().expect("lock") = format!(
        "\"2023/cve-2023-4154.json\",\"2026-11-29T00:00:00+00:00\"\n\
         \"2023/cve-2023-38545.json\",\"2026-11-28T10:00:00+00:00\"\n{changes_v1}"
    )
    .into_bytes();
    let broken = updater.run_source(&source).await;
    let SourceOutcome::Failed(reason) = &broken.outcome else {
        panic!("{broken:?}");
    };
    assert!(
        reason.contains("malformed") && reason.contains("2023/cve-2023-4154.json"),
        "{reason}"
    );
    assert_eq!(updater.store().latest("rhel").await?, live);
    let status = updater.store().feed_status().await?;
    assert_eq!(status[0].last_error, *reason);

    // A newer archive dated after the high-water mark: changes.csv no longer covers the gap, so the run
    // reloads from it. A broken archive fails the run; the previous data stays live.
    route(
        "archive_latest.txt",
        b"csaf_vex_2026-12-01.tar.zst".to_vec(),
    );
    let good_archive = vex_archive(&[
        ("2021/cve-2021-0084.json", &kernel),
        ("2023/cve-2023-38545.json", &curl_v2),
        ("2023/cve-2023-4154.json", &samba),
    ])?;
    route(
        "csaf_vex_2026-12-01.tar.zst",
        good_archive[..good_archive.len() / 2].to_vec(),
    );
    let broken = updater.run_source(&source).await;
    let SourceOutcome::Failed(reason) = &broken.outcome else {
        panic!("{broken:?}");
    };
    assert!(reason.contains("VEX archive"), "{reason}");
    assert_eq!(updater.store().latest("rhel").await?, live);
    // Garbage instead of zstd, too.
    route(
        "csaf_vex_2026-12-01.tar.zst",
        b"<html>maintenance</html>".to_vec(),
    );
    let broken = updater.run_source(&source).await;
    assert!(
        matches!(&broken.outcome, SourceOutcome::Failed(r) if r.contains("not zstd")),
        "{broken:?}"
    );
    assert_eq!(updater.store().latest("rhel").await?, live);

    // The good archive holds the state the incremental runs built: reloading it changes nothing.
    route("csaf_vex_2026-12-01.tar.zst", good_archive);
    let reloaded = updater.run_source(&source).await;
    assert_eq!(reloaded.outcome, SourceOutcome::Unchanged, "{reloaded:?}");
    assert_eq!(updater.store().latest("rhel").await?, live);
    let status = updater.store().feed_status().await?;
    assert!(status[0].last_error.is_empty());
    assert!(
        status[0]
            .fingerprint
            .contains("archive=csaf_vex_2026-12-01.tar.zst"),
        "{}",
        status[0].fingerprint
    );
    Ok(())
}

#[tokio::test]
async fn rhel_vex_folder_with_an_archive_deletions_and_loose_documents() -> Result<()> {
    use lucid::ecosystems::rhel::vex::parse_vex;
    let db = harness::database().await?;
    let curl = rhel_testdata("cve-2023-38545.json")?;
    let sudo = rhel_testdata("cve-2023-22809-rhel-excerpt.json")?;
    let curl_v2 = curl_with_libcurl_devel_unfixed(&curl)?;
    // A mirror of Red Hat's directory: the archive, deletions.csv, and a newer copy of one document.
    let dir = tempfile::tempdir()?;
    let vex = dir.path().join("csaf/v2/vex");
    std::fs::create_dir_all(vex.join("2023"))?;
    std::fs::write(
        vex.join("csaf_vex_2026-11-22.tar.zst"),
        vex_archive(&[
            ("2023/cve-2023-22809.json", &sudo),
            ("2023/cve-2023-38545.json", &curl),
        ])?,
    )?;
    std::fs::write(
        vex.join("deletions.csv"),
        "\"2023/cve-2023-22809.json\",\"2026-11-25T00:00:00+00:00\"\n",
    )?;
    std::fs::write(vex.join("2023/cve-2023-38545.json"), &curl_v2)?;
    std::fs::write(
        vex.join("archive_latest.txt"),
        "csaf_vex_2026-11-22.tar.zst",
    )?;
    // A deletions.csv with no archive next to it is not a feed file.
    std::fs::write(dir.path().join("deletions.csv"), "x")?;

    let (sources, ignored) = catalog::discover(dir.path());
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].name, "rhel");
    let Origin::Files(files) = &sources[0].origin else {
        panic!("{:?}", sources[0].origin);
    };
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        ignored,
        [
            dir.path().join("csaf/v2/vex/archive_latest.txt"),
            dir.path().join("deletions.csv")
        ]
    );
    let updater = updater(&db, None)?;
    let report = updater.run_source(&sources[0]).await;
    assert!(
        matches!(report.outcome, SourceOutcome::Updated(_)),
        "{report:?}"
    );
    assert_eq!(
        live_records(&db, "rhel").await?,
        record_keys(&parse_vex(&curl_v2)?)
    );
    let again = updater.run_source(&sources[0]).await;
    assert_eq!(again.outcome, SourceOutcome::Unchanged);

    // A broken archive fails the source and keeps the data.
    let live = updater.store().latest("rhel").await?;
    std::fs::write(vex.join("csaf_vex_2026-11-22.tar.zst"), b"not an archive")?;
    let broken = updater.run_source(&sources[0]).await;
    assert!(
        matches!(&broken.outcome, SourceOutcome::Failed(r) if r.contains("VEX archive")),
        "{broken:?}"
    );
    assert_eq!(updater.store().latest("rhel").await?, live);
    Ok(())
}

#[test]
fn rhel_oval_is_an_alternative_run_when_named() -> Result<()> {
    let mirrors = catalog::FeedMirrors::default();
    let online: Vec<String> = catalog::online(&mirrors)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(online.contains(&"rhel".to_owned()));
    assert!(!online.iter().any(|n| n.starts_with("rhel-oval")));
    let config = |only: &[&str]| lucid::config::FeedConfig {
        only: only.iter().map(|s| s.to_string()).collect(),
        dir: None,
        mirrors: mirrors.clone(),
        keep_operations: 3,
    };
    let names =
        |sources: Vec<FeedSource>| -> Vec<String> { sources.into_iter().map(|s| s.name).collect() };
    assert_eq!(
        names(catalog::sources_named(
            &config(&[]),
            &["rhel-oval".to_owned()]
        )?),
        ["rhel-oval/7", "rhel-oval/8", "rhel-oval/9"]
    );
    assert_eq!(
        names(catalog::sources_named(&config(&["rhel-oval/9"]), &[])?),
        ["rhel-oval/9"]
    );
    assert_eq!(
        names(catalog::sources_named(&config(&["rhel"]), &[])?),
        ["rhel"]
    );
    assert!(
        !names(catalog::configured_sources(&config(&[]))?)
            .iter()
            .any(|n| n.starts_with("rhel-oval"))
    );
    Ok(())
}
