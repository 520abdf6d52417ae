//! The matcher's reads. Every statement is prepared once per pooled connection and the independent ones are
//! pipelined on one connection, inside one read-only snapshot, so a report costs two round trips of latency
//! however many packages it has (see [`super`] for the sequence).
//!
//! Only live data is read: records and enrichments linked to the latest update operation of their source
//! (`latest_update_operation`), the same set a feed switch makes visible atomically.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_postgres::types::Json;

use super::plan::Namespace;
use crate::model::{AffectedRange, FeedFreshness, Vulnerability};
use crate::store::StoreError;

/// Candidate records of one namespace: everything needed to decide a match, without the (large)
/// descriptions and links.
pub const CANDIDATES: &str = "
    SELECT v.id, l.updater, v.name, v.package_name, v.package_is_source, v.module,
           COALESCE(v.record->>'arch', ''), v.record->'ranges', v.record->'versions', v.record->'aliases'
    FROM vulnerability v
    JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
    JOIN latest_update_operation l ON l.uo_id = uv.uo_id
    WHERE v.ecosystem = $1 AND v.package_name = ANY($2) AND v.dist_did = $3 AND v.dist_release = $4";

/// Whole records of the matched vulnerabilities.
pub const RECORDS: &str = "SELECT id, record FROM vulnerability WHERE id = ANY($1)";

/// Live enrichment records for a set of CVE ids.
pub const ENRICHMENTS: &str = "
    SELECT e.cve, l.updater, e.data
    FROM enrichment e
    JOIN uo_enrichment ue ON ue.enrichment_id = e.id
    JOIN latest_update_operation l ON l.uo_id = ue.uo_id
    WHERE e.cve = ANY($1)
    ORDER BY l.updater, e.cve, e.id";

/// Every feed known: loaded (a latest operation) or only attempted (a status row).
pub const FEEDS: &str = "
    SELECT COALESCE(l.updater, f.updater), l.switched_at, f.last_attempt, f.last_success,
           COALESCE(f.last_error, ''), COALESCE(f.record_count, uo.record_count, 0)
    FROM latest_update_operation l
    FULL JOIN feed_status f ON f.updater = l.updater
    LEFT JOIN update_operation uo ON uo.id = l.uo_id";

/// A record as the first query returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: i64,
    /// The live operation's source (the `latest_update_operation` key).
    pub feed: String,
    pub name: String,
    pub package_name: String,
    pub package_is_source: bool,
    pub module: String,
    pub arch: String,
    pub ranges: Vec<AffectedRange>,
    pub versions: Vec<String>,
    pub aliases: Vec<String>,
}

fn corrupt(what: &str, id: i64, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("vulnerability {id}: {what}: {e}"))
}

/// Reads a candidate row of [`CANDIDATES`].
pub fn candidate(row: &tokio_postgres::Row) -> Result<Candidate, StoreError> {
    let id: i64 = row.try_get(0)?;
    let json_list = |index: usize, what: &str| -> Result<Vec<serde_json::Value>, StoreError> {
        let value: Option<Json<serde_json::Value>> = row.try_get(index)?;
        match value.map(|Json(v)| v) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => Ok(items),
            Some(other) => Err(corrupt(what, id, format!("not a list: {other}"))),
        }
    };
    let ranges = json_list(7, "ranges")?
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<Vec<AffectedRange>, _>>()
        .map_err(|e| corrupt("ranges", id, e))?;
    let strings = |index: usize, what: &str| -> Result<Vec<String>, StoreError> {
        json_list(index, what)?
            .into_iter()
            .map(serde_json::from_value)
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| corrupt(what, id, e))
    };
    Ok(Candidate {
        id,
        feed: row.try_get(1)?,
        name: row.try_get(2)?,
        package_name: row.try_get(3)?,
        package_is_source: row.try_get(4)?,
        module: row.try_get(5)?,
        arch: row.try_get(6)?,
        ranges,
        versions: strings(8, "versions")?,
        aliases: strings(9, "aliases")?,
    })
}

/// Reads a row of [`RECORDS`].
pub fn record(row: &tokio_postgres::Row) -> Result<(i64, Vulnerability), StoreError> {
    let id: i64 = row.try_get(0)?;
    let value: serde_json::Value = row.try_get(1)?;
    let record = serde_json::from_value(value).map_err(|e| corrupt("record", id, e))?;
    Ok((id, record))
}

fn rfc3339(t: Option<OffsetDateTime>) -> Option<String> {
    t.and_then(|t| t.format(&Rfc3339).ok())
}

/// Reads a row of [`FEEDS`].
pub fn feed(row: &tokio_postgres::Row) -> Result<(String, FeedFreshness), StoreError> {
    Ok((
        row.try_get(0)?,
        FeedFreshness {
            updated_at: rfc3339(row.try_get(1)?),
            last_attempt: rfc3339(row.try_get(2)?),
            last_success: rfc3339(row.try_get(3)?),
            last_error: row.try_get(4)?,
            record_count: row.try_get(5)?,
        },
    ))
}

/// The parameters of [`CANDIDATES`] for a namespace.
pub fn candidate_params(ns: &Namespace) -> (&'static str, &str, &str) {
    (ns.ecosystem.as_str(), ns.did.as_str(), ns.release.as_str())
}
