//! The matcher: a finished [`IndexReport`] plus the live vulnerability records → Clair's
//! [`VulnerabilityReport`].
//!
//! 1. **Plan** ([`plan`]): each package is placed in the namespace its feeds file records under
//!    (ecosystem, distribution id, release: Debian by codename, Ubuntu by series, Alpine by branch, the RHEL
//!    family by major release, language ecosystems without a distribution), with the binary and source
//!    names to look up in [`normalize_package_name`](crate::ecosystems::normalize_package_name) form.
//! 2. **Round trip 1** ([`store`]): inside one read-only `REPEATABLE READ` snapshot, one query per
//!    namespace (each name joined to its records by `vulnerability_lookup_idx`) fetches the candidate
//!    records' matching fields only, pipelined with a query for every feed's freshness. Where the ecosystem
//!    orders versions by a byte key (dpkg), each name carries the least key of its installed versions and
//!    records fixed at or below it are not sent ([`plan::version_floor`], `vulnerability.version_bound`).
//! 3. **Versions** are compared in Rust with each ecosystem's comparator, with OSV's semantics for every
//!    source ([`osv::affects`]): distro records are `[{fixed}]` or unfixed (no ranges: every version is
//!    affected, reported with an empty `fixed_in_version`). A record compares against the package's
//!    source name and version when it names a source package (Debian, Alpine origin), its binary name and
//!    version otherwise (Ubuntu, RHEL, OSV); rpm records must carry the package's module stream. Kernel
//!    packages are matched like any other.
//! 4. **Round trip 2**: the whole records of the matches, pipelined with their enrichments (by CVE id, from
//!    the record's name and aliases), each row parsed as it arrives. Matches whose candidates a refresh
//!    read carry their report already ([`store::ShelvedReport`]) and are not read.
//!
//! [`cache`] keeps what round trips 1 and 2 read, per matcher (the API holds one per process): candidates
//! per (namespace, name) for the live operations covering the namespace (the freshness query of round
//! trip 1 tells when one of them switched; that namespace's names are then read again, in a round trip
//! 1b; other namespaces stay warm), and report records by
//! their immutable row id, and enrichments per CVE id for the current set of live enrichment operations.
//! A warm report reads only the freshness.
//! 5. **Report**: vulnerability ids are the `vulnerability` row ids (stable while the record is live: rows
//!    are deduplicated by content), `package_vulnerabilities` lists them most severe first. Freshness is
//!    reported in the Lucid extension fields `feeds` and `warnings`: a report requested before any feed has
//!    loaded carries the `no_feeds_loaded` warning instead of looking clean.

pub mod cache;
pub mod plan;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use futures::TryStreamExt as _;
use tokio_postgres::IsolationLevel;
use tracing::Instrument;

use crate::feeds::osv;
use crate::model::{
    FeedFreshness, IndexReport, IndexState, ReportDistribution, ReportPackage, ReportRepository,
    ReportVulnerability, ReportWarning, Vulnerability, VulnerabilityReport,
};
use crate::store::{Database, StoreError};
use plan::Namespace;

/// Why a vulnerability report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The index report is not finished (Clair refuses to match those too).
    #[error("manifest {manifest} is not indexed yet (state {state})")]
    NotIndexed { manifest: String, state: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for MatchError {
    fn from(e: tokio_postgres::Error) -> Self {
        MatchError::Store(StoreError::from(e))
    }
}

impl From<deadpool_postgres::PoolError> for MatchError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        MatchError::Store(StoreError::from(e))
    }
}

/// Matches index reports against the vulnerability database.
#[derive(Clone)]
pub struct Matcher {
    db: Database,
    /// Shared by clones: keep one `Matcher` per process so reports reuse what earlier ones read.
    cache: std::sync::Arc<cache::MatchCache>,
    reads: std::sync::Arc<ReadCounters>,
}

/// What a [`Matcher`] (and its clones) has read from the database since it was made: how well its cache
/// works (a warm report adds nothing but the freshness query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatcherReads {
    /// Candidate queries (one per namespace with names the cache lacks or that went stale).
    pub candidate_queries: u64,
    /// Candidate rows those queries returned.
    pub candidate_rows: u64,
    /// Report records read (matches the cache lacked).
    pub records: u64,
    /// CVE ids whose enrichments were read.
    pub enriched_cves: u64,
    /// Report records not found at their row address (moved since their candidates were read), read by
    /// id instead.
    pub moved_records: u64,
}

/// What a [`Matcher::refresh`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatcherRefresh {
    /// Namespaces loaded whole.
    pub loaded: usize,
    /// Their candidate records.
    pub candidates: usize,
    /// Namespaces already held whole for their live operations (nothing read).
    pub already_whole: usize,
    /// Namespaces not loaded because the cache would pass its bound.
    pub skipped: usize,
    /// Report records kept with their candidates (those whose stored report parsed; see
    /// `store::NAMESPACE_CANDIDATES`).
    pub records: usize,
    pub elapsed: std::time::Duration,
}

#[derive(Default)]
struct ReadCounters {
    candidate_queries: std::sync::atomic::AtomicU64,
    candidate_rows: std::sync::atomic::AtomicU64,
    records: std::sync::atomic::AtomicU64,
    enriched_cves: std::sync::atomic::AtomicU64,
    moved_records: std::sync::atomic::AtomicU64,
}

