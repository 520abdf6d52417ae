//! The matcher's reads. Every statement is prepared once per pooled connection and the independent ones are
//! pipelined on one connection, inside one read-only snapshot, so a report costs two round trips of latency
//! however many packages it has (see [`super`] for the sequence).
//!
//! Only live data is read: records and enrichments linked to the latest update operation of their source
//! (`latest_update_operation`), the same set a feed switch makes visible atomically.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::plan::Namespace;
use crate::model::{AffectedRange, Ecosystem, FeedFreshness, Severity};
use crate::store::StoreError;

/// Candidate records of one namespace: everything needed to decide a match, without the (large)
/// descriptions and links: the record's `probe` column (arch, ranges, versions, aliases; written at commit
/// by `feeds::store`) beside the indexed columns. The lookup index (`vulnerability_lookup_idx`) finds the
/// records of each name (`$1`–`$4`: [`candidate_params`]); `$5` is the namespace's key ([`Namespace::key`]).
///
/// `$6`, beside the names of `$2`, is each name's version floor: the least order key
/// ([`version_order_key`](crate::ecosystems::version_order_key)) of the versions a record of that name is
/// compared with (empty: no floor, every record). A record whose `version_bound` (migration V9; `\xff` when
/// unbounded) is at or below the floor affects none of those versions, and is not sent: most records of an
/// up-to-date image's packages are fixed in the version it has. The bound is the lookup index's last
/// column, so the index scan of each name starts at its floor and the records below it are not even read.
///
/// Which of them are live depends on the live operations that file records under the namespace
/// (`update_operation.namespaces`, `NULL` for every namespace; the set `live_key` computes from the feeds
/// for the cache, here computed in the statement, once, since a cold report has no feeds before it):
/// - exactly one (most namespaces): its records are the live ones, which are those not in the dead set
///   (`vulnerability_dead`, maintained by a trigger on `latest_update_operation`, migration V8), and every
///   row is that operation's. `NOT IN` makes it one hash of the small dead set per query, then a lookup per
///   row, whatever the table's statistics say (`NOT EXISTS` let the planner probe its index per row, or
///   scan it per row when it looked empty: ×1.3–1.9 the time);
/// - several (Alpine's main and community of a branch, a superseded feed beside its successor): one
///   index-only probe per record into `uo_vulnerability_live_idx` (`vulnerability_id, uo_id`) names the live
///   operation holding it, which the report needs (superseded feeds, freshness). The lateral `LIMIT 1` keeps
///   the planner on that nested loop (a join let it hash every live link, ~200k rows) and yields one row
///   per record;
/// - none: no rows.
///
/// The two branches are gated by one-time filters, so a generic plan runs only one of them.
pub const CANDIDATES: &str = concat!(
    "WITH live AS (
        SELECT array_agg(l.uo_id) AS ids
        FROM latest_update_operation l
        JOIN update_operation o ON o.id = l.uo_id
        WHERE o.kind = 'vulnerability' AND (o.namespaces IS NULL OR $5 = ANY(o.namespaces)))
    SELECT v.id, (SELECT ids[1] FROM live), v.package_name, v.package_is_source, v.module, v.name, v.probe,
           v.ctid
    FROM ",
    names_with_floors!(),
    "
    WHERE (SELECT cardinality(ids) FROM live) = 1
      AND v.ecosystem = $1 AND v.dist_did = $3 AND v.dist_release = $4
      AND v.version_bound > k.floor
      AND v.id NOT IN (SELECT vulnerability_id FROM vulnerability_dead)
    UNION ALL
    ",
    live_candidates!("", names_with_floors!()),
    "WHERE (SELECT cardinality(ids) FROM live) > 1
      AND v.ecosystem = $1 AND v.dist_did = $3 AND v.dist_release = $4
      AND v.version_bound > k.floor"
);

/// The rows [`CANDIDATES`] reads: each name of `$2` with its floor from `$6`, joined to its records (one
/// descent of the lookup index per name, as `package_name = ANY($2)` made).
macro_rules! names_with_floors {
    () => {
        "unnest($2::text[], $6::bytea[]) AS k(name, floor)
    JOIN vulnerability v ON v.package_name = k.name"
    };
}
use names_with_floors;

