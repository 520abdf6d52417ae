//! Matcher latency benchmark (not a timed test; run it with `bench/match.sh`).
//!
//! Loads every feed found in `LUCID_BENCH_FEEDS` (a folder of advisory files in their native layout, e.g.
//! the machine's reference copy of the public feeds) into a fresh database with the feed store, exactly as
//! `lucid update --from DIR` does, then times `Matcher::vulnerability_report` for manifests of 100, 1,000
//! and 5,000 packages and prints p50/p99 latency per size: reports by a new matcher (cold), by one
//! long-lived matcher back to back (warm), a process's first report after its start-up refresh, and warm
//! reports after the process sat idle. Reports run on the deployed API function's current-thread runtime
//! (`LUCID_BENCH_RUNTIME=multi_thread` for `lucid serve`'s). First, the process's first refresh prints the
//! resident memory it holds (what the API's start-up refresh takes of its 512 MB).
//!
//! Manifests are built from the loaded data so lookups hit real rows: 60 % Debian bookworm dpkg packages
//! (binary `lib<source>` of a source package the Debian OVAL knows), 40 % language packages (PyPI, npm, Go,
//! crates.io names from the OSV records), plus names no feed knows. Half the packages carry a very old
//! version (affected by every fixed record of their package), half a very new one (only unfixed records
//! apply): far more findings than a real image, so the figures are an upper bound.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lucid::feeds::catalog;
use lucid::feeds::source::{Origin, Records};
use lucid::feeds::store::FeedStore;
use lucid::matcher::Matcher;
use lucid::model::{
    Digest, Ecosystem, Environment, IndexReport, IndexState, ReportDistribution, ReportPackage,
};

/// The allocator the binaries use (see the workspace `Cargo.toml`), so the figures are theirs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const WARMUP: usize = 5;
const ITERATIONS: usize = 100;
/// How long the process sits idle before each report of the after-idle table.
const IDLE: Duration = Duration::from_millis(300);

/// This process's peak resident memory (`VmHWM` of `/proc/self/status`), in MiB; 0 where it cannot be read.
fn peak_resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// This process's resident memory (`/proc/self/statm`), in MiB; 0 where it cannot be read.
fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0 / (1024.0 * 1024.0))
}

/// The p50, p95 and max of `sorted` as three table cells.
fn p50_p95_max(sorted: &[Duration]) -> String {
    let ms = |p| percentile(sorted, p).as_secs_f64() * 1e3;
    format!(
        "{:.2} ms | {:.2} ms | {:.2} ms",
        ms(0.50),
        ms(0.95),
        ms(1.0)
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Package names per ecosystem present in the loaded records (deterministic order).
async fn names(db: &lucid::store::Database) -> Result<BTreeMap<String, Vec<String>>> {
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT DISTINCT v.ecosystem, v.dist_did, v.dist_release, v.package_name
             FROM vulnerability v
             WHERE (v.ecosystem = 'dpkg' AND v.dist_did = 'debian' AND v.dist_release = 'bookworm')
                OR v.ecosystem IN ('pypi', 'npm', 'go', 'cargo')
             ORDER BY 1, 2, 3, 4",
            &[],
        )
        .await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        let eco: String = row.get(0);
        out.entry(eco).or_default().push(row.get(3));
    }
    Ok(out)
}

/// Whether half the packages carry ancient versions (the default upper bound) or all current ones
/// (`LUCID_BENCH_VERSIONS=current`: only unfixed records apply, as in an up-to-date image).
fn all_current() -> bool {
    std::env::var("LUCID_BENCH_VERSIONS").is_ok_and(|v| v == "current")
}