impl ReadCounters {
    fn add(counter: &std::sync::atomic::AtomicU64, n: usize) {
        counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The Clair enrichment type under which a source's enrichment records are reported.
pub fn enrichment_type(updater: &str) -> String {
    format!("message/vnd.clair.map.vulnerability; enricher={updater}")
}

/// The pattern of [`cve_ids`]: the year and number of a CVE id, in any case, `-` or `_` separated.
const CVE_PATTERN: &str = r"(?i)cve[-_](\d{4})[-_](\d{4,})";

/// CVE ids named by a record (its name and aliases), normalized to `CVE-YYYY-N…`, as Clair's enricher
/// extracts them (`(?i:cve)[-_]\d{4}[-_]\d{4,}`).
pub fn cve_ids<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    static CVE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    let Some(pattern) = CVE
        .get_or_init(|| regex::Regex::new(CVE_PATTERN).ok())
        .as_ref()
    else {
        return BTreeSet::new();
    };
    let mut ids = BTreeSet::new();
    for name in names {
        if is_canonical_cve_id(name) {
            // What the pattern would find and normalize: itself (most names and aliases are CVE ids, and a
            // cold report reads thousands of them; the regex search took a tenth of its CPU).
            ids.insert(name.to_owned());
        } else {
            ids.extend(
                pattern
                    .captures_iter(name)
                    .map(|c| format!("CVE-{}-{}", &c[1], &c[2])),
            );
        }
    }
    ids
}

/// Whether `name` is exactly a CVE id in its normalized form, `CVE-YYYY-N…` with ASCII digits.
fn is_canonical_cve_id(name: &str) -> bool {
    let Some((year, number)) = name.strip_prefix("CVE-").and_then(|r| r.split_once('-')) else {
        return false;
    };
    year.len() == 4
        && number.len() >= 4
        && year
            .bytes()
            .chain(number.bytes())
            .all(|b| b.is_ascii_digit())
}

/// Whether `record` (a record filed in a namespace of `ecosystem`) affects the installed package
/// `subject` of that namespace: the name the record compares (source or binary) is the record's package,
/// the rpm module streams are equal, the architectures agree (an empty one agrees with any), and the
/// version is affected by the record's ranges and versions ([`osv::affects`]). The one predicate the
/// matcher and the notifier's fan-out share (the matcher applies it to its compact
/// [`store::Candidate`]s through [`MatchFields`]).
pub fn affects(
    ecosystem: crate::model::Ecosystem,
    record: &Vulnerability,
    subject: &plan::Subject,
) -> bool {
    MatchFields {
        package_name: &record.package_name,
        package_is_source: record.package_is_source,
        module: &record.module,
        arch: &record.arch,
        ranges: &record.ranges,
        versions: &record.versions,
        versions_sorted: false,
    }
    .affects(ecosystem, subject)
}

/// The fields of a record that decide whether it affects a package ([`affects`]).
#[derive(Debug, Clone, Copy)]
pub struct MatchFields<'a> {
    pub package_name: &'a str,
    pub package_is_source: bool,
    pub module: &'a str,
    pub arch: &'a str,
    pub ranges: &'a [crate::model::AffectedRange],
    pub versions: &'a [String],
    /// `versions` are sorted (byte order): membership is a binary search rather than a scan.
    pub versions_sorted: bool,
}

impl MatchFields<'_> {
    /// See [`affects`].
    pub fn affects(&self, ecosystem: crate::model::Ecosystem, subject: &plan::Subject) -> bool {
        let (name, version) = subject.compared(self.package_is_source);
        // (Modules are mostly empty on both sides: that case skips the byte comparison.)
        name == self.package_name
            && (subject.module.is_empty() && self.module.is_empty()
                || subject.module == self.module)
            && (self.arch.is_empty() || subject.arch.is_empty() || self.arch == subject.arch)
            && osv::affects_listed(ecosystem, self.ranges, self.versions, version, |v| {
                if self.versions_sorted {
                    self.versions
                        .binary_search_by(|listed| listed.as_str().cmp(v))
                        .is_ok()
                } else {
                    self.versions.iter().any(|listed| listed == v)
                }
            })
    }
}

/// A candidate that matched at least one package.
struct Hit<'a> {
    /// CVE ids of the record, for enrichment.
    cves: &'a [String],
    /// Where its row was when its candidate was read.
    row: store::RowAddress,
    /// Its report, when a refresh read the candidate.
    report: Option<&'a store::ShelvedReport>,
}

impl Matcher {
    pub fn new(db: Database) -> Matcher {
        Matcher {
            db,
            cache: std::sync::Arc::default(),
            reads: std::sync::Arc::default(),
        }
    }

    /// What this matcher and its clones have read from the database so far.
    pub fn reads(&self) -> MatcherReads {
        let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        MatcherReads {
            candidate_queries: get(&self.reads.candidate_queries),
            candidate_rows: get(&self.reads.candidate_rows),
            records: get(&self.reads.records),
            enriched_cves: get(&self.reads.enriched_cves),
            moved_records: get(&self.reads.moved_records),
        }
    }

    /// The vulnerability report of a finished index report. Costs two pipelined round trips (plus the
    /// snapshot's begin/commit) whatever the number of packages; none when warm.
    pub async fn vulnerability_report(
        &self,
        index: &IndexReport,
    ) -> Result<VulnerabilityReport, MatchError> {
        self.vulnerability_report_of(index.clone()).await
    }

    /// [`Matcher::vulnerability_report`] of an index report the caller no longer needs: its packages,
    /// distributions and environments move into the report instead of being copied.
    pub async fn vulnerability_report_of(
        &self,
        index: IndexReport,
    ) -> Result<VulnerabilityReport, MatchError> {
        let span = tracing::info_span!(
            "vulnerability_report",
            manifest = %index.manifest_hash,
            packages = index.packages.len()
        );
        self.report(index).instrument(span).await
    }

