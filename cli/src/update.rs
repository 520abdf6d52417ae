//! `lucid update` and `lucid feeds status`: the feed updater run in process, the same code as
//! `functions/updater`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use lucid::feeds::store::FeedStore;
use lucid::feeds::updater::{SourceOutcome, SourceReport};
use lucid::services::Services;

/// Runs the configured feeds (or the folder `from`, air-gapped), printing one line per source. Exit 0 when
/// every source is current, 2 when any failed (their previous data stays live).
pub async fn update(
    services: &Services,
    from: Option<PathBuf>,
    only: &[String],
) -> anyhow::Result<ExitCode> {
    let mut services_config = services.config.feeds.clone();
    if let Some(dir) = from {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("feed folder {}", dir.display()))?;
        services_config.dir = Some(dir);
    }
    let sources = lucid::feeds::catalog::sources_named(&services_config, only)?;
    if sources.is_empty() {
        anyhow::bail!("no feed matches {only:?}");
    }
    let interactive = std::io::stderr().is_terminal();
    let bar = if interactive {
        let bar = indicatif::ProgressBar::new(sources.len() as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} feeds {msg} [{elapsed}]")
        {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let print = |report: &SourceReport| {
        let line = describe(report);
        match &bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => eprintln!("{line}"),
        }
    };
    let updater = lucid::feeds::updater::FeedUpdater::for_services(services)?;
    let summary = updater.run(&sources, print).await?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    // On the embedded default the diffs went to an in-process queue that dies with this process: notify
    // subscribers now (a deployed stack's notifier reads the SQS queue instead).
    if services.notify_queue_is_in_process() {
        let notifier = lucid::notifier::Notifier::for_services(services);
        let handled = lucid::notifier::drain(
            &notifier,
            &*services.notify_queue,
            std::time::Duration::from_millis(200),
        )
        .await
        .context("notifying subscribers of the feed changes")?;
        let sets = handled
            .iter()
            .filter(|h| matches!(h, lucid::notifier::Handled::Planned { .. }))
            .count();
        if sets > 0 {
            eprintln!("{sets} notification set(s) written for the changed feeds");
        }
    }
    let failed = summary.failed().count();
    let records: usize = summary.sources.iter().map(|s| s.records).sum();
    println!(
        "{} feeds: {} updated, {} unchanged, {} failed; {} records parsed; gc removed {} operations and {} records",
        summary.sources.len(),
        summary
            .sources
            .iter()
            .filter(|s| matches!(s.outcome, SourceOutcome::Updated(_)))
            .count(),
        summary
            .sources
            .iter()
            .filter(|s| s.outcome == SourceOutcome::Unchanged)
            .count(),
        failed,
        records,
        summary.gc.operations_deleted,
        summary.gc.vulnerabilities_deleted,
    );
    Ok(if failed > 0 {
        ExitCode::from(crate::EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe(report: &SourceReport) -> String {
    let what = match &report.outcome {
        SourceOutcome::Unchanged => "unchanged".to_owned(),
        SourceOutcome::Busy => "skipped: another update is running it".to_owned(),
        SourceOutcome::Failed(reason) => format!("FAILED: {reason}"),
        SourceOutcome::Updated(ops) => {
            let parts: Vec<String> = ops
                .iter()
                .map(|op| {
                    format!(
                        "{} {} records (+{} -{})",
                        op.updater, op.records, op.added, op.removed
                    )
                })
                .collect();
            format!("updated: {}", parts.join(", "))
        }
    };
    format!("{:<28} {what} [{:.1}s]", report.source, report.seconds)
}

/// `lucid feeds status`: each source's last attempt, success, error and record count.
pub async fn status(services: &Services) -> anyhow::Result<ExitCode> {
    let store = FeedStore::new(services.db.clone());
    let status = store.feed_status().await?;
    if status.is_empty() {
        println!(
            "no feed has been loaded yet: run `lucid update` (or `lucid update --from DIR` offline)"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let when = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| {
            t.replace_nanosecond(0)
                .ok()?
                .format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "never".to_owned())
    };
    println!(
        "{:<28} {:<21} {:<21} {:>8}  LAST ERROR",
        "SOURCE", "LAST SUCCESS", "LAST ATTEMPT", "RECORDS"
    );
    let mut snapshots = std::collections::BTreeSet::new();
    for s in status {
        let snapshot = lucid::feeds::archive::snapshot_date(&s.fingerprint);
        let note = match snapshot {
            Some(date) if s.last_error.is_empty() => format!("(offline snapshot of {date})"),
            _ => s.last_error,
        };
        snapshots.extend(snapshot.map(str::to_owned));
        println!(
            "{:<28} {:<21} {:<21} {:>8}  {}",
            s.source,
            when(s.last_success),
            when(s.last_attempt),
            s.record_count,
            note
        );
    }
    if !snapshots.is_empty() {
        println!(
            "note: feeds marked \"offline snapshot\" hold the snapshot shipped with lucid (dated {}), not live \
             data: `lucid update` replaces them when the feeds are reachable",
            snapshots.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lucid export-feeds FILE`.
pub async fn export(services: &Services, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let store = FeedStore::new(services.db.clone());
    let out = std::fs::File::create(file).with_context(|| format!("{}", file.display()))?;
    let stats = lucid::feeds::archive::export(&store, std::io::BufWriter::new(out)).await?;
    println!(
        "exported {} updaters, {} records to {}",
        stats.updaters,
        stats.records,
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `lucid import-feeds FILE`.
pub async fn import(services: &Services, file: &std::path::Path) -> anyhow::Result<ExitCode> {
    let store = FeedStore::new(services.db.clone());
    let input = std::fs::File::open(file).with_context(|| format!("{}", file.display()))?;
    let stats = lucid::feeds::archive::import(&store, std::io::BufReader::new(input)).await?;
    println!(
        "imported {} updaters ({} changed), {} records from {}",
        stats.updaters,
        stats.committed,
        stats.records,
        file.display()
    );
    Ok(ExitCode::SUCCESS)
}