/// The select list (plus `$extra` columns), the rows (`$from`, where `v` is `vulnerability`) and the
/// liveness probe [`CANDIDATES`] and [`NAMESPACE_CANDIDATES`] share (a macro, so both stay `&'static str`
/// constants).
macro_rules! live_candidates {
    ($extra:expr, $from:expr) => {
        concat!(
            "SELECT v.id, uv.uo_id, v.package_name, v.package_is_source, v.module, v.name, v.probe, v.ctid",
            $extra,
            "
    FROM ",
            $from,
            "
    CROSS JOIN LATERAL (
        SELECT u.uo_id FROM uo_vulnerability u
        WHERE u.vulnerability_id = v.id
          AND u.uo_id = ANY(ARRAY(SELECT uo_id FROM latest_update_operation))
        LIMIT 1) uv
    "
        )
    };
}

/// The refresh reads' ninth column: the record's report, which the refresh keeps beside its candidate
/// ([`ShelvedReport`]), so a refreshed matcher's reports read no records at all. The column is read from the
/// heap page the refresh reads anyway.
macro_rules! shelved_report {
    () => {
        ", v.report"
    };
}
use live_candidates;

/// Every live candidate record of one namespace, as [`CANDIDATES`] gives them for some names (for
/// [`Matcher::refresh`](super::Matcher::refresh)). The lookup index's leading column narrows it to the
/// ecosystem; the namespace is then a filter (a background read, not a report's).
pub const NAMESPACE_CANDIDATES: &str = concat!(
    live_candidates!(shelved_report!(), "vulnerability v"),
    "WHERE v.ecosystem = $1 AND v.dist_did = $2 AND v.dist_release = $3"
);

/// Every live record's candidate (the columns of [`NAMESPACE_CANDIDATES`], then the record's namespace):
/// what [`Matcher::refresh`](super::Matcher::refresh) reads when most namespaces are stale, as at a process's
/// start. One sequential scan joined to the live operations' memberships by hash: PostgreSQL reads a
/// large table's sequential scan through a small ring of buffers, so this read leaves the shared buffers
/// (the pages reports read records from) as they were, where one index read per namespace pulls every
/// page of the table through them. It is also faster: on the benchmark's 192,730 records, 0.39 s of
/// execution against 1.1 s for the per-namespace reads.
pub const LIVE_CANDIDATES: &str = concat!(
    "SELECT v.id, u.uo_id, v.package_name, v.package_is_source, v.module, v.name, v.probe, v.ctid",
    shelved_report!(),
    ", v.ecosystem, v.dist_did, v.dist_release
    FROM vulnerability v
    JOIN uo_vulnerability u ON u.vulnerability_id = v.id
    WHERE u.uo_id = ANY(ARRAY(SELECT uo_id FROM latest_update_operation))"
);

/// The matched records, without the parts only matching needs (OSV version lists can run to hundreds of
/// entries): the `report` column, JSON text written at commit (migration V6), which PostgreSQL sends as
/// stored. Read by their row addresses ([`RowAddress`], from the candidates): a TID scan reads one heap
/// page per record, where the primary key costs PostgreSQL 15 an index descent per id as well (3,226
/// records: 3,226 buffers against 12,316, 3.9 ms against 6.4–10.4 ms of execution). The addresses go as a
/// binary `tid[]`, as the candidates' `ctid` came.
pub const RECORDS_AT: &str = "SELECT id, report FROM vulnerability WHERE ctid = ANY($1)";

/// The matched records by id: those not found at their row address (rows are never updated, but
/// `VACUUM FULL` or `CLUSTER` move them).
pub const RECORDS: &str = "SELECT id, report FROM vulnerability WHERE id = ANY($1)";

/// Where a `vulnerability` row was when its candidate was read (PostgreSQL's `ctid`: block and line
/// pointer). Only a hint: the row read there must still carry the expected id.
///
/// Read and sent in `tid`'s binary form (PostgreSQL's `tidsend`/`tidrecv`: the block number as 4 bytes,
/// then the line pointer as 2, big-endian), which postgres-types does not implement: a cold report reads
/// thousands of addresses and sends back the matched ones, and the text form cost a string per address
/// each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowAddress {
    block: u32,
    line: u16,
}