    /// Loads whole every namespace the live feeds file records under whose cached candidates are not
    /// already whole for its current live operations, in one snapshot. Afterwards a report on those
    /// namespaces reads no candidates, whatever its package names: the first report of a process, and the
    /// first after a feed switch, cost what a warm one does (less the enrichments they match for the first
    /// time). Each record's report is kept with its candidate too ([`store::ShelvedReport`], text interned:
    /// the benchmark's 192,730 records take about 70 MiB more), so those reports read no records either:
    /// an image with thousands of findings would otherwise read megabytes of them. Cheap when nothing
    /// changed (the freshness query only), so the API runs it periodically ([`Matcher::spawn_refresh`]).
    /// Namespaces of an operation committed before migration V5 (unknown namespaces) are not loaded; a
    /// namespace that would take the cache past its bound is skipped.
    pub async fn refresh(&self) -> Result<MatcherRefresh, MatchError> {
        let started = std::time::Instant::now();
        let mut client = self.db.client().await?;
        let tx = snapshot(&mut client).await?;
        let feeds_statement = tx.prepare_cached(store::FEEDS).await?;
        let feeds: Vec<store::Feed> = tx
            .query(&feeds_statement, &[])
            .await?
            .iter()
            .map(store::feed)
            .collect::<Result<_, _>>()?;
        let keys: BTreeSet<&str> = feeds
            .iter()
            .filter(|f| !f.enrichment && f.uo_id.is_some())
            .flat_map(|f| f.namespaces.iter().flatten())
            .map(String::as_str)
            .collect();
        let mut outcome = MatcherRefresh::default();
        let mut stale = Vec::new();
        for key in keys {
            let Some(ns) = Namespace::from_key(key) else {
                tracing::warn!(
                    namespace = key,
                    "an operation lists a namespace not understood"
                );
                continue;
            };
            let live = live_key(&feeds, &ns);
            if self.cache.holds_whole(&ns, &live) {
                outcome.already_whole += 1;
            } else {
                stale.push((ns, live));
            }
        }
        // More namespaces stale than held whole (a process's first refresh): one sequential scan of every
        // live record, grouped here (`store::LIVE_CANDIDATES`). Fewer (a feed switched): one index read per
        // stale namespace, which costs in proportion to its records rather than to the whole table.
        let one_scan = stale.len() > outcome.already_whole;
        let mut shelf = Shelf::default();
        let read: Vec<(HashMap<String, cache::CandidateList>, usize)> = if one_scan {
            let statement = tx.prepare_cached(store::LIVE_CANDIDATES).await?;
            read_live_candidates(&tx, &statement, &stale, &mut shelf).await?
        } else {
            let namespace_statement = tx.prepare_cached(store::NAMESPACE_CANDIDATES).await?;
            let rows = futures::future::try_join_all(stale.iter().map(|(ns, _)| {
                let (ecosystem, did, release) = store::candidate_params(ns);
                let statement = &namespace_statement;
                let tx = &tx;
                async move { tx.query(statement, &[&ecosystem, &did, &release]).await }
            }))
            .await?;
            rows.iter()
                .map(|rows| Ok((shelf.candidate_lists_of(rows)?, rows.len())))
                .collect::<Result<_, StoreError>>()?
        };
        tx.commit().await?;
        outcome.records = shelf.reports;
        for ((ns, live), (lists, rows)) in stale.iter().zip(read) {
            if self.cache.store_namespace(live, ns, lists) {
                outcome.loaded += 1;
                outcome.candidates += rows;
            } else {
                outcome.skipped += 1;
            }
            // Counted once held, so a reader of the counters sees the namespace in the cache.
            ReadCounters::add(&self.reads.candidate_rows, rows);
        }
        let queries = if one_scan { 1 } else { stale.len() };
        ReadCounters::add(&self.reads.candidate_queries, queries);
        outcome.elapsed = started.elapsed();
        Ok(outcome)
    }

