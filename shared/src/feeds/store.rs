//! The vulnerability database: update operations, deduplicated records, the live operation per updater,
//! diffs, garbage collection and per-source status.
//!
//! Model (Clair's): each run of an updater that changed something is one **update operation** linking the
//! full set of records the feed held at that time. Records are stored once, keyed by the sha256 of their
//! canonical JSON, and shared by every operation (and updater) that holds them. Readers see only records
//! linked to an updater's *latest* operation, and the latest pointer switches in the transaction that
//! writes the operation, so a half-written update is never visible.
//!
//! Column contract the matcher queries on (`vulnerability` table): `ecosystem` = [`Ecosystem::as_str`] or
//! `''`; `package_name` = [`normalize_package_name`]; `dist_did`/`dist_release` from the record's
//! distribution selector, `''` for language ecosystems.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::enrichment::Enrichment;
use crate::ecosystems::normalize_package_name;
use crate::model::{Ecosystem, Vulnerability};
use crate::store::{Database, StoreError};

/// One committed run of an updater.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdateOperation {
    #[serde(skip)]
    pub id: i64,
    /// Clair's `ref`: the public identifier of the operation.
    #[serde(rename = "ref")]
    pub reference: Uuid,
    pub updater: String,
    /// The fetch fingerprint of the data the operation was built from (ETag, Last-Modified, sha256).
    pub fingerprint: String,
    #[serde(with = "time::serde::rfc3339")]
    pub date: OffsetDateTime,
    pub kind: String,
    pub record_count: i64,
}

/// What [`FeedStore::commit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The records are exactly the latest operation's: nothing was written.
    Unchanged { latest: UpdateOperation },
    /// A new operation is live. `added`/`removed` count records against `previous`.
    Committed {
        operation: UpdateOperation,
        previous: Option<UpdateOperation>,
        added: u64,
        removed: u64,
    },
}

/// Records added and removed between two operations of one updater (Clair's `update_diff`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UpdateDiff {
    /// Omitted when the diff is against nothing (every record of `cur` is added).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<UpdateOperation>,
    pub cur: UpdateOperation,
    pub added: Vec<Vulnerability>,
    pub removed: Vec<Vulnerability>,
}

/// What garbage collection removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct GcReport {
    pub operations_deleted: u64,
    pub vulnerabilities_deleted: u64,
    pub enrichments_deleted: u64,
}

/// A source's last attempts, as `lucid feeds status` and the API show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedStatus {
    pub source: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success: Option<OffsetDateTime>,
    /// Empty when the last attempt succeeded.
    pub last_error: String,
    pub fingerprint: String,
    pub record_count: i64,
}

/// A row ready for `COPY`: its content hash and the column values after the hash.
type CopyRow = (Vec<u8>, Vec<Box<dyn ToSql + Sync + Send>>);

/// The canonical JSON of a record and its sha256. Field order is the struct's declaration order, so equal
/// records serialize to equal bytes.
fn canonical<T: serde::Serialize>(record: &T, what: &str) -> Result<(Vec<u8>, String), StoreError> {
    let json = serde_json::to_string(record)
        .map_err(|e| StoreError::Corrupt(format!("record {what}: {e}")))?;
    Ok((Sha256::digest(json.as_bytes()).to_vec(), json))
}

/// The `probe` column of a vulnerability row: the fields of the record that decide a match (besides the
/// indexed columns), read by the matcher's candidate query (`matcher::store::CANDIDATES`) instead of the
/// whole record. Derived from the record, so it follows the record's content hash.
///
/// Only what can change the matcher's answer is kept, since a cold report parses the probe of every
/// candidate (OSV's PyPI records list 85 versions on average, most of them inside the record's ranges):
/// - `versions`: the listed versions no range covers ([`osv::in_ranges`](super::osv::in_ranges)), sorted
///   and deduplicated. A version is affected when listed or inside a range, and being inside a range is a
///   function of the version's text, so a listed version inside a range changes no answer. With no ranges,
///   the list is the record's whole answer and is kept whole;
/// - `aliases`: those naming a CVE id (the matcher reads aliases only for them, `matcher::cve_ids`).
#[derive(serde::Serialize)]
struct MatchProbe<'a> {
    arch: &'a str,
    ranges: &'a [crate::model::AffectedRange],
    versions: Vec<&'a str>,
    aliases: Vec<&'a str>,
}

impl<'a> MatchProbe<'a> {
    fn of(record: &'a Vulnerability) -> Self {
        let mut versions: Vec<&str> = record
            .versions
            .iter()
            .map(String::as_str)
            .filter(|v| match record.ecosystem {
                Some(ecosystem) if !record.ranges.is_empty() => {
                    !super::osv::in_ranges(ecosystem, &record.ranges, v)
                }
                _ => true,
            })
            .collect();
        versions.sort_unstable();
        versions.dedup();
        MatchProbe {
            arch: &record.arch,
            ranges: &record.ranges,
            versions,
            aliases: record
                .aliases
                .iter()
                .map(String::as_str)
                .filter(|a| !crate::matcher::cve_ids([*a]).is_empty())
                .collect(),
        }
    }
}