impl<'a> tokio_postgres::types::FromSql<'a> for RowAddress {
    fn from_sql(
        _: &tokio_postgres::types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        match *raw {
            [b0, b1, b2, b3, l0, l1] => Ok(RowAddress {
                block: u32::from_be_bytes([b0, b1, b2, b3]),
                line: u16::from_be_bytes([l0, l1]),
            }),
            _ => Err(format!("a tid of {} bytes", raw.len()).into()),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        *ty == tokio_postgres::types::Type::TID
    }
}

impl tokio_postgres::types::ToSql for RowAddress {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.block.to_be_bytes());
        out.extend_from_slice(&self.line.to_be_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        *ty == tokio_postgres::types::Type::TID
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Live enrichment records for a set of CVE ids.
pub const ENRICHMENTS: &str = "
    SELECT e.cve, l.updater, e.id, e.data
    FROM enrichment e
    JOIN uo_enrichment ue ON ue.enrichment_id = e.id
    JOIN latest_update_operation l ON l.uo_id = ue.uo_id
    WHERE e.cve = ANY($1)
    ORDER BY l.updater, e.cve, e.id";

/// A live enrichment record of a CVE, as [`ENRICHMENTS`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrichment {
    pub cve: String,
    pub updater: String,
    /// The `enrichment` row id (rows are content-addressed and never rewritten).
    pub id: i64,
    pub data: std::sync::Arc<serde_json::Value>,
}

/// Reads a row of [`ENRICHMENTS`].
pub fn enrichment(row: &tokio_postgres::Row) -> Result<Enrichment, StoreError> {
    Ok(Enrichment {
        cve: row.try_get(0)?,
        updater: row.try_get(1)?,
        id: row.try_get(2)?,
        data: std::sync::Arc::new(row.try_get(3)?),
    })
}

/// Every feed known: loaded (a latest operation) or only attempted (a status row).
pub const FEEDS: &str = "
    SELECT COALESCE(l.updater, f.updater), l.switched_at, f.last_attempt, f.last_success,
           COALESCE(f.last_error, ''), COALESCE(f.record_count, uo.record_count, 0), l.uo_id,
           COALESCE(uo.kind, 'vulnerability'), COALESCE(f.fingerprint, ''), uo.namespaces
    FROM latest_update_operation l
    FULL JOIN feed_status f ON f.updater = l.updater
    LEFT JOIN update_operation uo ON uo.id = l.uo_id";

/// A record as the first query returns it: only what deciding a match needs, compact (a report walks
/// thousands of them; the package name is its list's, [`NameCandidates::name`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i64,
    /// Where the record's row was read ([`RECORDS_AT`]).
    pub row: RowAddress,
    /// The live operation holding the record (see [`feed`] for its source).
    pub uo_id: i64,
    pub package_is_source: bool,
    pub module: Box<str>,
    pub arch: Box<str>,
    pub ranges: Box<[AffectedRange]>,
    /// Sorted and deduplicated (byte order), so membership is a binary search.
    pub versions: Box<[String]>,
    /// CVE ids named by the record's name and aliases ([`super::cve_ids`]), for enrichment: computed once,
    /// when the candidate is read, not per report.
    pub cves: Box<[String]>,
    /// The record's report, when a refresh read the candidate (a report's own candidate reads leave it out:
    /// they read the reports of their matches only).
    pub report: Option<std::sync::Arc<ShelvedReport>>,
}

impl Candidate {
    /// The fields [`super::affects`] reads, for a candidate of the package `name`.
    pub fn match_fields<'a>(&'a self, name: &'a str) -> super::MatchFields<'a> {
        super::MatchFields {
            package_name: name,
            package_is_source: self.package_is_source,
            module: &self.module,
            arch: &self.arch,
            ranges: &self.ranges,
            versions: &self.versions,
            versions_sorted: true,
        }
    }
}

/// The candidates of one package name in one namespace (often none).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameCandidates {
    /// The package name (normalized) every record of the list is about.
    pub name: String,
    pub records: Vec<Candidate>,
    /// The version floor the list was read with ([`CANDIDATES`]' `$6`; empty: every record): it lacks the
    /// records that affect no version whose order key is at or above it.
    pub floor: Box<[u8]>,
}

fn corrupt(what: &str, id: i64, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("vulnerability {id}: {what}: {e}"))
}

/// The `probe` column of a candidate, as written by `feeds::store` (which also reads it back to fill the
/// version bounds of stored rows, `fill_version_bounds`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct StoredProbe {
    #[serde(default, deserialize_with = "null_as_default")]
    pub arch: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub ranges: Vec<AffectedRange>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    use serde::Deserialize as _;
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a candidate row of [`CANDIDATES`]: its package name and the candidate.
pub fn candidate(row: &tokio_postgres::Row) -> Result<(&str, Candidate), StoreError> {
    let id: i64 = row.try_get(0)?;
    let name: &str = row.try_get(5)?;
    let probe: &str = row.try_get(6)?;
    let mut fields: StoredProbe =
        serde_json::from_str(probe).map_err(|e| corrupt("probe", id, e))?;
    // The feed store writes the list sorted and deduplicated, but rows stored before it did keep theirs as
    // the feed gave it; on a sorted list this is one pass (and most lists are empty).
    fields.versions.sort_unstable();
    fields.versions.dedup();
    let cves =
        super::cve_ids(std::iter::once(name).chain(fields.aliases.iter().map(String::as_str)))
            .into_iter()
            .collect();
    let module: &str = row.try_get(4)?;
    let address: RowAddress = row.try_get(7)?;
    Ok((
        row.try_get(2)?,
        Candidate {
            id,
            row: address,
            uo_id: row.try_get(1)?,
            package_is_source: row.try_get(3)?,
            module: module.into(),
            arch: fields.arch.into(),
            ranges: fields.ranges.into(),
            versions: fields.versions.into(),
            cves,
            report: None,
        },
    ))
}