fn manifest(size: usize, names: &BTreeMap<String, Vec<String>>) -> IndexReport {
    let mut report = IndexReport::new(
        Digest::sha256_of(format!("bench manifest {size}").as_bytes()),
        IndexState::IndexFinished,
    );
    report.distributions.insert(
        "1".into(),
        ReportDistribution {
            id: "1".into(),
            did: "debian".into(),
            name: "Debian GNU/Linux".into(),
            version_id: "12".into(),
            version_code_name: "bookworm".into(),
            ..Default::default()
        },
    );
    let empty = Vec::new();
    let pick = |eco: &str, i: usize| -> String {
        let list = names.get(eco).unwrap_or(&empty);
        if list.is_empty() || i % 10 == 9 {
            // One name in ten is unknown to every feed, as most packages of a real image are.
            format!("unknown-{eco}-{i}")
        } else {
            list[(i * 7919) % list.len()].clone()
        }
    };
    let mut used = BTreeSet::new();
    for i in 0..size {
        let old = i % 2 == 0 && !all_current();
        let (eco, name, version, source) = match i % 10 {
            0..=5 => {
                let source = pick("dpkg", i);
                let version = if old { "0.1-1" } else { "99:99-1" };
                ("dpkg", format!("lib{source}-{i}"), version, Some(source))
            }
            6 => (
                "pypi",
                pick("pypi", i),
                if old { "0.0.1" } else { "9999.0" },
                None,
            ),
            7 => (
                "npm",
                pick("npm", i),
                if old { "0.0.1" } else { "9999.0.0" },
                None,
            ),
            8 => (
                "go",
                pick("go", i),
                if old { "v0.0.1" } else { "v9999.0.0" },
                None,
            ),
            _ => (
                "cargo",
                pick("cargo", i),
                if old { "0.0.1" } else { "9999.0.0" },
                None,
            ),
        };
        // Language names may repeat across sizes; keep ids unique, and names distinct within a manifest.
        let name = if used.insert((eco, name.clone())) {
            name
        } else {
            format!("{name}-{i}")
        };
        let id = (i + 1).to_string();
        let ecosystem: Ecosystem = eco.parse().unwrap_or(Ecosystem::Dpkg);
        report.packages.insert(
            id.clone(),
            ReportPackage {
                id: id.clone(),
                name,
                version: version.into(),
                kind: "binary".into(),
                source: source.map(|s| {
                    Box::new(ReportPackage {
                        id: format!("{id}-src"),
                        name: s,
                        version: version.into(),
                        kind: "source".into(),
                        ..Default::default()
                    })
                }),
                ecosystem: eco.into(),
                ..Default::default()
            },
        );
        report.environments.insert(
            id,
            vec![Environment {
                package_db: if ecosystem.is_os() {
                    "var/lib/dpkg/status".into()
                } else {
                    format!("{eco}:app")
                },
                introduced_in: String::new(),
                distribution_id: if ecosystem.is_os() {
                    "1".into()
                } else {
                    String::new()
                },
                repository_ids: Vec::new(),
            }],
        );
    }
    report
}

/// `LUCID_BENCH_RUNTIME`: the Tokio runtime the reports run on. `current_thread` (the default) is the
/// deployed API function's (`functions/api`: Lambda hands an environment one request at a time);
/// `multi_thread` (two workers) is `lucid serve`'s, which serves concurrent requests.
fn main() -> Result<()> {
    // The API function's and `lucid serve`'s allocator setting; `LUCID_BENCH_PURGE=1` leaves mimalloc's
    // default (freed memory returned to the OS after a second), to compare.
    if std::env::var_os("LUCID_BENCH_PURGE").is_none() {
        lucid::allocator::keep_freed_memory();
    }
    let runtime = match std::env::var("LUCID_BENCH_RUNTIME").as_deref() {
        Ok("multi_thread") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?,
        Ok("current_thread") | Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        Ok(other) => {
            bail!("LUCID_BENCH_RUNTIME must be current_thread or multi_thread, not {other}")
        }
    };
    println!(
        "reports on a {:?} Tokio runtime",
        runtime.handle().runtime_flavor()
    );
    runtime.block_on(bench())
}