/// Rows filled per transaction by [`fill_version_bounds`].
const FILL_BATCH: i64 = 5_000;

/// Computes the `version_bound` of the rows queued in `version_bound_pending` (migration V9, and any later
/// migration that queues an ecosystem gaining an order key) from their stored probes, as the feed store
/// computes it for new rows ([`osv::version_bound`](super::osv::version_bound)). Run by
/// [`Database::migrate`](crate::store::Database::migrate) under its lock. Each batch fills its rows and
/// dequeues them in one transaction, so an interrupted fill resumes where it stopped, and a row not filled
/// yet is only a candidate for every version (its bound is the column's default,
/// [`UNBOUNDED_VERSION_KEY`](crate::ecosystems::UNBOUNDED_VERSION_KEY)), as before. Rows without a bound
/// keep that default.
///
/// Stops after the batch that passes `budget` (at least one batch is filled): every function migrates at
/// start, a Lambda's initialization has 10 s, and the bench database's 92,143 dpkg rows take about half a
/// second per batch. What is left waits for the next start. Returns the rows dequeued and whether more may
/// be left (the last batch was full).
pub async fn fill_version_bounds(
    client: &mut tokio_postgres::Client,
    budget: std::time::Duration,
) -> Result<(u64, bool), StoreError> {
    let started = std::time::Instant::now();
    let mut dequeued = 0u64;
    loop {
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT p.vulnerability_id, v.ecosystem, v.probe::text
                 FROM version_bound_pending p
                 LEFT JOIN vulnerability v ON v.id = p.vulnerability_id
                 ORDER BY p.vulnerability_id
                 LIMIT $1",
                &[&FILL_BATCH],
            )
            .await?;
        if rows.is_empty() {
            return Ok((dequeued, false));
        }
        let mut ids = Vec::with_capacity(rows.len());
        let (mut bounded, mut bounds) = (Vec::new(), Vec::new());
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            ids.push(id);
            let ecosystem: Option<&str> = row.try_get(1)?;
            let probe: Option<&str> = row.try_get(2)?;
            let (Some(ecosystem), Some(probe)) = (ecosystem, probe) else {
                continue; // The row is gone (collected since it was queued).
            };
            let Ok(ecosystem) = ecosystem.parse::<Ecosystem>() else {
                continue;
            };
            let probe: crate::matcher::store::StoredProbe = match serde_json::from_str(probe) {
                Ok(probe) => probe,
                Err(e) => {
                    // Left unbounded: a candidate for every version, which loses nothing.
                    tracing::warn!(vulnerability = id, error = %e, "a stored probe does not parse");
                    continue;
                }
            };
            let versions: Vec<&str> = probe.versions.iter().map(String::as_str).collect();
            if let Some(bound) = super::osv::version_bound(ecosystem, &probe.ranges, &versions) {
                bounded.push(id);
                bounds.push(bound);
            }
        }
        tx.execute(
            "UPDATE vulnerability v SET version_bound = b.bound
             FROM unnest($1::int8[], $2::bytea[]) AS b(id, bound)
             WHERE v.id = b.id",
            &[&bounded, &bounds],
        )
        .await?;
        tx.execute(
            "DELETE FROM version_bound_pending WHERE vulnerability_id = ANY($1)",
            &[&ids],
        )
        .await?;
        tx.commit().await?;
        dequeued += ids.len() as u64;
        if started.elapsed() >= budget {
            let left = (rows.len() as i64) == FILL_BATCH;
            return Ok((dequeued, left));
        }
    }
}

/// The `report` column of a vulnerability row: the record without the fields only matching needs, as JSON
/// text the matcher parses directly (`matcher::store::RECORDS`, `ReportRecord`), so PostgreSQL does not
/// convert the JSONB record for every matched row. Field names and formats are the record's own.
#[derive(serde::Serialize)]
struct ReportFields<'a> {
    updater: &'a str,
    name: &'a str,
    description: &'a str,
    #[serde(with = "time::serde::rfc3339::option")]
    issued: Option<time::OffsetDateTime>,
    links: &'a [String],
    severity: &'a str,
    normalized_severity: crate::model::Severity,
    ecosystem: Option<Ecosystem>,
    package_name: &'a str,
    package_is_source: bool,
    distribution: &'a Option<crate::model::DistributionSelector>,
    module: &'a str,
    arch: &'a str,
    fixed_in_version: &'a str,
}

