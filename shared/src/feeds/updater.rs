//! The feed updater: for each source, take its run lock, fetch with the previous fingerprint, parse, commit
//! one update operation per changed updater, queue the diff for the notifier, record the source's status;
//! then garbage-collect. `functions/updater` (on a schedule) and `lucid update` both call
//! [`FeedUpdater::run`].
//!
//! Failure isolation: a source that fails (fetch error, malformed data, database error) records its reason
//! in `feed_status` and keeps its previous data live; the other sources carry on.

use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::FeedError;
use super::source::{FeedSource, Fetch, FetchOptions, Origin, Records};
use super::store::{CommitOutcome, FeedStore, GcReport};
use crate::ecosystems::rhel::vex_feed::{VexDirectory, VexUpdate};
use crate::queue::Queue;
use crate::store::StoreError;

/// The notifier's work item: one committed diff. `prev` is `None` on a feed's first load, which the
/// notifier does not fan out to subscribers (it would be every historic advisory).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiffMessage {
    pub kind: String,
    pub updater: String,
    pub prev: Option<Uuid>,
    pub cur: Uuid,
}

/// `DiffMessage::kind` of a committed vulnerability diff.
pub const DIFF_MESSAGE_KIND: &str = "update_diff";

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct UpdaterOptions {
    pub fetch: FetchOptions,
    /// Operations kept per updater by garbage collection (the live one included).
    pub keep_operations: usize,
}

impl Default for UpdaterOptions {
    fn default() -> Self {
        UpdaterOptions {
            fetch: FetchOptions::default(),
            keep_operations: 3,
        }
    }
}

/// One updater's committed change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperationSummary {
    pub updater: String,
    pub reference: Uuid,
    pub records: i64,
    pub added: u64,
    pub removed: u64,
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum SourceOutcome {
    /// Same fingerprint, or the same records as the live operation: nothing written.
    Unchanged,
    /// New operations committed (one per changed updater; updaters whose records did not change are absent).
    Updated(Vec<OperationSummary>),
    /// Another run holds the source's lock.
    Busy,
    /// The source failed; its previous data stays live.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceReport {
    pub source: String,
    pub outcome: SourceOutcome,
    /// Records parsed (0 when unchanged or failed).
    pub records: usize,
    pub seconds: f64,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct UpdateSummary {
    pub sources: Vec<SourceReport>,
    pub gc: GcReport,
}

impl UpdateSummary {
    pub fn failed(&self) -> impl Iterator<Item = &SourceReport> {
        self.sources
            .iter()
            .filter(|s| matches!(s.outcome, SourceOutcome::Failed(_)))
    }
}

/// Runs sources against the feed store.
pub struct FeedUpdater {
    store: FeedStore,
    http: reqwest::Client,
    notify: Option<Arc<dyn Queue>>,
    options: UpdaterOptions,
}

/// The HTTP client feeds are downloaded with.
pub fn http_client() -> Result<reqwest::Client, FeedError> {
    reqwest::Client::builder()
        .user_agent(concat!(
            "lucid/",
            env!("CARGO_PKG_VERSION"),
            " (vulnerability feed updater)"
        ))
        .connect_timeout(std::time::Duration::from_secs(15))
        .read_timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| FeedError::Fetch {
            feed: "http".to_owned(),
            reason: e.to_string(),
            retryable: false,
        })
}

impl FeedUpdater {
    /// `notify`: the notifier's queue, which receives a [`DiffMessage`] per committed operation.
    pub fn new(
        store: FeedStore,
        http: reqwest::Client,
        notify: Option<Arc<dyn Queue>>,
        options: UpdaterOptions,
    ) -> FeedUpdater {
        FeedUpdater {
            store,
            http,
            notify,
            options,
        }
    }

    pub fn store(&self) -> &FeedStore {
        &self.store
    }