async fn bench() -> Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it, as a smoke
    // run over the repository's own feed samples (so the benchmark cannot rot unnoticed).
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (dir, smoke) = match std::env::var_os("LUCID_BENCH_FEEDS").map(PathBuf::from) {
        Some(dir) => (dir, false),
        None if benchmarking => bail!(
            "set LUCID_BENCH_FEEDS to a folder of feeds (e.g. the reference copy of the public feeds)"
        ),
        None => (harness::repo_root().join("shared/src/feeds/testdata"), true),
    };
    let (warmup, iterations) = if smoke { (1, 3) } else { (WARMUP, ITERATIONS) };
    // LUCID_BENCH_DATABASE_URL: reuse a database a previous run loaded (skips the minute of loading).
    let db = match std::env::var("LUCID_BENCH_DATABASE_URL") {
        Ok(url) => {
            let db = lucid::store::Database::connect(&url, 4, Duration::from_secs(10)).await?;
            db.migrate().await?;
            db
        }
        Err(_) => harness::database().await?,
    };
    let store = FeedStore::new(db.clone());
    let loaded: i64 = db
        .client()
        .await?
        .query_one("SELECT count(*) FROM latest_update_operation", &[])
        .await?
        .get(0);

    let (sources, ignored) = catalog::discover(&dir);
    println!(
        "loading {} sources from {} ({} files not recognised)",
        sources.len(),
        dir.display(),
        ignored.len()
    );
    let load = Instant::now();
    let mut total = 0usize;
    for source in sources.iter().filter(|_| loaded == 0) {
        let Origin::Files(files) = &source.origin else {
            continue;
        };
        let (files, parser) = (files.clone(), source.clone());
        let parsed = tokio::task::spawn_blocking(move || parser.parse(&files))
            .await
            .context("parser panicked")?;
        let groups = match parsed {
            Ok(groups) => groups,
            Err(e) => {
                println!("  skipped {}: {e}", source.name);
                continue;
            }
        };
        let mut count = 0;
        for (updater, records) in groups {
            count += records.len();
            match &records {
                Records::Vulnerabilities(records) => {
                    store.commit(&updater, "bench", records).await?;
                }
                Records::Enrichments(records) => {
                    store.commit_enrichments(&updater, "bench", records).await?;
                }
            }
        }
        store
            .record_attempt(&source.name, Ok(("bench", count as i64)))
            .await?;
        total += count;
    }
    let client = db.client().await?;
    let live: i64 = client
        .query_one("SELECT count(*) FROM vulnerability", &[])
        .await?
        .get(0);
    println!(
        "loaded {total} records ({live} distinct rows) in {:.1} s",
        load.elapsed().as_secs_f64()
    );
    client.batch_execute("ANALYZE").await?;

    let names = names(&db).await?;
    // What the API's start-up refresh holds: measured on this process's first refresh, before any report
    // (the process keeps the memory it frees, `lucid::allocator`, so a later refresh reuses what earlier
    // work freed and its growth says nothing; nor does this one's after loading the feeds here).
    {
        let before = resident_mib();
        let matcher = Matcher::new(db.clone());
        let refresh = matcher.refresh().await?;
        println!(
            "first refresh of the process{}: {} candidates and {} reports in {:.1} s, resident {:.0} → {:.0} MiB (peak {:.0} MiB)",
            if loaded == 0 {
                " (after loading the feeds: growth understated)"
            } else {
                ""
            },
            refresh.candidates,
            refresh.records,
            refresh.elapsed.as_secs_f64(),
            before,
            resident_mib(),
            peak_resident_mib()
        );
    }
    // Two ways a report is produced: `cold`, by a new matcher (every read goes to the database, as the
    // first report after a feed update does), and `warm`, by one long-lived matcher (the API's: candidates
    // and records come from its caches, only the feed freshness query is run).
    println!(
        "| packages | vulnerabilities found | affected packages | cold p50 | cold p99 | warm p50 | warm p99 | warm/cold p50 |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    // LUCID_BENCH_SIZES: a comma-separated subset of sizes (e.g. `1000`), for quicker reruns.
    let sizes: Vec<usize> = match std::env::var("LUCID_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .context("LUCID_BENCH_SIZES must be a comma-separated list of package counts")?,
        Err(_) if smoke => vec![100],
        Err(_) => SIZES.to_vec(),
    };
    // LUCID_BENCH_PROFILE_ONLY=warm|cold: run only that kind of report, many times, printing nothing (for
    // `perf record` of one path).
    let only = std::env::var("LUCID_BENCH_PROFILE_ONLY").ok();
    if let Some(kind) = only.as_deref() {
        let index = manifest(sizes.first().copied().unwrap_or(1_000), &names);
        let matcher = Matcher::new(db.clone());
        for _ in 0..iterations * 5 {
            let matcher = if kind == "cold" {
                Matcher::new(db.clone())
            } else {
                matcher.clone()
            };
            matcher.vulnerability_report_of(index.clone()).await?;
        }
        return Ok(());
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut reads = Vec::new();
    for size in sizes {
        let index = manifest(size, &names);
        let warm_matcher = Matcher::new(db.clone());
        let mut last = None;
        for _ in 0..warmup {
            last = Some(warm_matcher.vulnerability_report(&index).await?);
        }
        let mut cold_reads = lucid::matcher::MatcherReads::default();
        let mut cold = Vec::with_capacity(iterations);
        let mut warm = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            // The API hands the matcher an index report it has just read and no longer needs
            // (`vulnerability_report_of`), so the copy made here is not part of a report's cost; nor is
            // dropping the cold matcher's cache (a process keeps its matcher).
            let (input, again_input) = (index.clone(), index.clone());
            let cold_matcher = Matcher::new(db.clone());
            let start = Instant::now();
            let report = cold_matcher.vulnerability_report_of(input).await?;
            cold.push(start.elapsed());
            cold_reads = cold_matcher.reads();
            let start = Instant::now();
            let again = warm_matcher.vulnerability_report_of(again_input).await?;
            warm.push(start.elapsed());
            drop(cold_matcher);
            if again != report {
                bail!("the warm matcher disagrees with a cold one at {size} packages");
            }
            last = Some(report);
        }
        cold.sort_unstable();
        warm.sort_unstable();
        let report = last.context("no report")?;
        println!(
            "| {size} | {} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.3} |",
            report.vulnerabilities.len(),
            report.package_vulnerabilities.len(),
            ms(percentile(&cold, 0.50)),
            ms(percentile(&cold, 0.99)),
            ms(percentile(&warm, 0.50)),
            ms(percentile(&warm, 0.99)),
            ms(percentile(&warm, 0.50)) / ms(percentile(&cold, 0.50)),
        );
        reads.push((size, cold_reads));
    }
    // The first report of a process whose matcher has loaded every live namespace whole
    // (`Matcher::refresh`, which the API runs in the background at start and after feed switches): it
    // reads no candidates, only the records and enrichments of its matches. Fewer iterations: each loads
    // every namespace again.
    let refreshed_iterations = if smoke { 2 } else { 20 };
    println!();
    println!(
        "| packages | refresh p50 (all namespaces) | candidates loaded | first report after refresh p50 | p95 | max |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &(size, _) in &reads {
        let index = manifest(size, &names);
        let cold = Matcher::new(db.clone())
            .vulnerability_report(&index)
            .await?;
        let mut refreshes = Vec::with_capacity(refreshed_iterations);
        let mut firsts = Vec::with_capacity(refreshed_iterations);
        let mut loaded = 0;
        for _ in 0..refreshed_iterations {
            let matcher = Matcher::new(db.clone());
            let refresh = matcher.refresh().await?;
            refreshes.push(refresh.elapsed);
            loaded = refresh.candidates;
            let input = index.clone();
            // No candidate row may be read. (A namespace no live feed covers, such as the smoke run's
            // ecosystems without samples, is still asked once; it has no rows.)
            let rows = matcher.reads().candidate_rows;
            let start = Instant::now();
            let report = matcher.vulnerability_report_of(input).await?;
            firsts.push(start.elapsed());
            if matcher.reads().candidate_rows != rows {
                bail!("a refreshed matcher read candidates at {size} packages");
            }
            if report != cold {
                bail!("a refreshed matcher disagrees with a cold one at {size} packages");
            }
        }
        refreshes.sort_unstable();
        firsts.sort_unstable();
        println!(
            "| {size} | {:.1} ms | {loaded} | {} |",
            ms(percentile(&refreshes, 0.50)),
            p50_p95_max(&firsts),
        );
    }
    // A warm report after the process sat idle, as an API between sporadic requests: the loops above run
    // reports back to back, with the caches of the CPU (and of this VM's host) holding their data.
    let (idle, idle_iterations) = if smoke {
        (Duration::from_millis(10), 2)
    } else {
        (IDLE, 20)
    };
    println!();
    println!(
        "| packages | warm report after {} ms idle p50 | p95 | max |",
        idle.as_millis()
    );
    println!("|---:|---:|---:|---:|");
    for &(size, _) in &reads {
        let index = manifest(size, &names);
        let matcher = Matcher::new(db.clone());
        let expected = matcher.vulnerability_report(&index).await?;
        let mut after_idle = Vec::with_capacity(idle_iterations);
        for _ in 0..idle_iterations {
            tokio::time::sleep(idle).await;
            let input = index.clone();
            let start = Instant::now();
            let report = matcher.vulnerability_report_of(input).await?;
            after_idle.push(start.elapsed());
            if report != expected {
                bail!("a warm matcher changed its answer at {size} packages");
            }
        }
        after_idle.sort_unstable();
        println!("| {size} | {} |", p50_p95_max(&after_idle));
    }
    // What a cold report reads (a warm one reads only the feed freshness).
    for (size, r) in reads {
        println!(
            "cold report at {size} packages: {} candidate rows in {} queries, {} records",
            r.candidate_rows, r.candidate_queries, r.records
        );
    }
    Ok(())
}