    /// [`Matcher::refresh`], given at most `budget` (logged either way; an unfinished refresh loses
    /// nothing: a later one, or the reports, read what the cache lacks). For Lambda init, which runs at
    /// full CPU before the first request but is limited to 10 s.
    pub async fn refresh_within(&self, budget: std::time::Duration) {
        match tokio::time::timeout(budget, self.refresh()).await {
            Ok(outcome) => log_refresh(outcome),
            Err(_) => tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "matcher refresh ran out of time; continues later"
            ),
        }
    }

    /// Runs [`Matcher::refresh`] after `first_after`, then every `every`, until the returned task is
    /// aborted. Errors are logged and retried at the next tick: reports never depend on it (they read what
    /// the cache lacks).
    pub fn spawn_refresh(
        &self,
        first_after: std::time::Duration,
        every: std::time::Duration,
    ) -> tokio::task::JoinHandle<()> {
        let matcher = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(first_after).await;
            loop {
                log_refresh(matcher.refresh().await);
                tokio::time::sleep(every).await;
            }
        })
    }

    async fn report(&self, index: IndexReport) -> Result<VulnerabilityReport, MatchError> {
        if index.state != IndexState::IndexFinished.as_str() {
            return Err(MatchError::NotIndexed {
                manifest: index.manifest_hash.to_string(),
                state: index.state.clone(),
            });
        }
        let plan = plan::plan(&index);

        let mut client = self.db.client().await?;
        let tx = snapshot(&mut client).await?;
        let (candidates_statement, feeds_statement) = futures::try_join!(
            tx.prepare_cached(store::CANDIDATES),
            tx.prepare_cached(store::FEEDS)
        )?;

        // Round trip 1: the feeds, pipelined with the candidates of every name the cache lacks.
        let lookups: Vec<(&Namespace, &plan::Lookup)> = plan.lookups.iter().collect();
        let cached = self.cache.lookup(
            lookups
                .iter()
                .map(|(ns, l)| (*ns, l.names.as_slice(), l.floors.as_slice())),
        );
        // Each namespace's candidates, grouped by name (a name without rows is cached as such), parsed as
        // its rows arrive: the pipelined queries' rows come one namespace after another, so parsing one
        // namespace's overlaps PostgreSQL's execution of the next.
        let read = |ns: &Namespace, names: Vec<String>, floors: Vec<Box<[u8]>>| {
            let (ecosystem, did, release) = store::candidate_params(ns);
            let (did, release, key) = (did.to_owned(), release.to_owned(), ns.key());
            let statement = &candidates_statement;
            let tx = &tx;
            async move {
                let mut by_name: HashMap<String, Vec<store::Candidate>> = HashMap::new();
                if !names.is_empty() {
                    let floor_params: Vec<&[u8]> = floors.iter().map(|f| &f[..]).collect();
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                        [&ecosystem, &names, &did, &release, &key, &floor_params];
                    let rows = tx.query_raw(statement, params).await?;
                    futures::pin_mut!(rows);
                    let mut count = 0;
                    while let Some(row) = rows.try_next().await? {
                        let (name, candidate) = store::candidate(&row)?;
                        group(&mut by_name, name, candidate);
                        count += 1;
                    }
                    ReadCounters::add(&self.reads.candidate_queries, 1);
                    ReadCounters::add(&self.reads.candidate_rows, count);
                }
                // Every name asked about gets a list, an empty one when no record was sent.
                let lists: HashMap<String, cache::CandidateList> = names
                    .into_iter()
                    .zip(floors)
                    .map(|(name, floor)| {
                        let records = by_name.remove(&name).unwrap_or_default();
                        let list = store::NameCandidates {
                            name: name.clone(),
                            records,
                            floor,
                        };
                        (name, cache::CandidateList::new(list))
                    })
                    .collect();
                Ok::<_, MatchError>(lists)
            }
        };
        let (feed_rows, mut fetched) = futures::try_join!(
            async { Ok::<_, MatchError>(tx.query(&feeds_statement, &[]).await?) },
            futures::future::try_join_all(lookups.iter().zip(&cached).map(|((ns, _), c)| read(
                ns,
                c.missing.clone(),
                c.missing_floors.clone()
            )))
        )?;

        let feeds: Vec<store::Feed> = feed_rows
            .iter()
            .map(store::feed)
            .collect::<Result<_, _>>()?;
        // Each namespace's live key: the live vulnerability operations that may file records under it.
        let live: Vec<Vec<i64>> = lookups.iter().map(|(ns, _)| live_key(&feeds, ns)).collect();
        // A feed of a namespace switched since its cached candidates were read: read that namespace's
        // names again (round trip 1b, only right after an update of its feeds).
        let stale: Vec<bool> = cached
            .iter()
            .zip(&live)
            .map(|(c, live)| (c.whole || !c.hits.is_empty()) && c.live != *live)
            .collect();
        if stale.contains(&true) {
            let again = futures::future::try_join_all(lookups.iter().zip(&stale).map(
                |((ns, lookup), stale)| {
                    if *stale {
                        read(ns, lookup.names.clone(), lookup.floors.clone())
                    } else {
                        read(ns, Vec::new(), Vec::new())
                    }
                },
            ))
            .await?;
            for ((slot, reread), stale) in fetched.iter_mut().zip(again).zip(&stale) {
                if *stale {
                    *slot = reread;
                }
            }
        }
        // Remember what was read.
        let mut namespace_lists: Vec<Vec<cache::CandidateList>> = Vec::with_capacity(lookups.len());
        for (i, lists) in fetched.into_iter().enumerate() {
            if !lists.is_empty() {
                self.cache.store(&live[i], lookups[i].0, &lists);
            }
            let mut all: Vec<cache::CandidateList> = lists.into_values().collect();
            if !stale[i] {
                // (A stale namespace was read again whole above.)
                all.extend(cached[i].hits.iter().cloned());
            }
            namespace_lists.push(all);
        }
        let feed_of_operation: HashMap<i64, &str> = feeds
            .iter()
            .filter_map(|f| f.uo_id.map(|uo| (uo, f.name.as_str())))
            .collect();
        // Operations of feeds another live feed replaces (`plan::SUPERSEDED_FEEDS`): not matched.
        let live_names = || {
            feeds
                .iter()
                .filter(|f| f.uo_id.is_some())
                .map(|f| f.name.as_str())
        };
        let superseded: Vec<i64> = feeds
            .iter()
            .filter(|f| plan::superseded(&f.name, live_names()))
            .filter_map(|f| f.uo_id)
            .collect();

        // Compare versions.
        let mut hits: BTreeMap<i64, Hit> = BTreeMap::new();
        // Installed package id → matched record ids (sorted and deduplicated below).
        let mut package_hits: HashMap<&str, Vec<i64>> = HashMap::new();
        let mut feeds_per_namespace: HashMap<&Namespace, BTreeSet<String>> = HashMap::new();
        let mut candidates = 0usize;
        for ((ns, lookup), lists) in lookups.iter().zip(&namespace_lists) {
            let mut names_seen: HashSet<&str> = HashSet::with_capacity(lists.len());
            // Operations that filed candidates here (a handful), for the freshness of contributing feeds.
            let mut operations: Vec<i64> = Vec::new();
            for list in lists {
                if !names_seen.insert(list.name.as_str()) {
                    continue;
                }
                let subjects = lookup
                    .by_name
                    .get(&list.name)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for candidate in &list.records {
                    if superseded.contains(&candidate.uo_id) {
                        continue;
                    }
                    candidates += 1;
                    if !operations.contains(&candidate.uo_id) {
                        operations.push(candidate.uo_id);
                    }
                    let fields = candidate.match_fields(&list.name);
                    let mut matched = false;
                    for subject in subjects.iter().filter_map(|&i| lookup.subjects.get(i)) {
                        if fields.affects(ns.ecosystem, subject) {
                            package_hits
                                .entry(subject.package_id.as_str())
                                .or_default()
                                .push(candidate.id);
                            matched = true;
                        }
                    }
                    if matched {
                        hits.entry(candidate.id).or_insert_with(|| Hit {
                            cves: &candidate.cves,
                            row: candidate.row,
                            report: candidate.report.as_deref(),
                        });
                    }
                }
            }
            let contributing = feeds_per_namespace.entry(ns).or_default();
            for uo in operations {
                if let Some(feed) = feed_of_operation.get(&uo) {
                    contributing.insert((*feed).to_owned());
                }
            }
        }

        // Round trip 2: the records of the matches the cache lacks (and a refresh did not keep), and the
        // enrichments.
        let ids: Vec<i64> = hits.keys().copied().collect();
        let (known_records, missing_records) = self.cache.records(&ids);
        let mut shelved: HashMap<i64, Arc<ReportVulnerability>> = HashMap::new();
        let missing_records: Vec<i64> = missing_records
            .into_iter()
            .filter(|id| match hits.get(id).and_then(|hit| hit.report) {
                Some(report) => {
                    shelved.insert(*id, Arc::new(report_vulnerability(*id, report.clone())));
                    false
                }
                None => true,
            })
            .collect();
        let mut cve_to_ids: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (id, hit) in &hits {
            for cve in hit.cves {
                cve_to_ids.entry(cve).or_default().push(*id);
            }
        }
        let mut enrichment_live: Vec<i64> = feeds
            .iter()
            .filter(|f| f.enrichment)
            .filter_map(|f| f.uo_id)
            .collect();
        enrichment_live.sort_unstable();
        // No enrichment feed live: no CVE has enrichments, nothing to read.
        let (known_enrichments, cves) = if enrichment_live.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.cache
                .enrichments(&enrichment_live, cve_to_ids.keys().copied())
        };
        // The records are read at their row addresses; any not found there (moved since their candidates
        // were read) by id, in the same snapshot. Rows are parsed as they arrive (`query_raw`), so parsing
        // the records' JSON overlaps PostgreSQL's scan for the next ones rather than following it.
        let (read_records, read_enrichments) = if missing_records.is_empty() && cves.is_empty() {
            (HashMap::new(), Vec::new())
        } else {
            let (records_at_statement, records_statement, enrichments_statement) = futures::try_join!(
                tx.prepare_cached(store::RECORDS_AT),
                tx.prepare_cached(store::RECORDS),
                tx.prepare_cached(store::ENRICHMENTS)
            )?;
            futures::try_join!(
                async {
                    let mut read = HashMap::with_capacity(missing_records.len());
                    if missing_records.is_empty() {
                        return Ok(read);
                    }
                    // Sorted: `hits` is ordered by id and the cache keeps that order.
                    debug_assert!(missing_records.is_sorted());
                    let addresses: Vec<store::RowAddress> = missing_records
                        .iter()
                        .filter_map(|id| hits.get(id))
                        .map(|hit| hit.row)
                        .collect();
                    read_records(
                        &tx,
                        &records_at_statement,
                        &addresses,
                        &missing_records,
                        &mut read,
                    )
                    .await?;
                    if read.len() < missing_records.len() {
                        let moved: Vec<i64> = missing_records
                            .iter()
                            .filter(|id| !read.contains_key(*id))
                            .copied()
                            .collect();
                        tracing::debug!(records = moved.len(), "records moved; read by id");
                        ReadCounters::add(&self.reads.moved_records, moved.len());
                        read_records(&tx, &records_statement, &moved, &moved, &mut read).await?;
                    }
                    Ok::<_, MatchError>(read)
                },
                async {
                    let mut read = Vec::new();
                    if !cves.is_empty() {
                        let rows = tx.query_raw(&enrichments_statement, [&cves]).await?;
                        futures::pin_mut!(rows);
                        while let Some(row) = rows.try_next().await? {
                            read.push(store::enrichment(&row)?);
                        }
                    }
                    Ok::<_, MatchError>(read)
                }
            )?
        };
        tx.commit().await?;
        ReadCounters::add(&self.reads.records, read_records.len());
        ReadCounters::add(&self.reads.enriched_cves, cves.len());

        self.cache
            .store_enrichments(&enrichment_live, &cves, &read_enrichments);
        let mut all_enrichments: Vec<&store::Enrichment> = known_enrichments
            .iter()
            .flat_map(|list| list.iter())
            .chain(&read_enrichments)
            .collect();
        // The order the query gives (source, CVE, row), so a cached report equals a read one.
        all_enrichments
            .sort_unstable_by(|a, b| (&a.updater, &a.cve, a.id).cmp(&(&b.updater, &b.cve, b.id)));

        self.cache
            .store_records(read_records.iter().chain(&shelved).map(|(id, r)| (*id, r)));
        let mut records: HashMap<i64, Arc<ReportVulnerability>> = known_records;
        records.extend(read_records);
        records.extend(shelved);
        if records.len() != hits.len() {
            return Err(StoreError::Corrupt(format!(
                "{} matched vulnerabilities but {} records read",
                hits.len(),
                records.len()
            ))
            .into());
        }
        // Keys in the map's (string) order first, so building the map sorts plain keys rather than records.
        let mut keys: Vec<(String, i64)> = records.keys().map(|id| (id.to_string(), *id)).collect();
        keys.sort_unstable();
        // One order of every matched record, most severe first, then by name and id (stable), ranked once:
        // each package's list is then sorted by rank rather than by comparing records again.
        let rank: HashMap<i64, usize> = {
            let mut order: Vec<(std::cmp::Reverse<crate::model::Severity>, &str, usize)> = keys
                .iter()
                .enumerate()
                .filter_map(|(k, (_, id))| {
                    let v = records.get(id)?;
                    Some((std::cmp::Reverse(v.normalized_severity), v.name.as_str(), k))
                })
                .collect();
            order.sort_unstable();
            order
                .iter()
                .enumerate()
                .map(|(rank, (_, _, k))| (keys[*k].1, rank))
                .collect()
        };
        let mut by_rank: Vec<&str> = vec![""; keys.len()];
        for (key, id) in &keys {
            if let Some(slot) = rank.get(id).and_then(|r| by_rank.get_mut(*r)) {
                *slot = key.as_str();
            }
        }
        let mut package_vulnerabilities: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (package_id, ids) in package_hits {
            let mut ranks: Vec<usize> = ids.iter().filter_map(|id| rank.get(id).copied()).collect();
            ranks.sort_unstable();
            ranks.dedup();
            package_vulnerabilities.insert(
                package_id.to_owned(),
                ranks.iter().map(|r| by_rank[*r].to_owned()).collect(),
            );
        }
        let vulnerabilities: BTreeMap<String, Arc<ReportVulnerability>> = keys
            .into_iter()
            .filter_map(|(key, id)| records.remove(&id).map(|r| (key, r)))
            .collect();

        let (enrichments, enrichment_feeds) = enrichments(&all_enrichments, &cve_to_ids);
        let (feeds, mut warnings) =
            freshness(feeds, &plan, &feeds_per_namespace, &enrichment_feeds);
        warnings.extend(plan.warnings);

        tracing::debug!(
            namespaces = plan.lookups.len(),
            candidates,
            vulnerabilities = vulnerabilities.len(),
            affected_packages = package_vulnerabilities.len(),
            "matched"
        );
        Ok(VulnerabilityReport {
            manifest_hash: index.manifest_hash,
            packages: index.packages,
            distributions: index.distributions,
            repository: index.repository,
            environments: index.environments,
            vulnerabilities,
            package_vulnerabilities,
            enrichments,
            feeds,
            warnings,
        })
    }
}