impl<'a> ReportFields<'a> {
    fn of(record: &'a Vulnerability) -> Self {
        ReportFields {
            updater: &record.updater,
            name: &record.name,
            description: &record.description,
            issued: record.issued,
            links: &record.links,
            severity: &record.severity,
            normalized_severity: record.normalized_severity,
            ecosystem: record.ecosystem,
            package_name: &record.package_name,
            package_is_source: record.package_is_source,
            distribution: &record.distribution,
            module: &record.module,
            arch: &record.arch,
            fixed_in_version: &record.fixed_in_version,
        }
    }
}

/// The tables one kind of record lives in.
struct RecordTable {
    /// `update_operation.kind`.
    kind: &'static str,
    /// Columns after `hash`, as created in the temporary table and copied.
    columns: &'static [(&'static str, &'static str)],
    table: &'static str,
    /// `table`'s columns after `hash`, and the expression list selecting them from the temporary table.
    table_columns: &'static str,
    select: &'static str,
    /// Where the part of a record the matcher never reads is kept, written for the rows a commit inserts.
    side: Option<SideTable>,
    link: &'static str,
    link_column: &'static str,
    /// `update_operation.namespaces` of an operation holding the `incoming` rows (SQL), or `NULL` for
    /// records the matcher does not look up by namespace.
    namespaces: &'static str,
    /// The order new rows are inserted in (SQL `ORDER BY` list of `incoming` columns): the order readers
    /// ask for them, so rows read together share heap pages (PostgreSQL appends an insert's rows in the
    /// order given).
    insert_order: &'static str,
}

/// A table beside a [`RecordTable`]'s, one row per row of it (keyed by its id).
struct SideTable {
    table: &'static str,
    /// The column holding the main table's id.
    key: &'static str,
    column: &'static str,
    /// The expression selecting `column` from the temporary table.
    select: &'static str,
}

const VULNERABILITIES: RecordTable = RecordTable {
    kind: "vulnerability",
    columns: &[
        ("updater", "TEXT"),
        ("name", "TEXT"),
        ("ecosystem", "TEXT"),
        ("package_name", "TEXT"),
        ("package_is_source", "BOOLEAN"),
        ("dist_did", "TEXT"),
        ("dist_release", "TEXT"),
        ("module", "TEXT"),
        ("normalized_severity", "TEXT"),
        ("fixed_in_version", "TEXT"),
        ("record", "TEXT"),
        ("probe", "TEXT"),
        ("report", "TEXT"),
        ("version_bound", "BYTEA"),
    ],
    table: "vulnerability",
    table_columns: "updater, name, ecosystem, package_name, package_is_source, dist_did, dist_release, \
                    module, normalized_severity, fixed_in_version, probe, report, version_bound",
    select: "updater, name, ecosystem, package_name, package_is_source, dist_did, dist_release, module, \
             normalized_severity, fixed_in_version, probe, report, version_bound",
    // The canonical record (migration V7): read whole by the feed store and the notifier, never by the
    // matcher, so it is kept out of the heap the matcher's reads walk.
    side: Some(SideTable {
        table: "vulnerability_record",
        key: "vulnerability_id",
        column: "record",
        select: "record::jsonb",
    }),
    link: "uo_vulnerability",
    link_column: "vulnerability_id",
    // The matcher's namespace key (`matcher::plan::Namespace::key`).
    namespaces: "ARRAY(SELECT DISTINCT ecosystem || '/' || dist_did || '/' || dist_release FROM incoming \
                 ORDER BY 1)",
    // The matcher reads records by package name (`vulnerability_lookup_idx`'s order, which migration V7
    // clusters the table by): inserted in that order, a package's records share heap pages rather than
    // lying wherever their advisory came in the feed (Debian's OVAL lists by CVE, so a package's records
    // were spread over its whole release). See bench/match-results.md, session 9.
    insert_order: "ecosystem, package_name, dist_did, dist_release, name, hash",
};

const ENRICHMENTS: RecordTable = RecordTable {
    kind: "enrichment",
    columns: &[("updater", "TEXT"), ("cve", "TEXT"), ("data", "TEXT")],
    table: "enrichment",
    table_columns: "updater, cve, data",
    select: "updater, cve, data::jsonb",
    side: None,
    link: "uo_enrichment",
    link_column: "enrichment_id",
    namespaces: "NULL",
    // Read by CVE id.
    insert_order: "cve, hash",
};

fn postgres_type(sql: &str) -> Type {
    match sql {
        "BOOLEAN" => Type::BOOL,
        "BYTEA" => Type::BYTEA,
        _ => Type::TEXT,
    }
}

const OPERATION_COLUMNS: &str = "id, ref, updater, fingerprint, created_at, kind, record_count";

