//! `lucid serve`'s scheduled feed updater: the same run `functions/updater` makes on its EventBridge
//! schedule (`feeds::updater::run_configured`), in a background task every `LUCID_UPDATE_INTERVAL`. The
//! first run is at start when no vulnerability data is loaded yet (else after one interval); when that run
//! reaches no feed at all, the offline snapshot shipped with lucid is loaded instead (see `snapshot.rs`).

use std::sync::Arc;
use std::time::Duration;

use lucid::feeds::store::FeedStore;
use lucid::feeds::updater::SourceOutcome;
use lucid::services::Services;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The running task; [`UpdaterTask::stop`] ends it (an update in flight is abandoned: each feed commits
/// atomically or not at all).
pub struct UpdaterTask {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl UpdaterTask {
    pub fn spawn(services: Arc<Services>, interval: Duration) -> UpdaterTask {
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(services, interval, stopped));
        UpdaterTask { stop, handle }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.handle.await {
            tracing::error!(error = %e, "the feed updater task ended abnormally");
        }
    }
}

/// Parses `LUCID_UPDATE_INTERVAL` / `--update-interval`: a number with an optional unit `s`, `m`, `h`,
/// `d` (seconds by default), at least one minute.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 6h, 30m or 3600"))?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?} (use s, m, h or d)")),
    };
    let secs = n.saturating_mul(unit_secs);
    if secs < 60 {
        return Err(format!("{s:?} is shorter than one minute"));
    }
    Ok(Duration::from_secs(secs))
}

async fn run(services: Arc<Services>, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let empty = match FeedStore::new(services.db.clone())
        .latest_operations()
        .await
    {
        Ok(ops) => !ops.values().any(|op| op.kind == "vulnerability"),
        Err(e) => {
            tracing::warn!(error = %e, "reading the feed state");
            true
        }
    };
    let mut next = if empty {
        Instant::now()
    } else {
        Instant::now() + interval
    };
    let mut first_load = empty;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stopped.changed() => return,
        }
        tokio::select! {
            _ = run_once(&services, first_load) => {}
            _ = stopped.changed() => return,
        }
        first_load = false;
        next = Instant::now() + interval;
    }
}

/// One run, summarized on standard error (the server's log). A `first_load` on an empty database is the
/// first-use load `lucid scan` makes (no retries, so an offline start falls back to the snapshot at once;
/// NVD's CVSS feeds wait for the next scheduled run).
async fn run_once(services: &Services, first_load: bool) {
    let started = std::time::Instant::now();
    let progress = |report: &lucid::feeds::updater::SourceReport| {
        if let SourceOutcome::Failed(reason) = &report.outcome {
            eprintln!("lucid: feed {}: update failed: {reason}", report.source);
        }
    };
    let result = if first_load {
        match lucid::feeds::updater::ensure_loaded(services, progress).await {
            Ok(Some(summary)) if summary.failed().count() == summary.sources.len() => {
                Err(lucid::feeds::FeedError::Fetch {
                    feed: "all sources".to_owned(),
                    reason: format!("every source failed ({})", summary.sources.len()),
                    retryable: true,
                })
            }
            Ok(summary) => Ok(summary.unwrap_or_default()),
            Err(e) => Err(e),
        }
    } else {
        lucid::feeds::updater::run_configured(services, &[], progress).await
    };
    match result {
        Ok(summary) => {
            let count = |f: fn(&SourceOutcome) -> bool| {
                summary.sources.iter().filter(|s| f(&s.outcome)).count()
            };
            eprintln!(
                "lucid: feed update: {} feeds, {} updated, {} unchanged, {} failed ({:.0}s)",
                summary.sources.len(),
                count(|o| matches!(o, SourceOutcome::Updated(_))),
                count(|o| *o == SourceOutcome::Unchanged),
                summary.failed().count(),
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => {
            eprintln!("lucid: feed update failed: {e}");
            match crate::snapshot::load_if_empty(services).await {
                Ok(Some(loaded)) => eprintln!("lucid: {}", loaded.describe()),
                Ok(None) => {}
                Err(e) => eprintln!("lucid: loading the offline feed snapshot failed: {e:#}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse_interval("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_interval("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_interval("10s").is_err());
        assert!(parse_interval("6 weeks").is_err());
        assert!(parse_interval("h").is_err());
    }
}