/// The part of a stored record a report shows (the stored JSON is a [`Vulnerability`](crate::model::Vulnerability)),
/// with its text as `S`: [`String`] as a report reads it, [`Arc<str>`](std::sync::Arc) interned as a refresh
/// keeps it ([`ShelvedReport`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct ReportRecord<S = String> {
    pub updater: S,
    pub name: S,
    #[serde(default)]
    pub description: S,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub issued: Option<OffsetDateTime>,
    #[serde(default)]
    pub links: Vec<S>,
    #[serde(default)]
    pub severity: S,
    #[serde(default)]
    pub normalized_severity: Severity,
    #[serde(default)]
    pub ecosystem: Option<Ecosystem>,
    pub package_name: S,
    #[serde(default)]
    pub package_is_source: bool,
    #[serde(default)]
    pub distribution: Option<RecordDistribution<S>>,
    #[serde(default)]
    pub module: S,
    #[serde(default)]
    pub arch: S,
    #[serde(default)]
    pub fixed_in_version: S,
}

/// A record's distribution ([`DistributionSelector`](crate::model::DistributionSelector)'s fields).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct RecordDistribution<S = String> {
    pub did: S,
    pub release: S,
}

/// The text of a [`ReportRecord`], taken into a report's own [`String`].
pub trait RecordText: AsRef<str> + std::borrow::Borrow<str> {
    fn into_string(self) -> String;
}

impl RecordText for String {
    fn into_string(self) -> String {
        self
    }
}

impl RecordText for std::sync::Arc<str> {
    fn into_string(self) -> String {
        String::from(&*self)
    }
}

/// A record's report as a refresh keeps it beside its candidate ([`Candidate::report`]), for every live
/// record: its text interned ([`Interner`]), since most of it repeats across records (the same CVE's
/// description and links in every release of a distribution: 16 MB of distinct descriptions in 83 MB on
/// the benchmark's records).
pub type ShelvedReport = ReportRecord<std::sync::Arc<str>>;

/// One copy of each distinct text a refresh keeps ([`ShelvedReport`]). Hand-written: a set of `Arc<str>`
/// looked up by `&str` is all it takes, and the interner crates either leak their strings for the
/// process's life or hand out ids that a report would have to resolve through the interner. Hashed with
/// foldhash: a refresh hashes 165 MB of text, and SipHash (std's default) took a fifth of the bench's CPU.
#[derive(Default)]
pub struct Interner {
    texts: std::collections::HashSet<std::sync::Arc<str>, foldhash::fast::RandomState>,
}

impl Interner {
    pub fn intern(&mut self, text: &str) -> std::sync::Arc<str> {
        if let Some(known) = self.texts.get(text) {
            return known.clone();
        }
        let text: std::sync::Arc<str> = text.into();
        self.texts.insert(text.clone());
        text
    }
}

/// A JSON string borrowed from the row where it holds no escape, so shelving a record copies only the
/// texts the interner has not seen (a refresh reads 165 MB of reports, mostly repeated).
#[derive(Debug, Default)]
pub struct RowText<'a>(std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for RowText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RowText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(RowText(std::borrow::Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(RowText(std::borrow::Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(RowText(std::borrow::Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl ReportRecord<RowText<'_>> {
    /// This record with its text interned, as a refresh keeps it.
    pub fn shelve(self, texts: &mut Interner) -> ShelvedReport {
        let mut intern = |text: RowText| texts.intern(&text.0);
        ReportRecord {
            updater: intern(self.updater),
            name: intern(self.name),
            description: intern(self.description),
            issued: self.issued,
            links: self.links.into_iter().map(&mut intern).collect(),
            severity: intern(self.severity),
            normalized_severity: self.normalized_severity,
            ecosystem: self.ecosystem,
            package_name: intern(self.package_name),
            package_is_source: self.package_is_source,
            distribution: self.distribution.map(|d| RecordDistribution {
                did: intern(d.did),
                release: intern(d.release),
            }),
            module: intern(self.module),
            arch: intern(self.arch),
            fixed_in_version: intern(self.fixed_in_version),
        }
    }
}