fn operation_from_row(row: &tokio_postgres::Row) -> Result<UpdateOperation, StoreError> {
    Ok(UpdateOperation {
        id: row.try_get(0)?,
        reference: row.try_get(1)?,
        updater: row.try_get(2)?,
        fingerprint: row.try_get(3)?,
        date: row.try_get(4)?,
        kind: row.try_get(5)?,
        record_count: row.try_get(6)?,
    })
}

/// Lock key of an updater's commits (`pg_advisory_xact_lock`), and of a source's whole run.
fn lock_key(scope: &str, name: &str) -> String {
    format!("lucid-feed:{scope}:{name}")
}

/// Store operations for the feed updater and its readers.
#[derive(Clone)]
pub struct FeedStore {
    db: Database,
}

impl FeedStore {
    pub fn new(db: Database) -> FeedStore {
        FeedStore { db }
    }

    /// Stores `records` as the new state of `updater`. When they equal the latest operation's records,
    /// nothing is written ([`CommitOutcome::Unchanged`]); otherwise one transaction bulk-loads them with
    /// `COPY`, inserts the records not stored yet, links them to a new operation and switches the latest
    /// pointer. Concurrent commits of one updater are serialized by an advisory lock.
    pub async fn commit(
        &self,
        updater: &str,
        fingerprint: &str,
        records: &[Vulnerability],
    ) -> Result<CommitOutcome, StoreError> {
        let mut rows: Vec<CopyRow> = Vec::with_capacity(records.len());
        for r in records {
            let (hash, json) = canonical(r, &r.name)?;
            let probe = MatchProbe::of(r);
            let version_bound = r
                .ecosystem
                .and_then(|e| super::osv::version_bound(e, &r.ranges, &probe.versions))
                .unwrap_or_else(|| crate::ecosystems::UNBOUNDED_VERSION_KEY.to_vec());
            let probe = serde_json::to_string(&probe)
                .map_err(|e| StoreError::Corrupt(format!("record {}: {e}", r.name)))?;
            let report = serde_json::to_string(&ReportFields::of(r))
                .map_err(|e| StoreError::Corrupt(format!("record {}: {e}", r.name)))?;
            let (did, release) = r
                .distribution
                .as_ref()
                .map(|d| (d.did.clone(), d.release.clone()))
                .unwrap_or_default();
            rows.push((
                hash,
                vec![
                    Box::new(r.updater.clone()),
                    Box::new(r.name.clone()),
                    Box::new(r.ecosystem.map(Ecosystem::as_str).unwrap_or("").to_owned()),
                    Box::new(normalize_package_name(r.ecosystem, &r.package_name)),
                    Box::new(r.package_is_source),
                    Box::new(did),
                    Box::new(release),
                    Box::new(r.module.clone()),
                    Box::new(r.normalized_severity.to_string()),
                    Box::new(r.fixed_in_version.clone()),
                    Box::new(json),
                    Box::new(probe),
                    Box::new(report),
                    Box::new(version_bound),
                ],
            ));
        }
        self.commit_rows(&VULNERABILITIES, updater, fingerprint, rows)
            .await
    }

    /// Stores enrichment records (NVD, KEV, EPSS) as the new state of `updater`, like [`FeedStore::commit`].
    pub async fn commit_enrichments(
        &self,
        updater: &str,
        fingerprint: &str,
        records: &[Enrichment],
    ) -> Result<CommitOutcome, StoreError> {
        let mut rows: Vec<CopyRow> = Vec::with_capacity(records.len());
        for r in records {
            let (hash, _) = canonical(r, &r.cve)?;
            let data = serde_json::to_string(&r.data)
                .map_err(|e| StoreError::Corrupt(format!("enrichment {}: {e}", r.cve)))?;
            rows.push((
                hash,
                vec![
                    Box::new(r.updater.clone()),
                    Box::new(r.cve.clone()),
                    Box::new(data),
                ],
            ));
        }
        self.commit_rows(&ENRICHMENTS, updater, fingerprint, rows)
            .await
    }