    /// Runs every source in turn (each bounded in memory by its own data), then garbage-collects.
    /// `progress` is told about each source as it finishes.
    pub async fn run(
        &self,
        sources: &[FeedSource],
        mut progress: impl FnMut(&SourceReport),
    ) -> Result<UpdateSummary, StoreError> {
        let mut summary = UpdateSummary::default();
        for source in sources {
            let report = self.run_source(source).await;
            progress(&report);
            summary.sources.push(report);
        }
        summary.gc = self.store.gc(self.options.keep_operations).await?;
        Ok(summary)
    }

    /// One source: lock, fetch, parse, commit, notify, record status. Never fails as a whole: a failure
    /// is the source's outcome.
    pub async fn run_source(&self, source: &FeedSource) -> SourceReport {
        let span = tracing::info_span!("feed", source = %source.name);
        let _enter = span.enter();
        let started = Instant::now();
        let (outcome, records) = match self.store.try_lock_source(&source.name).await {
            Ok(None) => (SourceOutcome::Busy, 0),
            Err(e) => (SourceOutcome::Failed(e.to_string()), 0),
            Ok(Some(lock)) => {
                if let Err(e) = self.store.record_start(&source.name).await {
                    tracing::warn!(error = %e, "recording the feed run's start");
                }
                let result = self.locked_run(source).await;
                let status = match &result {
                    Ok((_, _, fingerprint, count)) => {
                        self.store
                            .record_attempt(&source.name, Ok((fingerprint, *count)))
                            .await
                    }
                    Err(reason) => self.store.record_attempt(&source.name, Err(reason)).await,
                };
                if let Err(e) = lock.release().await {
                    tracing::warn!(error = %e, "releasing the feed lock");
                }
                match (result, status) {
                    (Ok((outcome, parsed, _, _)), Ok(())) => (outcome, parsed),
                    (Ok((outcome, parsed, _, _)), Err(e)) => {
                        tracing::warn!(error = %e, "recording the feed status");
                        (outcome, parsed)
                    }
                    (Err(reason), _) => (SourceOutcome::Failed(reason), 0),
                }
            }
        };
        match &outcome {
            SourceOutcome::Failed(reason) => tracing::warn!(%reason, "feed update failed"),
            other => tracing::info!(outcome = ?other, records, "feed update"),
        }
        SourceReport {
            source: source.name.clone(),
            outcome,
            records,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// The work under the lock: `(outcome, records parsed, fingerprint, record count)` or a reason.
    async fn locked_run(
        &self,
        source: &FeedSource,
    ) -> Result<(SourceOutcome, usize, String, i64), String> {
        let status = self
            .store
            .feed_status()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|s| s.source == source.name);
        let (previous, previous_count) = status
            .map(|s| (s.fingerprint, s.record_count))
            .unwrap_or_default();
        if let Origin::RedHatVex(base_url) = &source.origin {
            return self
                .locked_run_rhel_vex(source, base_url, &previous, previous_count)
                .await;
        }
        let fetched = source
            .fetch(&self.http, &previous, &self.options.fetch)
            .await
            .map_err(|e| e.to_string())?;
        let (fingerprint, files, download) = match fetched {
            Fetch::Unchanged => {
                return Ok((SourceOutcome::Unchanged, 0, previous, previous_count));
            }
            Fetch::Changed {
                fingerprint,
                files,
                _download,
            } => (fingerprint, files, _download),
        };
        let parser = source.clone();
        let runs = tokio::task::spawn_blocking(move || {
            let runs = parser.parse(&files);
            drop(download);
            runs
        })
        .await
        .map_err(|e| format!("parser stopped: {e}"))?
        .map_err(|e| e.to_string())?;
        let parsed: usize = runs.iter().map(|(_, records)| records.len()).sum();
        let mut committed = Vec::new();
        for (updater, records) in &runs {
            let outcome = match records {
                Records::Vulnerabilities(records) => {
                    self.store.commit(updater, &fingerprint, records).await
                }
                Records::Enrichments(records) => {
                    self.store
                        .commit_enrichments(updater, &fingerprint, records)
                        .await
                }
            }
            .map_err(|e| format!("storing {updater}: {e}"))?;
            if let CommitOutcome::Committed {
                operation,
                previous,
                added,
                removed,
            } = outcome
            {
                // Enrichments change no finding, so only vulnerability diffs go to the notifier.
                if matches!(records, Records::Vulnerabilities(_)) {
                    self.queue_diff(
                        &operation.updater,
                        previous.map(|p| p.reference),
                        operation.reference,
                    )
                    .await;
                }
                committed.push(OperationSummary {
                    updater: operation.updater,
                    reference: operation.reference,
                    records: operation.record_count,
                    added,
                    removed,
                });
            }
        }
        let outcome = if committed.is_empty() {
            SourceOutcome::Unchanged
        } else {
            SourceOutcome::Updated(committed)
        };
        Ok((outcome, parsed, fingerprint, parsed as i64))
    }

    /// Red Hat's VEX directory: the archive on a first run, else the documents changed since the previous
    /// run applied to the live operation's records (`ecosystems/rhel/vex_feed.rs`). The fingerprint names
    /// the operation it describes, so the next run knows its base is still the live data.
    async fn locked_run_rhel_vex(
        &self,
        source: &FeedSource,
        base_url: &str,
        previous: &str,
        previous_count: i64,
    ) -> Result<(SourceOutcome, usize, String, i64), String> {
        let live = self
            .store
            .latest(&source.name)
            .await
            .map_err(|e| e.to_string())?;
        let directory = VexDirectory {
            http: &self.http,
            base_url,
            feed: &source.name,
            max_bytes: self.options.fetch.max_bytes,
        };
        let mut attempt = 0;
        let update = loop {
            match directory.update(&self.store, previous, live.clone()).await {
                Err(FeedError::Fetch {
                    retryable: true, ..
                }) if attempt < self.options.fetch.retries => {
                    let delay = self.options.fetch.backoff * 2u32.pow(attempt);
                    let jitter = std::time::Duration::from_millis(rand::random_range(0..500));
                    tracing::warn!(attempt, "retrying the VEX update");
                    tokio::time::sleep(delay + jitter).await;
                    attempt += 1;
                }
                other => break other.map_err(|e| e.to_string())?,
            }
        };
        match update {
            VexUpdate::NotModified => Ok((
                SourceOutcome::Unchanged,
                0,
                previous.to_owned(),
                previous_count,
            )),
            VexUpdate::Same {
                mut fingerprint,
                base,
            } => {
                fingerprint.operation = base.reference.to_string();
                Ok((
                    SourceOutcome::Unchanged,
                    0,
                    fingerprint.render(),
                    base.record_count,
                ))
            }
            VexUpdate::Records {
                mut fingerprint,
                records,
                mode,
                documents,
            } => {
                tracing::info!(
                    mode,
                    documents,
                    records = records.len(),
                    "VEX records built"
                );
                let outcome = self
                    .store
                    .commit(&source.name, &fingerprint.render(), &records)
                    .await
                    .map_err(|e| format!("storing {}: {e}", source.name))?;
                let (outcome, live) = match outcome {
                    CommitOutcome::Unchanged { latest } => (SourceOutcome::Unchanged, latest),
                    CommitOutcome::Committed {
                        operation,
                        previous,
                        added,
                        removed,
                    } => {
                        self.queue_diff(
                            &operation.updater,
                            previous.map(|p| p.reference),
                            operation.reference,
                        )
                        .await;
                        let summary = OperationSummary {
                            updater: operation.updater.clone(),
                            reference: operation.reference,
                            records: operation.record_count,
                            added,
                            removed,
                        };
                        (SourceOutcome::Updated(vec![summary]), operation)
                    }
                };
                fingerprint.operation = live.reference.to_string();
                Ok((
                    outcome,
                    records.len(),
                    fingerprint.render(),
                    live.record_count,
                ))
            }
        }
    }

    /// Queues a committed diff for the notifier. A queue failure is logged, not fatal: the operation is
    /// committed and the notifier can recompute any diff from the stored operations.
    async fn queue_diff(&self, updater: &str, prev: Option<Uuid>, cur: Uuid) {
        let Some(queue) = &self.notify else { return };
        let message = DiffMessage {
            kind: DIFF_MESSAGE_KIND.to_owned(),
            updater: updater.to_owned(),
            prev,
            cur,
        };
        let body = match serde_json::to_string(&message) {
            Ok(body) => body,
            Err(e) => {
                tracing::error!(error = %e, "encoding the diff message");
                return;
            }
        };
        if let Err(e) = queue.send_batch(&[body]).await {
            tracing::error!(error = %e, %updater, %cur, "queueing the diff for the notifier");
        }
    }
}

impl FeedUpdater {
    /// The updater of a running system: its database, the notifier's queue and the configured options.
    pub fn for_services(services: &crate::services::Services) -> Result<FeedUpdater, FeedError> {
        Ok(FeedUpdater::new(
            FeedStore::new(services.db.clone()),
            http_client()?,
            Some(services.notify_queue.clone()),
            UpdaterOptions {
                keep_operations: services.config.feeds.keep_operations,
                ..UpdaterOptions::default()
            },
        ))
    }
}

/// One scheduled run over the configured sources (`functions/updater`, `lucid serve`'s timer). `only`
/// narrows the configured set further (an EventBridge rule's `detail.feeds`, `lucid update NAME…`).
/// Fails only when nothing could run at all (no database, or every source failed), so that an outage
/// shows as function errors while one broken feed shows in `feed_status`.
pub async fn run_configured(
    services: &crate::services::Services,
    only: &[String],
    progress: impl FnMut(&SourceReport),
) -> Result<UpdateSummary, FeedError> {
    let sources = super::catalog::sources_named(&services.config.feeds, only)?;
    let summary = run_sources(services, &sources, None, progress).await?;
    let failed = summary.failed().count();
    if failed > 0 && failed == summary.sources.len() {
        let reasons: Vec<String> = summary
            .failed()
            .take(3)
            .map(|s| match &s.outcome {
                SourceOutcome::Failed(reason) => reason.clone(),
                _ => String::new(),
            })
            .collect();
        return Err(FeedError::Fetch {
            feed: "all sources".to_owned(),
            reason: format!(
                "every source failed ({failed}); first: {}",
                reasons.join("; ")
            ),
            retryable: true,
        });
    }
    Ok(summary)
}

/// Loads the configured feeds when none has ever loaded (a first `lucid scan` on a new machine), so a
/// report is never empty just because the database is. Returns `None` when feeds were already loaded
/// (refreshing them is `lucid update`'s and the schedule's job, not every scan's). The first load skips
/// NVD's per-year CVSS feeds (the bulk of the download, and enrichment only); `lucid update` adds them.
pub async fn ensure_loaded(
    services: &crate::services::Services,
    progress: impl FnMut(&SourceReport),
) -> Result<Option<UpdateSummary>, FeedError> {
    let store = FeedStore::new(services.db.clone());
    let loaded = store
        .latest_operations()
        .await
        .map_err(|e| FeedError::Store {
            feed: "feeds".to_owned(),
            reason: e.to_string(),
        })?
        .values()
        .any(|op| op.kind == "vulnerability");
    if loaded {
        return Ok(None);
    }
    let sources: Vec<FeedSource> = super::catalog::configured_sources(&services.config.feeds)?
        .into_iter()
        .filter(|s| !s.name.starts_with("nvd/"))
        .collect();
    // No retries on a first load: offline, every source fails at once instead of after minutes of backoff.
    run_sources(services, &sources, Some(0), progress)
        .await
        .map(Some)
}

/// Runs `sources` with the system's updater (`retries` overriding the configured fetch retries).
async fn run_sources(
    services: &crate::services::Services,
    sources: &[FeedSource],
    retries: Option<u32>,
    progress: impl FnMut(&SourceReport),
) -> Result<UpdateSummary, FeedError> {
    let mut updater = FeedUpdater::for_services(services)?;
    if let Some(retries) = retries {
        updater.options.fetch.retries = retries;
    }
    updater
        .run(sources, progress)
        .await
        .map_err(|e| FeedError::Store {
            feed: "garbage collection".to_owned(),
            reason: e.to_string(),
        })
}