/// Runs `statement` (one of the records queries) with its one array parameter and adds to `read` each
/// record of `wanted` (sorted ids) it returns, parsed as its row arrives.
async fn read_records<P>(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    param: &P,
    wanted: &[i64],
    read: &mut HashMap<i64, Arc<ReportVulnerability>>,
) -> Result<(), MatchError>
where
    P: tokio_postgres::types::ToSql + Sync,
{
    let rows = tx.query_raw(statement, [param]).await?;
    futures::pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        // A row at a stale address may hold another record: skipped before its JSON is parsed.
        let id: i64 = row.try_get(0)?;
        if wanted.binary_search(&id).is_err() || read.contains_key(&id) {
            continue;
        }
        let (id, record) = store::record(&row)?;
        read.insert(id, Arc::new(report_vulnerability(id, record)));
    }
    Ok(())
}

fn log_refresh(outcome: Result<MatcherRefresh, MatchError>) {
    match outcome {
        Ok(r) if r.loaded > 0 || r.skipped > 0 => tracing::info!(
            loaded = r.loaded,
            candidates = r.candidates,
            skipped = r.skipped,
            records = r.records,
            elapsed_ms = r.elapsed.as_millis() as u64,
            "matcher namespaces loaded"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "matcher refresh failed; retried later"),
    }
}