    async fn commit_rows(
        &self,
        spec: &RecordTable,
        updater: &str,
        fingerprint: &str,
        rows: Vec<CopyRow>,
    ) -> Result<CommitOutcome, StoreError> {
        let mut seen = HashSet::with_capacity(rows.len());
        let rows: Vec<CopyRow> = rows
            .into_iter()
            .filter(|(hash, _)| seen.insert(hash.clone()))
            .collect();
        let (table, link, link_column) = (spec.table, spec.link, spec.link_column);
        let column_names: Vec<&str> = spec.columns.iter().map(|(name, _)| *name).collect();
        let column_names = column_names.join(", ");
        let column_defs: Vec<String> = spec
            .columns
            .iter()
            .map(|(name, ty)| format!("{name} {ty}"))
            .collect();

        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&lock_key("commit", updater)],
        )
        .await?;
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE incoming (hash BYTEA, {}) ON COMMIT DROP",
            column_defs.join(", ")
        ))
        .await?;
        let sink = tx
            .copy_in(&format!(
                "COPY incoming (hash, {column_names}) FROM STDIN BINARY"
            ))
            .await?;
        let mut types = vec![Type::BYTEA];
        types.extend(spec.columns.iter().map(|(_, ty)| postgres_type(ty)));
        let writer = BinaryCopyInWriter::new(sink, &types);
        futures::pin_mut!(writer);
        for (hash, values) in &rows {
            let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(values.len() + 1);
            row.push(hash);
            row.extend(values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)));
            writer.as_mut().write(&row).await?;
        }
        writer.finish().await?;

        let previous = match tx
            .query_opt(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM update_operation
                     WHERE id = (SELECT uo_id FROM latest_update_operation WHERE updater = $1)"
                ),
                &[&updater],
            )
            .await?
        {
            Some(row) => Some(operation_from_row(&row)?),
            None => None,
        };
        let incoming = rows.len() as i64;
        let (in_latest, common) = match &previous {
            Some(prev) => {
                let row = tx
                    .query_one(
                        &format!(
                            "SELECT (SELECT count(*) FROM {link} WHERE uo_id = $1),
                                    (SELECT count(*) FROM incoming i
                                       JOIN {table} v ON v.hash = i.hash
                                       JOIN {link} l ON l.{link_column} = v.id AND l.uo_id = $1)"
                        ),
                        &[&prev.id],
                    )
                    .await?;
                (row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?)
            }
            None => (0, 0),
        };
        if let Some(prev) = &previous
            && prev.kind == spec.kind
            && in_latest == common
            && common == incoming
        {
            tx.commit().await?;
            return Ok(CommitOutcome::Unchanged {
                latest: prev.clone(),
            });
        }

        let insert = format!(
            "INSERT INTO {table} (hash, {})
             SELECT hash, {} FROM incoming ORDER BY {}
             ON CONFLICT (hash) DO NOTHING",
            spec.table_columns, spec.select, spec.insert_order
        );
        let insert = match spec.side {
            None => insert,
            Some(SideTable {
                table: side,
                key,
                column,
                select,
            }) => format!(
                "WITH inserted AS ({insert} RETURNING id, hash)
                 INSERT INTO {side} ({key}, {column})
                 SELECT inserted.id, {select} FROM inserted JOIN incoming USING (hash)"
            ),
        };
        tx.execute(&insert, &[]).await?;
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO update_operation (ref, updater, kind, fingerprint, record_count, namespaces)
                     VALUES ($1, $2, $3, $4, $5, {})
                     RETURNING {OPERATION_COLUMNS}",
                    spec.namespaces
                ),
                &[
                    &Uuid::now_v7(),
                    &updater,
                    &spec.kind,
                    &fingerprint,
                    &incoming,
                ],
            )
            .await?;
        let operation = operation_from_row(&row)?;
        tx.execute(
            &format!(
                "INSERT INTO {link} (uo_id, {link_column})
                 SELECT $1, v.id FROM incoming i JOIN {table} v ON v.hash = i.hash"
            ),
            &[&operation.id],
        )
        .await?;
        tx.execute(
            "INSERT INTO latest_update_operation (updater, uo_id) VALUES ($1, $2)
             ON CONFLICT (updater) DO UPDATE SET uo_id = EXCLUDED.uo_id, switched_at = now()",
            &[&updater, &operation.id],
        )
        .await?;
        tx.commit().await?;
        Ok(CommitOutcome::Committed {
            operation,
            previous,
            added: (incoming - common) as u64,
            removed: (in_latest - common) as u64,
        })
    }

    /// The live operation of `updater`.
    pub async fn latest(&self, updater: &str) -> Result<Option<UpdateOperation>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM update_operation
                     WHERE id = (SELECT uo_id FROM latest_update_operation WHERE updater = $1)"
                ),
                &[&updater],
            )
            .await?;
        row.as_ref().map(operation_from_row).transpose()
    }

    /// Every updater's live operation, by updater name.
    pub async fn latest_operations(&self) -> Result<BTreeMap<String, UpdateOperation>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM update_operation
                     WHERE id IN (SELECT uo_id FROM latest_update_operation)"
                ),
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| operation_from_row(row).map(|op| (op.updater.clone(), op)))
            .collect()
    }

    /// The records an operation links, as stored JSON: vulnerability records, or enrichments as
    /// `{updater, cve, data}`. Ordered by content hash, so equal operations export identically.
    pub async fn operation_records(
        &self,
        operation: &UpdateOperation,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let client = self.db.client().await?;
        let sql = if operation.kind == ENRICHMENTS.kind {
            "SELECT jsonb_build_object('updater', e.updater, 'cve', e.cve, 'data', e.data)
             FROM enrichment e JOIN uo_enrichment ue ON ue.enrichment_id = e.id
             WHERE ue.uo_id = $1 ORDER BY e.hash"
        } else {
            "SELECT r.record FROM vulnerability v JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
             JOIN vulnerability_record r ON r.vulnerability_id = v.id
             WHERE uv.uo_id = $1 ORDER BY v.hash"
        };
        let rows = client.query(sql, &[&operation.id]).await?;
        rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
    }

    /// The vulnerability records `operation` links, decoded; only those named in `names` when given. An
    /// incremental source (Red Hat VEX) builds its next full record set from these.
    pub async fn live_vulnerabilities(
        &self,
        operation: &UpdateOperation,
        names: Option<&[String]>,
    ) -> Result<Vec<Vulnerability>, StoreError> {
        let client = self.db.client().await?;
        let rows = match names {
            None => {
                client
                    .query(
                        "SELECT r.record FROM uo_vulnerability uv
                         JOIN vulnerability_record r ON r.vulnerability_id = uv.vulnerability_id
                         WHERE uv.uo_id = $1",
                        &[&operation.id],
                    )
                    .await?
            }
            Some(names) => {
                client
                    .query(
                        "SELECT r.record FROM vulnerability v
                         JOIN uo_vulnerability uv ON uv.vulnerability_id = v.id
                         JOIN vulnerability_record r ON r.vulnerability_id = v.id
                         WHERE uv.uo_id = $1 AND v.name = ANY($2)",
                        &[&operation.id, &names],
                    )
                    .await?
            }
        };
        rows.iter()
            .map(|row| {
                let record: serde_json::Value = row.try_get(0)?;
                serde_json::from_value(record)
                    .map_err(|e| StoreError::Corrupt(format!("stored vulnerability record: {e}")))
            })
            .collect()
    }

    /// Every stored operation, newest first, grouped by updater (Clair's `GET update_operation`).
    pub async fn operations(&self) -> Result<BTreeMap<String, Vec<UpdateOperation>>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM update_operation ORDER BY updater, id DESC"
                ),
                &[],
            )
            .await?;
        let mut grouped: BTreeMap<String, Vec<UpdateOperation>> = BTreeMap::new();
        for row in &rows {
            let op = operation_from_row(row)?;
            grouped.entry(op.updater.clone()).or_default().push(op);
        }
        Ok(grouped)
    }

    /// One operation by its public reference.
    pub async fn operation(&self, reference: Uuid) -> Result<Option<UpdateOperation>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {OPERATION_COLUMNS} FROM update_operation WHERE ref = $1"),
                &[&reference],
            )
            .await?;
        row.as_ref().map(operation_from_row).transpose()
    }

    /// The operation of the same updater committed just before `cur`, if any is still stored.
    pub async fn previous_operation(
        &self,
        cur: &UpdateOperation,
    ) -> Result<Option<UpdateOperation>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {OPERATION_COLUMNS} FROM update_operation
                     WHERE updater = $1 AND id < $2 ORDER BY id DESC LIMIT 1"
                ),
                &[&cur.updater, &cur.id],
            )
            .await?;
        row.as_ref().map(operation_from_row).transpose()
    }

    /// Records in `cur` and not in `prev` (added) and the reverse (removed). With no `prev`, every record of
    /// `cur` is added. Returns `None` when an operation is unknown or the two belong to different updaters.
    pub async fn diff(
        &self,
        prev: Option<Uuid>,
        cur: Uuid,
    ) -> Result<Option<UpdateDiff>, StoreError> {
        let Some(cur) = self.operation(cur).await? else {
            return Ok(None);
        };
        let prev = match prev {
            Some(reference) => match self.operation(reference).await? {
                Some(op) if op.updater == cur.updater => Some(op),
                _ => return Ok(None),
            },
            None => None,
        };
        let client = self.db.client().await?;
        let prev_id = prev.as_ref().map(|p| p.id).unwrap_or(-1);
        let rows = client
            .query(
                "SELECT 'added', r.record FROM vulnerability_record r WHERE r.vulnerability_id IN (
                     SELECT vulnerability_id FROM uo_vulnerability WHERE uo_id = $1
                     EXCEPT SELECT vulnerability_id FROM uo_vulnerability WHERE uo_id = $2)
                 UNION ALL
                 SELECT 'removed', r.record FROM vulnerability_record r WHERE r.vulnerability_id IN (
                     SELECT vulnerability_id FROM uo_vulnerability WHERE uo_id = $2
                     EXCEPT SELECT vulnerability_id FROM uo_vulnerability WHERE uo_id = $1)",
                &[&cur.id, &prev_id],
            )
            .await?;
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for row in &rows {
            let which: &str = row.try_get(0)?;
            let record: serde_json::Value = row.try_get(1)?;
            let record: Vulnerability = serde_json::from_value(record)
                .map_err(|e| StoreError::Corrupt(format!("stored vulnerability record: {e}")))?;
            if which == "added" {
                added.push(record);
            } else {
                removed.push(record);
            }
        }
        added.sort_by(|a, b| (&a.name, &a.package_name).cmp(&(&b.name, &b.package_name)));
        removed.sort_by(|a, b| (&a.name, &a.package_name).cmp(&(&b.name, &b.package_name)));
        Ok(Some(UpdateDiff {
            prev,
            cur,
            added,
            removed,
        }))
    }

    /// Deletes operations by reference (Clair's `DELETE update_operation/{ref}`). Deleting an updater's
    /// live operation makes its newest remaining operation live, or leaves the updater with no data.
    /// Returns how many operations were deleted. Orphaned records go at the next [`FeedStore::gc`].
    pub async fn delete_operations(&self, references: &[Uuid]) -> Result<u64, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let deleted = tx
            .query(
                "DELETE FROM latest_update_operation WHERE uo_id IN
                     (SELECT id FROM update_operation WHERE ref = ANY($1))
                 RETURNING updater",
                &[&references],
            )
            .await?;
        let count = tx
            .execute(
                "DELETE FROM update_operation WHERE ref = ANY($1)",
                &[&references],
            )
            .await?;
        for row in &deleted {
            let updater: String = row.try_get(0)?;
            tx.execute(
                "INSERT INTO latest_update_operation (updater, uo_id)
                 SELECT updater, id FROM update_operation WHERE updater = $1 ORDER BY id DESC LIMIT 1",
                &[&updater],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Keeps the newest `keep` operations of every updater (never fewer than its live one) and deletes
    /// records no remaining operation links, so the database stays the size of the live feeds.
    pub async fn gc(&self, keep: usize) -> Result<GcReport, StoreError> {
        let keep = keep.max(1) as i64;
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let operations_deleted = tx
            .execute(
                "DELETE FROM update_operation WHERE id IN (
                     SELECT id FROM (
                         SELECT id, row_number() OVER (PARTITION BY updater ORDER BY id DESC) AS n
                         FROM update_operation) ranked
                     WHERE n > $1)
                 AND id NOT IN (SELECT uo_id FROM latest_update_operation)",
                &[&keep],
            )
            .await?;
        let vulnerabilities_deleted = tx
            .execute(
                "DELETE FROM vulnerability v
                 WHERE NOT EXISTS (SELECT 1 FROM uo_vulnerability uv WHERE uv.vulnerability_id = v.id)",
                &[],
            )
            .await?;
        let enrichments_deleted = tx
            .execute(
                "DELETE FROM enrichment e
                 WHERE NOT EXISTS (SELECT 1 FROM uo_enrichment ue WHERE ue.enrichment_id = e.id)",
                &[],
            )
            .await?;
        tx.commit().await?;
        Ok(GcReport {
            operations_deleted,
            vulnerabilities_deleted,
            enrichments_deleted,
        })
    }

    /// Records the outcome of one attempt of `source`: `Ok((fingerprint, record_count))` on success (the
    /// fingerprint is sent as the next conditional request), `Err(reason)` on failure (the previous
    /// fingerprint and count stay).
    pub async fn record_attempt(
        &self,
        source: &str,
        outcome: Result<(&str, i64), &str>,
    ) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        match outcome {
            Ok((fingerprint, count)) => {
                client
                    .execute(
                        "INSERT INTO feed_status (updater, last_attempt, last_success, last_error, fingerprint,
                                                  record_count)
                         VALUES ($1, now(), now(), '', $2, $3)
                         ON CONFLICT (updater) DO UPDATE SET last_attempt = now(), last_success = now(),
                             last_error = '', fingerprint = EXCLUDED.fingerprint,
                             record_count = EXCLUDED.record_count",
                        &[&source, &fingerprint, &count],
                    )
                    .await?;
            }
            Err(reason) => {
                client
                    .execute(
                        "INSERT INTO feed_status (updater, last_attempt, last_error) VALUES ($1, now(), $2)
                         ON CONFLICT (updater) DO UPDATE SET last_attempt = now(), last_error = EXCLUDED.last_error",
                        &[&source, &reason],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Records that a run of `source` started now (`last_attempt`; the outcome is recorded by
    /// [`FeedStore::record_attempt`]), so the API can say since when a first update has been running.
    pub async fn record_start(&self, source: &str) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO feed_status (updater, last_attempt) VALUES ($1, now())
                 ON CONFLICT (updater) DO UPDATE SET last_attempt = now()",
                &[&source],
            )
            .await?;
        Ok(())
    }

    /// The fingerprint of `source`'s last successful fetch, empty if none.
    pub async fn last_fingerprint(&self, source: &str) -> Result<String, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT fingerprint FROM feed_status WHERE updater = $1",
                &[&source],
            )
            .await?;
        Ok(match row {
            Some(row) => row.try_get(0)?,
            None => String::new(),
        })
    }

    /// Every source's status, by name.
    pub async fn feed_status(&self) -> Result<Vec<FeedStatus>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT updater, last_attempt, last_success, last_error, fingerprint, record_count
                 FROM feed_status ORDER BY updater",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(FeedStatus {
                    source: row.try_get(0)?,
                    last_attempt: row.try_get(1)?,
                    last_success: row.try_get(2)?,
                    last_error: row.try_get(3)?,
                    fingerprint: row.try_get(4)?,
                    record_count: row.try_get(5)?,
                })
            })
            .collect()
    }

    /// Takes the run lock of `source` without waiting: `None` when another run holds it. The lock lives on
    /// one dedicated connection and ends with [`SourceLock::release`], or with the connection if the
    /// process dies, so a crashed run never blocks the next.
    pub async fn try_lock_source(&self, source: &str) -> Result<Option<SourceLock>, StoreError> {
        let client = self.db.client().await?;
        let key = lock_key("run", source);
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&key],
            )
            .await?;
        let locked: bool = row.try_get(0)?;
        if !locked {
            return Ok(None);
        }
        Ok(Some(SourceLock {
            client: Some(client),
            key,
        }))
    }
}

