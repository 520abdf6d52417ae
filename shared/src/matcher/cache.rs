//! The matcher's in-process caches, shared by every report a [`Matcher`](super::Matcher) produces (one per
//! API process, so a Lambda execution environment or `lucid serve` keeps them warm).
//!
//! - **Candidates** per (namespace, package name), including "no record" answers, which are most of them,
//!   each read for a version floor (`store::NameCandidates::floor`): a report whose versions of the name
//!   are lower reads the name again.
//!   A namespace's candidates are valid for one set of live vulnerability operations: those whose records
//!   may be filed under it (`update_operation.namespaces`, the namespace's `live` key). Every report reads
//!   the live operations anyway (the feed freshness query); a switch of a feed covering the namespace
//!   changes its key, which empties that namespace's entry only. So an npm advisory update leaves the
//!   cached Debian candidates warm.
//!   A namespace can also be held **whole** ([`MatchCache::store_namespace`], by
//!   [`Matcher::refresh`](super::Matcher::refresh)): every live record of it, so a name it does not list has
//!   no candidates and a report reads nothing for it, even a name never seen before.
//! - **Report records** by `vulnerability` row id. Rows are content-addressed and never rewritten (a
//!   changed advisory is a new row with a new id), so an id's record never goes stale; an id that is no
//!   longer live is simply never asked for.
//!
//! - **Enrichments** per CVE id (including "none"), valid for one set of live enrichment operations (the
//!   `enrichment_live` key, from the same freshness query), like candidates.
//!
//! All are bounded by entry counts; past the bound a cache is emptied rather than evicted piecemeal
//! (simple, and a refill costs one report's queries).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::plan::Namespace;
use super::store::{Enrichment, NameCandidates};
use crate::model::ReportVulnerability;

/// Candidate records kept at most (a Debian release with every package is ~100k).
const MAX_CANDIDATES: usize = 500_000;
/// Report records kept at most (those reports read or took from a refresh's candidates).
const MAX_RECORDS: usize = 100_000;
/// CVE ids whose enrichments are kept at most.
const MAX_ENRICHED_CVES: usize = 200_000;

/// The live enrichment records of one CVE id (often several sources, sometimes none).
pub type EnrichmentList = Arc<[Enrichment]>;

/// Candidates of one package name in one namespace (often none).
pub type CandidateList = Arc<NameCandidates>;

#[derive(Default)]
pub struct MatchCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    candidates: HashMap<Namespace, NamespaceCandidates>,
    candidate_count: usize,
    records: HashMap<i64, Arc<ReportVulnerability>>,
    /// The live enrichment operations (sorted ids) the cached enrichments were read under.
    enrichment_live: Vec<i64>,
    enrichments: HashMap<String, EnrichmentList>,
}

/// The cached candidates of one namespace.
#[derive(Default)]
struct NamespaceCandidates {
    /// The live vulnerability operations (sorted ids) covering the namespace when these were read.
    live: Vec<i64>,
    names: HashMap<String, CandidateList>,
    /// Entries counted against [`MAX_CANDIDATES`] (a name without candidates counts one).
    count: usize,
    /// Whether `names` holds every name with live records in the namespace (for `live`): a name it lacks
    /// has none.
    whole: bool,
}

/// What the cache holds for one namespace's names.
pub struct Cached {
    /// The live key ([`NamespaceCandidates::live`]) the hits were read under.
    pub live: Vec<i64>,
    pub hits: Vec<CandidateList>,
    /// Names to read from the database, with their version floors.
    pub missing: Vec<String>,
    pub missing_floors: Vec<Box<[u8]>>,
    /// The namespace is held whole under `live` (no name is missing; one it lacks has no candidates).
    pub whole: bool,
}