/// A read-only `REPEATABLE READ` transaction: every read of a report (or a refresh) sees one state.
async fn snapshot(
    client: &mut deadpool_postgres::Client,
) -> Result<deadpool_postgres::Transaction<'_>, tokio_postgres::Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
}

/// The live key of namespace `ns`: the live vulnerability operations (sorted ids) that may file records
/// under it. Its cached candidates are valid while the key stays the same.
fn live_key(feeds: &[store::Feed], ns: &Namespace) -> Vec<i64> {
    let key = ns.key();
    let mut ids: Vec<i64> = feeds
        .iter()
        .filter(|f| !f.enrichment && f.may_cover(&key))
        .filter_map(|f| f.uo_id)
        .collect();
    ids.sort_unstable();
    ids
}

/// Adds `candidate` to the candidates of package `name`, allocating the key once per name, not per row.
fn group(
    by_name: &mut HashMap<String, Vec<store::Candidate>>,
    name: &str,
    candidate: store::Candidate,
) {
    if let Some(list) = by_name.get_mut(name) {
        list.push(candidate);
    } else {
        by_name.insert(name.to_owned(), vec![candidate]);
    }
}

/// Candidates grouped by package name, as the cache keeps them: every record of each name (no floor).
fn candidate_lists(
    by_name: HashMap<String, Vec<store::Candidate>>,
) -> HashMap<String, cache::CandidateList> {
    by_name
        .into_iter()
        .map(|(name, records)| {
            let list = store::NameCandidates {
                name: name.clone(),
                records,
                floor: Box::default(),
            };
            (name, cache::CandidateList::new(list))
        })
        .collect()
}

/// The candidates of every live record filed under one of the `stale` namespaces
/// ([`store::LIVE_CANDIDATES`]), grouped by package name as a report's candidate reads group them, with each
/// namespace's row count; in `stale`'s order. Rows are grouped as they arrive, so the scan's rows are
/// never all held at once.
async fn read_live_candidates(
    tx: &deadpool_postgres::Transaction<'_>,
    statement: &tokio_postgres::Statement,
    stale: &[(Namespace, Vec<i64>)],
    shelf: &mut Shelf,
) -> Result<Vec<(HashMap<String, cache::CandidateList>, usize)>, MatchError> {
    let slots: HashMap<&Namespace, usize> = stale
        .iter()
        .enumerate()
        .map(|(i, (ns, _))| (ns, i))
        .collect();
    let mut grouped: Vec<HashMap<String, Vec<store::Candidate>>> =
        vec![HashMap::new(); stale.len()];
    let mut counts = vec![0usize; stale.len()];
    // A record in two live operations (never, as the feed store writes them) is taken once, as the
    // per-namespace read's `LIMIT 1` does.
    let mut seen: HashSet<i64> = HashSet::new();
    let rows = tx
        .query_raw(
            statement,
            std::iter::empty::<&(dyn tokio_postgres::types::ToSql + Sync)>(),
        )
        .await?;
    futures::pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        let ecosystem: &str = row.try_get(9)?;
        let Ok(ecosystem) = ecosystem.parse() else {
            continue;
        };
        let ns = Namespace {
            ecosystem,
            did: row.try_get(10)?,
            release: row.try_get(11)?,
        };
        let Some(&slot) = slots.get(&ns) else {
            continue;
        };
        if !seen.insert(row.try_get(0)?) {
            continue;
        }
        let (name, candidate) = shelf.candidate(&row)?;
        group(&mut grouped[slot], name, candidate);
        counts[slot] += 1;
    }
    Ok(grouped
        .into_iter()
        .map(candidate_lists)
        .zip(counts)
        .collect())
}