/// Reads a row of [`RECORDS`].
pub fn record(row: &tokio_postgres::Row) -> Result<(i64, ReportRecord), StoreError> {
    let id: i64 = row.try_get(0)?;
    Ok((id, report_record(id, row.try_get(1)?)?))
}

fn report_record(id: i64, text: &str) -> Result<ReportRecord, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt("record", id, e))
}

/// The report a refresh read beside a candidate (its ninth column, see [`NAMESPACE_CANDIDATES`]), shelved.
pub fn shelved_report(
    row: &tokio_postgres::Row,
    texts: &mut Interner,
) -> Result<ShelvedReport, StoreError> {
    let id: i64 = row.try_get(0)?;
    let text: &str = row.try_get(8)?;
    let record: ReportRecord<RowText> =
        serde_json::from_str(text).map_err(|e| corrupt("record", id, e))?;
    Ok(record.shelve(texts))
}

fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

/// A row of [`FEEDS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub name: String,
    pub freshness: FeedFreshness,
    /// The live operation, when the feed has loaded.
    pub uo_id: Option<i64>,
    /// Whether the feed holds enrichments (NVD, KEV, EPSS) rather than vulnerabilities.
    pub enrichment: bool,
    /// The namespaces ([`Namespace::key`]) the live operation's records are filed under; `None` when
    /// unknown (an operation committed before migration V5 and not live then): it may cover any.
    pub namespaces: Option<Vec<String>>,
}

impl Feed {
    /// Whether the live operation may hold records of namespace `key` ([`Namespace::key`]).
    pub fn may_cover(&self, key: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|keys| keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok())
    }
}

/// Reads a row of [`FEEDS`].
pub fn feed(row: &tokio_postgres::Row) -> Result<Feed, StoreError> {
    let kind: String = row.try_get(7)?;
    let fingerprint: String = row.try_get(8)?;
    Ok(Feed {
        name: row.try_get(0)?,
        freshness: FeedFreshness {
            updated_at: rfc3339(row.try_get(1)?),
            last_attempt: rfc3339(row.try_get(2)?),
            last_success: rfc3339(row.try_get(3)?),
            last_error: row.try_get(4)?,
            record_count: row.try_get(5)?,
            snapshot: crate::feeds::archive::snapshot_date(&fingerprint).map(str::to_owned),
        },
        uo_id: row.try_get(6)?,
        enrichment: kind == "enrichment",
        namespaces: row.try_get::<_, Option<Vec<String>>>(9)?.map(|mut keys| {
            keys.sort_unstable();
            keys
        }),
    })
}

/// The lookup parameters of [`CANDIDATES`] (`$1`–`$4`) and [`NAMESPACE_CANDIDATES`] for a namespace.
pub fn candidate_params(ns: &Namespace) -> (&'static str, &str, &str) {
    (ns.ecosystem.as_str(), ns.did.as_str(), ns.release.as_str())
}

#[cfg(test)]
mod tests {
    use super::RowAddress;
    use tokio_postgres::types::{FromSql, ToSql, Type};

    #[test]
    fn row_addresses_read_back_in_tids_binary_form() {
        for (block, line) in [(0, 1), (13_445, 2), (u32::MAX, u16::MAX)] {
            let address = RowAddress { block, line };
            let mut sent = bytes::BytesMut::new();
            address.to_sql(&Type::TID, &mut sent).unwrap();
            let mut expected = block.to_be_bytes().to_vec();
            expected.extend(line.to_be_bytes());
            assert_eq!(&sent[..], &expected[..], "tidsend's layout");
            assert_eq!(RowAddress::from_sql(&Type::TID, &sent).unwrap(), address);
        }
        let one_two = RowAddress { block: 1, line: 2 };
        assert_ne!(one_two, RowAddress { block: 2, line: 1 });
        for garbage in [&[][..], &[0, 0, 0, 1, 0], &[0, 0, 0, 1, 0, 2, 0]] {
            assert!(
                RowAddress::from_sql(&Type::TID, garbage).is_err(),
                "{garbage:?}"
            );
        }
        assert!(<RowAddress as ToSql>::accepts(&Type::TID));
        assert!(!<RowAddress as FromSql>::accepts(&Type::TEXT));
    }
}