/// A held run lock (see [`FeedStore::try_lock_source`]).
pub struct SourceLock {
    client: Option<deadpool_postgres::Object>,
    key: String,
}

impl SourceLock {
    /// Releases the lock and returns the connection to the pool.
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some(client) = self.client.take() {
            client
                .execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
                    &[&self.key],
                )
                .await?;
        }
        Ok(())
    }
}

impl Drop for SourceLock {
    fn drop(&mut self) {
        // Not released (an error path): detach the connection from the pool so closing it frees the lock,
        // rather than returning a connection that still holds it.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MatchProbe;
    use crate::feeds::osv;
    use crate::model::Vulnerability;

    /// Versions worth asking a record about: every listed version and range bound, and neighbours of each
    /// that sort just before or after it in most ecosystems.
    fn versions_to_ask(record: &Vulnerability) -> Vec<String> {
        let bounds = record.ranges.iter().flat_map(|r| {
            [&r.introduced, &r.fixed, &r.last_affected]
                .into_iter()
                .flatten()
        });
        let mut asked: Vec<String> = Vec::new();
        for v in record.versions.iter().chain(bounds) {
            for suffix in ["", ".0", ".1", "a1", ".post1", "-1", "~1", "+build"] {
                asked.push(format!("{v}{suffix}"));
            }
        }
        asked.extend(["0", "0.0.1", "1.0", "99999"].map(str::to_owned));
        asked
    }

    #[test]
    fn a_probe_answers_as_its_whole_record() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/feeds/testdata/osv");
        let mut records = osv::parse_directory(&root).unwrap();
        // Listed versions outside the ranges (a backport, a version the range syntax cannot name), and a
        // record whose list is its whole answer.
        let requests = records
            .iter()
            .find(|r| r.name == "PYSEC-2023-74")
            .unwrap()
            .clone();
        records.push(Vulnerability {
            versions: ["2.2.1", "2.31.0", "1.0.dev0", "2.3.0", "2.3.0", "2.0.0"]
                .map(str::to_owned)
                .into(),
            ..requests.clone()
        });
        records.push(Vulnerability {
            ranges: Vec::new(),
            ..requests
        });
        let (mut listed, mut kept) = (0, 0);
        for record in &records {
            let Some(ecosystem) = record.ecosystem else {
                continue;
            };
            let probe = MatchProbe::of(record);
            listed += record.versions.len();
            kept += probe.versions.len();
            assert!(probe.versions.is_sorted(), "{}", record.name);
            let probed = Vulnerability {
                versions: probe.versions.iter().map(|v| (*v).to_owned()).collect(),
                aliases: probe.aliases.iter().map(|a| (*a).to_owned()).collect(),
                ..record.clone()
            };
            for version in versions_to_ask(record) {
                assert_eq!(
                    osv::affects(ecosystem, &probed, &version),
                    osv::affects(ecosystem, record, &version),
                    "{} at {version}",
                    record.name
                );
            }
            let names = || std::iter::once(record.name.as_str());
            assert_eq!(
                crate::matcher::cve_ids(names().chain(probe.aliases.iter().copied())),
                crate::matcher::cve_ids(names().chain(record.aliases.iter().map(String::as_str))),
                "{}",
                record.name
            );
        }
        // Not vacuous: the feed's records list only versions their ranges cover; the made-up ones keep
        // 4 (2.2.1, 2.31.0, 1.0.dev0, 2.0.0) and 66.
        assert_eq!(kept, 4 + 66, "of {listed} listed versions");
    }
}