/// What a refresh keeps of the rows it reads: each candidate with its record's report, shelved
/// ([`store::ShelvedReport`]) with one copy of each text for the whole refresh.
#[derive(Default)]
struct Shelf {
    texts: store::Interner,
    /// Reports kept.
    reports: usize,
}

impl Shelf {
    /// The candidate of a refresh's row, with its report. A report that does not parse is not kept, and
    /// does not fail the refresh: a report matching its record reads it and fails there, naming it, as
    /// without a refresh.
    fn candidate<'r>(
        &mut self,
        row: &'r tokio_postgres::Row,
    ) -> Result<(&'r str, store::Candidate), StoreError> {
        let (name, mut candidate) = store::candidate(row)?;
        match store::shelved_report(row, &mut self.texts) {
            Ok(report) => {
                candidate.report = Some(Arc::new(report));
                self.reports += 1;
            }
            Err(e) => tracing::warn!(error = %e, "a record's report not kept by the refresh"),
        }
        Ok((name, candidate))
    }

    /// A namespace's rows as a refresh reads them, grouped by package name.
    fn candidate_lists_of(
        &mut self,
        rows: &[tokio_postgres::Row],
    ) -> Result<HashMap<String, cache::CandidateList>, StoreError> {
        let mut by_name: HashMap<String, Vec<store::Candidate>> = HashMap::new();
        for row in rows {
            let (name, candidate) = self.candidate(row)?;
            group(&mut by_name, name, candidate);
        }
        Ok(candidate_lists(by_name))
    }
}

/// Clair's layout: `enrichments[type] = [{vulnerability id: [record, …]}]`, one type per enrichment source.
/// Also returns the enrichment sources that contributed.
type Enrichments = BTreeMap<String, Vec<serde_json::Value>>;

fn enrichments(
    records: &[&store::Enrichment],
    cve_to_ids: &BTreeMap<&str, Vec<i64>>,
) -> (Enrichments, BTreeSet<String>) {
    let mut by_source: BTreeMap<String, serde_json::Map<String, serde_json::Value>> =
        BTreeMap::new();
    let mut sources = BTreeSet::new();
    for record in records {
        if !sources.contains(&record.updater) {
            sources.insert(record.updater.clone());
        }
        let per_vulnerability = by_source
            .entry(enrichment_type(&record.updater))
            .or_default();
        for id in cve_to_ids.get(record.cve.as_str()).into_iter().flatten() {
            let entry = per_vulnerability
                .entry(id.to_string())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(list) = entry {
                list.push((*record.data).clone());
            }
        }
    }
    let enrichments = by_source
        .into_iter()
        .map(|(kind, map)| (kind, vec![serde_json::Value::Object(map)]))
        .collect();
    (enrichments, sources)
}