impl MatchCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain maps behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached candidates of each namespace's `names`, with the live key they were read under. A name's
    /// list is a hit when it was read with a floor at or below the name's `floors` entry (it then holds
    /// every record that can affect the versions above that floor).
    pub fn lookup<'a>(
        &self,
        namespaces: impl Iterator<Item = (&'a Namespace, &'a [String], &'a [Box<[u8]>])>,
    ) -> Vec<Cached> {
        let state = self.state();
        namespaces
            .map(|(ns, names, floors)| {
                let known = state.candidates.get(ns);
                let whole = known.is_some_and(|k| k.whole);
                let mut cached = Cached {
                    live: known.map(|k| k.live.clone()).unwrap_or_default(),
                    hits: Vec::new(),
                    missing: Vec::new(),
                    missing_floors: Vec::new(),
                    whole,
                };
                for (name, floor) in names.iter().zip(floors) {
                    match known.and_then(|k| k.names.get(name)) {
                        Some(list) if list.floor <= *floor => cached.hits.push(list.clone()),
                        None if whole => {}
                        _ => {
                            cached.missing.push(name.clone());
                            cached.missing_floors.push(floor.clone());
                        }
                    }
                }
                cached
            })
            .collect()
    }

    /// Remembers candidates of `ns` read under its live key `live` (sorted operation ids); a different key
    /// than the cache holds for `ns` replaces what it holds for `ns`.
    pub fn store(&self, live: &[i64], ns: &Namespace, lists: &HashMap<String, CandidateList>) {
        let mut state = self.state();
        let added: usize = lists.values().map(|l| l.records.len().max(1)).sum();
        if state.candidate_count + added > MAX_CANDIDATES {
            state.candidates.clear();
            state.candidate_count = 0;
        }
        let known = state.candidates.entry(ns.clone()).or_default();
        let before = known.count;
        if known.live != live {
            *known = NamespaceCandidates {
                live: live.to_vec(),
                ..NamespaceCandidates::default()
            };
        }
        for (name, list) in lists {
            known.count += list.records.len().max(1);
            if let Some(old) = known.names.insert(name.clone(), list.clone()) {
                known.count -= old.records.len().max(1);
            }
        }
        let after = known.count;
        state.candidate_count = (state.candidate_count + after).saturating_sub(before);
    }

    /// Holds namespace `ns` whole: `lists` are all its names with live records under the live key `live`.
    /// Returns false (and holds nothing new) when that would take the cache past its bound.
    pub fn store_namespace(
        &self,
        live: &[i64],
        ns: &Namespace,
        lists: HashMap<String, CandidateList>,
    ) -> bool {
        let mut state = self.state();
        let count: usize = lists.values().map(|l| l.records.len().max(1)).sum();
        let before = state.candidates.get(ns).map_or(0, |k| k.count);
        let others = state.candidate_count.saturating_sub(before);
        if others + count > MAX_CANDIDATES {
            return false;
        }
        state.candidates.insert(
            ns.clone(),
            NamespaceCandidates {
                live: live.to_vec(),
                names: lists,
                count,
                whole: true,
            },
        );
        state.candidate_count = others + count;
        true
    }

    /// Whether namespace `ns` is held whole under the live key `live`.
    pub fn holds_whole(&self, ns: &Namespace, live: &[i64]) -> bool {
        self.state()
            .candidates
            .get(ns)
            .is_some_and(|k| k.whole && k.live == live)
    }

    /// The cached report records among `ids`, and the ids to read.
    pub fn records(&self, ids: &[i64]) -> (HashMap<i64, Arc<ReportVulnerability>>, Vec<i64>) {
        let state = self.state();
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match state.records.get(id) {
                Some(record) => {
                    found.insert(*id, record.clone());
                }
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    pub fn store_records<'a>(
        &self,
        records: impl Iterator<Item = (i64, &'a Arc<ReportVulnerability>)>,
    ) {
        let mut state = self.state();
        for (id, record) in records {
            if state.records.len() >= MAX_RECORDS {
                state.records.clear();
            }
            state.records.insert(id, record.clone());
        }
    }

    /// The cached enrichments of `cves` under the live enrichment operations `live` (sorted), and the CVE
    /// ids to read. A different key than the cache holds empties it.
    pub fn enrichments<'a>(
        &self,
        live: &[i64],
        cves: impl Iterator<Item = &'a str>,
    ) -> (Vec<EnrichmentList>, Vec<String>) {
        let mut state = self.state();
        if state.enrichment_live != live {
            state.enrichment_live = live.to_vec();
            state.enrichments.clear();
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for cve in cves {
            match state.enrichments.get(cve) {
                Some(list) => found.push(list.clone()),
                None => missing.push(cve.to_owned()),
            }
        }
        (found, missing)
    }

    /// Remembers the enrichments read for `cves` (every one of them, with or without records) under the
    /// live enrichment operations `live`.
    pub fn store_enrichments(&self, live: &[i64], cves: &[String], read: &[Enrichment]) {
        let mut state = self.state();
        if state.enrichment_live != live {
            return;
        }
        if state.enrichments.len() + cves.len() > MAX_ENRICHED_CVES {
            state.enrichments.clear();
        }
        let mut by_cve: HashMap<&str, Vec<Enrichment>> =
            cves.iter().map(|c| (c.as_str(), Vec::new())).collect();
        for e in read {
            if let Some(list) = by_cve.get_mut(e.cve.as_str()) {
                list.push(e.clone());
            }
        }
        for (cve, list) in by_cve {
            state
                .enrichments
                .insert(cve.to_owned(), EnrichmentList::from(list));
        }
    }
}