/// The feeds relevant to the report (covering one of its namespaces by name, contributing records, or
/// contributing enrichments) and the warnings about missing or failing ones.
fn freshness(
    feeds: Vec<store::Feed>,
    plan: &plan::Plan,
    contributing: &HashMap<&Namespace, BTreeSet<String>>,
    enrichment_feeds: &BTreeSet<String>,
) -> (BTreeMap<String, FeedFreshness>, Vec<ReportWarning>) {
    let mut enrichment_sources: BTreeMap<String, FeedFreshness> = BTreeMap::new();
    let mut all: BTreeMap<String, FeedFreshness> = BTreeMap::new();
    let live: Vec<String> = feeds
        .iter()
        .filter(|f| f.uo_id.is_some())
        .map(|f| f.name.clone())
        .collect();
    for feed in feeds {
        if plan::superseded(&feed.name, live.iter().map(String::as_str)) {
            continue;
        }
        if feed.enrichment {
            enrichment_sources.insert(feed.name, feed.freshness);
        } else {
            all.insert(feed.name, feed.freshness);
        }
    }
    let mut warnings = Vec::new();
    if !all.values().any(|f| f.updated_at.is_some()) {
        warnings.push(ReportWarning::new(
            ReportWarning::NO_FEEDS_LOADED,
            "no vulnerability feed has loaded yet: nothing was checked, so an empty report does not \
             mean the image is clean",
        ));
    }
    let mut relevant: BTreeMap<String, FeedFreshness> = BTreeMap::new();
    for (ns, lookup) in &plan.lookups {
        let mut loaded = false;
        for (updater, feed) in &all {
            let contributed = contributing.get(ns).is_some_and(|c| c.contains(updater));
            if contributed || ns.covered_by(updater) {
                loaded |= feed.updated_at.is_some();
                relevant.insert(updater.clone(), feed.clone());
            }
        }
        if !loaded && !all.is_empty() {
            warnings.push(ReportWarning::new(
                ReportWarning::FEED_NOT_LOADED,
                format!(
                    "{} {} were not checked: no feed covering them has loaded",
                    lookup.subjects.len(),
                    ns.describe()
                ),
            ));
        } else if !loaded {
            // Nothing loaded at all: the general warning says it; still say what went unchecked.
            warnings.push(ReportWarning::new(
                ReportWarning::FEED_NOT_LOADED,
                format!(
                    "{} {} were not checked",
                    lookup.subjects.len(),
                    ns.describe()
                ),
            ));
        }
    }
    for (name, feed) in enrichment_sources {
        if enrichment_feeds.contains(&name) {
            relevant.insert(name, feed);
        }
    }
    let snapshots: BTreeSet<&str> = relevant
        .values()
        .filter_map(|f| f.snapshot.as_deref())
        .collect();
    if !snapshots.is_empty() {
        let from: Vec<&str> = relevant
            .iter()
            .filter(|(_, f)| f.snapshot.is_some())
            .map(|(name, _)| name.as_str())
            .collect();
        warnings.push(ReportWarning::new(
            ReportWarning::FEED_SNAPSHOT,
            format!(
                "vulnerability data of {} comes from the offline snapshot shipped with Lucid (dated {}), \
                 not the live feeds: advisories published since are missing (`lucid update` when online)",
                from.join(", "),
                snapshots.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for (updater, feed) in &relevant {
        if !feed.last_error.is_empty() {
            warnings.push(ReportWarning::new(
                ReportWarning::FEED_UPDATE_FAILED,
                format!(
                    "feed {updater} failed its last update ({}); {}",
                    feed.last_error,
                    match &feed.updated_at {
                        Some(at) => format!("data from {at} was used"),
                        None => "it has no data yet".to_owned(),
                    }
                ),
            ));
        }
    }
    (relevant, warnings)
}

/// The wire form of a matched record (the vulnerability's own package, distribution and repository, as
/// Clair reports them, not the installed ones).
fn report_vulnerability<S: store::RecordText>(
    id: i64,
    v: store::ReportRecord<S>,
) -> ReportVulnerability {
    let ecosystem = v.ecosystem.map(|e| e.as_str()).unwrap_or_default();
    ReportVulnerability {
        id: id.to_string(),
        updater: v.updater.into_string(),
        name: v.name.into_string(),
        description: v.description.into_string(),
        issued: v
            .issued
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default(),
        links: v.links.join(" "),
        severity: v.severity.into_string(),
        normalized_severity: v.normalized_severity,
        package: Some(ReportPackage {
            name: v.package_name.into_string(),
            kind: if v.package_is_source {
                "source"
            } else {
                "binary"
            }
            .to_owned(),
            module: v.module.into_string(),
            arch: v.arch.into_string(),
            ecosystem: ecosystem.to_owned(),
            ..ReportPackage::default()
        }),
        distribution: v.distribution.map(|d| {
            let release = d.release.as_ref();
            let numbered = release == "edge" || release.starts_with(|c: char| c.is_ascii_digit());
            let (version_id, version_code_name) = if numbered {
                (d.release.into_string(), String::new())
            } else {
                (String::new(), d.release.into_string())
            };
            ReportDistribution {
                did: d.did.into_string(),
                version_id,
                version_code_name,
                ..ReportDistribution::default()
            }
        }),
        repository: v
            .ecosystem
            .filter(|e| !e.is_os())
            .map(|e| ReportRepository {
                name: e.as_str().to_owned(),
                ..ReportRepository::default()
            }),
        fixed_in_version: v.fixed_in_version.into_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_ids_from_names_and_aliases() {
        let found = cve_ids([
            "GHSA-p6mc-m468-83gw",
            "CVE-2020-8203",
            "cve_2021_23337",
            "DSA-5420-1",
            "see CVE-2019-10744 and CVE-2020-8203",
        ]);
        let found: Vec<&str> = found.iter().map(String::as_str).collect();
        assert_eq!(found, ["CVE-2019-10744", "CVE-2020-8203", "CVE-2021-23337"]);
        assert!(cve_ids(["CVE-99-1", "GO-2023-1570"]).is_empty());
    }

    #[test]
    fn a_normalized_cve_id_is_found_as_the_pattern_finds_it() -> Result<(), regex::Error> {
        let pattern = regex::Regex::new(CVE_PATTERN)?;
        for name in [
            "CVE-2023-1234",
            "CVE-2023-123456789",
            "CVE-2023-123",
            "CVE-2023-1234x",
            "CVE-2023-1234-5678",
            "CVE-20231-1234",
            "CVE-2023_1234",
            "CVE-٢٠٢٣-1234",
            "xCVE-2023-1234",
            "CVE--1234",
            "CVE-",
        ] {
            let by_pattern: BTreeSet<String> = pattern
                .captures_iter(name)
                .map(|c| format!("CVE-{}-{}", &c[1], &c[2]))
                .collect();
            assert_eq!(cve_ids([name]), by_pattern, "{name}");
        }
        Ok(())
    }

    #[test]
    fn a_shelved_report_reads_as_the_stored_one() -> Result<(), Box<dyn std::error::Error>> {
        // Text with escapes (copied out of the row) and without (borrowed from it), empty links and a
        // distribution named by number and by codename.
        let record = |release: &str, links: &[&str]| Vulnerability {
            updater: "debian/bookworm".into(),
            name: "CVE-2024-1234".into(),
            description: "a \"quoted\" word,\na tab\t and ✓".into(),
            issued: Some(time::macros::datetime!(2024-01-02 03:04:05 UTC)),
            links: links.iter().map(|l| (*l).to_owned()).collect(),
            severity: "high".into(),
            normalized_severity: crate::model::Severity::High,
            ecosystem: Some(crate::model::Ecosystem::Dpkg),
            package_name: "openssl".into(),
            package_is_source: true,
            distribution: Some(crate::model::DistributionSelector {
                did: "debian".into(),
                release: release.into(),
            }),
            fixed_in_version: "3.0.11-1~deb12u2".into(),
            ..Vulnerability::default()
        };
        let mut texts = store::Interner::default();
        let mut shelved = Vec::new();
        for (release, links) in [
            (
                "bookworm",
                &["https://a.example/1", "", "https://b.example/2"][..],
            ),
            ("3.19", &[][..]),
            ("bookworm", &["https://a.example/1"][..]),
        ] {
            let text = serde_json::to_string(&record(release, links))?;
            let read: store::ReportRecord = serde_json::from_str(&text)?;
            let shelf: store::ReportRecord<store::RowText> = serde_json::from_str(&text)?;
            let shelf = shelf.shelve(&mut texts);
            assert_eq!(
                report_vulnerability(7, shelf.clone()),
                report_vulnerability(7, read)
            );
            shelved.push(shelf);
        }
        // Equal texts of different records are one copy.
        assert!(Arc::ptr_eq(
            &shelved[0].description,
            &shelved[2].description
        ));
        assert!(Arc::ptr_eq(&shelved[0].links[0], &shelved[2].links[0]));
        Ok(())
    }

    #[test]
    fn enrichment_types_follow_clair() {
        assert_eq!(
            enrichment_type("nvd"),
            "message/vnd.clair.map.vulnerability; enricher=nvd"
        );
    }
}
