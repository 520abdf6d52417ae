//! Fan-out: a committed diff → the packages its records affect → chunked notification writes.
//!
//! Planning reads only the diff's records, the candidate packages named by them and the (small)
//! distribution table, so its cost follows the diff, never the number of manifests. The manifests are
//! reached only by the chunks, each one `INSERT … SELECT` over a manifest-id range of the reverse index
//! (`manifest_package (package_id, manifest_id)`), so an invocation's work is bounded by
//! `chunk_manifests` however large the diff's reach.

use std::collections::{BTreeMap, HashMap};

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::{Handled, Notifier, NotifierError, NotifierMessage};
use crate::feeds::store::FeedStore;
use crate::matcher::plan::{self, Namespace, Subject};
use crate::model::{Ecosystem, ReportDistribution, ReportPackage, Vulnerability};

/// Why a notification exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Added,
    Removed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Added => "added",
            Reason::Removed => "removed",
        }
    }
}

/// Clair's VulnSummary of a record: what a notification says about its vulnerability.
pub fn summary(record: &Vulnerability) -> serde_json::Value {
    let distribution = record.distribution.as_ref().map(|d| {
        let numeric = d.release.starts_with(|c: char| c.is_ascii_digit());
        serde_json::json!({
            "id": "",
            "did": d.did,
            "name": d.did,
            "version": d.release,
            "version_code_name": if numeric { "" } else { d.release.as_str() },
            "version_id": if numeric { d.release.as_str() } else { "" },
            "arch": "",
            "cpe": "",
            "pretty_name": "",
        })
    });
    let severity = if record.severity.is_empty() {
        record.normalized_severity.as_str()
    } else {
        record.severity.as_str()
    };
    serde_json::json!({
        "name": record.name,
        "description": record.description,
        "package": {
            "id": "",
            "name": record.package_name,
            "version": "",
            "kind": if record.package_is_source { "source" } else { "binary" },
            "module": record.module,
            "arch": record.arch,
        },
        "distribution": distribution,
        "repo": null,
        "severity": severity,
        "normalized_severity": record.normalized_severity.as_str(),
        "fixed_in_version": record.fixed_in_version,
        "links": record.links.join(" "),
    })
}

/// The content identity of a record (part of its notifications' dedup keys).
fn record_key(record: &Vulnerability) -> String {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The `translate(lower(name), '_.', '--')` form the `package_folded_name_idx` index is built on.
fn folded(name: &str) -> String {
    name.to_lowercase().replace(['_', '.'], "-")
}

/// One affected (record, package, distribution) triple; `None` distribution = any (language packages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub record: usize,
    pub package_id: i64,
    pub distribution_id: Option<i64>,
}

/// The packages each record affects, decided with the matcher's predicate. `records[i]` is target
/// `record == i`.
pub async fn affected_packages(
    client: &impl tokio_postgres::GenericClient,
    records: &[&Vulnerability],
) -> Result<Vec<Target>, NotifierError> {
    let mut by_ecosystem: BTreeMap<Ecosystem, Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(e) = r.ecosystem {
            by_ecosystem.entry(e).or_default().push(i);
        }
    }
    if by_ecosystem.is_empty() {
        return Ok(Vec::new());
    }
    // Distributions are few (one row per distinct os-release); place each once.
    let mut namespaces: HashMap<Namespace, Vec<i64>> = HashMap::new();
    if by_ecosystem.keys().any(|e| e.is_os()) {
        let rows = client
            .query(
                "SELECT id, did, name, version, version_code_name, version_id, arch, cpe, pretty_name
                 FROM distribution",
                &[],
            )
            .await?;
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let d = ReportDistribution {
                id: id.to_string(),
                did: row.try_get(1)?,
                name: row.try_get(2)?,
                version: row.try_get(3)?,
                version_code_name: row.try_get(4)?,
                version_id: row.try_get(5)?,
                arch: row.try_get(6)?,
                cpe: row.try_get(7)?,
                pretty_name: row.try_get(8)?,
            };
            for ecosystem in by_ecosystem.keys().filter(|e| e.is_os()) {
                if let Some(ns) = plan::os_namespace(*ecosystem, &d) {
                    namespaces.entry(ns).or_default().push(id);
                }
            }
        }
    }
    let statement = client
        .prepare(
            "SELECT id, name, version, kind, source_name, source_version, module, arch FROM package
             WHERE ecosystem = $1
               AND (translate(lower(name), '_.', '--') = ANY($2) OR source_name = ANY($3))",
        )
        .await?;
    let mut targets = Vec::new();
    for (ecosystem, indexes) in &by_ecosystem {
        let mut names: Vec<String> = indexes
            .iter()
            .map(|&i| folded(&records[i].package_name))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut sources: Vec<String> = indexes
            .iter()
            .map(|&i| records[i].package_name.clone())
            .collect();
        sources.sort_unstable();
        sources.dedup();
        let rows = client
            .query(&statement, &[&ecosystem.as_str(), &names, &sources])
            .await?;
        let mut subjects: Vec<(i64, Subject)> = Vec::with_capacity(rows.len());
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let source_name: String = row.try_get(4)?;
            let package = ReportPackage {
                id: id.to_string(),
                name: row.try_get(1)?,
                version: row.try_get(2)?,
                kind: row.try_get(3)?,
                source: (!source_name.is_empty()).then(|| {
                    Box::new(ReportPackage {
                        name: source_name,
                        version: row.try_get(5).unwrap_or_default(),
                        kind: "source".to_owned(),
                        ..ReportPackage::default()
                    })
                }),
                module: row.try_get(6)?,
                arch: row.try_get(7)?,
                ecosystem: ecosystem.as_str().to_owned(),
                ..ReportPackage::default()
            };
            let subject = plan::subject(*ecosystem, &package.id, &package);
            let at = subjects.len();
            by_name.entry(subject.name.clone()).or_default().push(at);
            if subject.source_name != subject.name {
                by_name
                    .entry(subject.source_name.clone())
                    .or_default()
                    .push(at);
            }
            subjects.push((id, subject));
        }
        for &i in indexes {
            let record = records[i];
            let distributions: Option<&Vec<i64>> = if ecosystem.is_os() {
                let Some(selector) = &record.distribution else {
                    continue;
                };
                let ns = Namespace {
                    ecosystem: *ecosystem,
                    did: selector.did.clone(),
                    release: selector.release.clone(),
                };
                match namespaces.get(&ns) {
                    Some(ids) => Some(ids),
                    None => continue,
                }
            } else {
                None
            };
            for &at in by_name.get(&record.package_name).into_iter().flatten() {
                let Some((package_id, subject)) = subjects.get(at) else {
                    continue;
                };
                if !crate::matcher::affects(*ecosystem, record, subject) {
                    continue;
                }
                match distributions {
                    Some(ids) => targets.extend(ids.iter().map(|d| Target {
                        record: i,
                        package_id: *package_id,
                        distribution_id: Some(*d),
                    })),
                    None => targets.push(Target {
                        record: i,
                        package_id: *package_id,
                        distribution_id: None,
                    }),
                }
            }
        }
    }
    targets.sort_unstable();
    targets.dedup();
    Ok(targets)
}

/// Chunk boundaries over the affected manifests of a planned set: every `per_chunk`-th manifest id starts
/// a chunk; the last bound is one past the largest.
const BOUNDS: &str = "
    SELECT manifest_id, n, total FROM (
        SELECT manifest_id, row_number() OVER (ORDER BY manifest_id) AS n, count(*) OVER () AS total
        FROM (SELECT DISTINCT mp.manifest_id
              FROM notification_target t
              JOIN manifest_package mp ON mp.package_id = t.package_id
                   AND (t.distribution_id IS NULL OR mp.distribution_id = t.distribution_id)
              JOIN manifest m ON m.id = mp.manifest_id AND m.state = 'IndexFinished'
              WHERE t.set_id = $1) affected) numbered
    WHERE (n - 1) % $2 = 0 OR n = total
    ORDER BY manifest_id";

/// One chunk's notifications: one per (manifest, record) in the manifest-id range, deduplicated.
const CHUNK: &str = "
    INSERT INTO notification (id, set_id, manifest, reason, severity, record, dedup_key)
    SELECT gen_random_uuid(), $1, m.digest, v.reason, v.severity, v.record,
           sha256(convert_to(m.digest || ' ' || v.reason || ' ' || v.record_key, 'UTF8'))
    FROM (SELECT DISTINCT mp.manifest_id, t.record
          FROM notification_target t
          JOIN manifest_package mp ON mp.package_id = t.package_id
               AND mp.manifest_id >= $2 AND mp.manifest_id < $3
               AND (t.distribution_id IS NULL OR mp.distribution_id = t.distribution_id)
          WHERE t.set_id = $1) a
    JOIN manifest m ON m.id = a.manifest_id AND m.state = 'IndexFinished'
    JOIN notification_vuln v ON v.set_id = $1 AND v.record = a.record
    ON CONFLICT (set_id, dedup_key) DO NOTHING";

/// Plans a diff (see the module docs); idempotent per update operation.
pub async fn plan_diff(
    n: &Notifier,
    updater: &str,
    prev: Option<Uuid>,
    cur: Uuid,
) -> Result<Handled, NotifierError> {
    let span = tracing::info_span!("notify diff", updater, %cur);
    let _enter = span.enter();
    let Some(prev) = prev else {
        tracing::info!("first load of the feed: not notified (first-load policy)");
        return Ok(Handled::FirstLoad);
    };
    if let Some(handled) = resume(n, cur).await? {
        return Ok(handled);
    }
    let Some(diff) = FeedStore::new(n.db.clone()).diff(Some(prev), cur).await? else {
        tracing::warn!(%prev, "diff operations unknown (garbage-collected?): not notified");
        return Ok(Handled::UnknownDiff);
    };
    let records: Vec<(Reason, &Vulnerability)> = diff
        .added
        .iter()
        .map(|r| (Reason::Added, r))
        .chain(diff.removed.iter().map(|r| (Reason::Removed, r)))
        .collect();
    let plain: Vec<&Vulnerability> = records.iter().map(|(_, r)| *r).collect();

    let mut client = n.db.client().await?;
    let targets = affected_packages(&**client, &plain).await?;
    let tx = client.transaction().await?;
    let set = Uuid::new_v4();
    let inserted = tx
        .execute(
            "INSERT INTO notification_set (id, uo_ref, prev_ref, updater) VALUES ($1, $2, $3, $4)
             ON CONFLICT (uo_ref) DO NOTHING",
            &[&set, &cur, &prev, &updater],
        )
        .await?;
    if inserted == 0 {
        // Planned concurrently by a duplicate delivery: resume its plan instead.
        drop(tx);
        drop(client);
        return Ok(resume(n, cur)
            .await?
            .unwrap_or(Handled::Planned { set, chunks: 0 }));
    }
    // Only records that affect something are kept.
    let mut used: Vec<usize> = targets.iter().map(|t| t.record).collect();
    used.dedup();
    let numbers: Vec<i32> = used.iter().map(|&i| i as i32).collect();
    let reasons: Vec<&str> = used.iter().map(|&i| records[i].0.as_str()).collect();
    let severities: Vec<&str> = used
        .iter()
        .map(|&i| records[i].1.normalized_severity.as_str())
        .collect();
    let keys: Vec<String> = used.iter().map(|&i| record_key(records[i].1)).collect();
    let bodies: Vec<serde_json::Value> = used.iter().map(|&i| summary(records[i].1)).collect();
    tx.execute(
        "INSERT INTO notification_vuln (set_id, record, reason, severity, record_key, body)
         SELECT $1, * FROM UNNEST($2::int[], $3::text[], $4::text[], $5::text[], $6::jsonb[])",
        &[&set, &numbers, &reasons, &severities, &keys, &bodies],
    )
    .await?;
    let target_records: Vec<i32> = targets.iter().map(|t| t.record as i32).collect();
    let packages: Vec<i64> = targets.iter().map(|t| t.package_id).collect();
    let distributions: Vec<Option<i64>> = targets.iter().map(|t| t.distribution_id).collect();
    tx.execute(
        "INSERT INTO notification_target (set_id, record, package_id, distribution_id)
         SELECT $1, * FROM UNNEST($2::int[], $3::bigint[], $4::bigint[])",
        &[&set, &target_records, &packages, &distributions],
    )
    .await?;
    let per_chunk = n.config.chunk_manifests.max(1) as i64;
    let rows = tx.query(BOUNDS, &[&set, &per_chunk]).await?;
    let mut bounds: Vec<i64> = Vec::with_capacity(rows.len() + 1);
    for row in &rows {
        let id: i64 = row.try_get(0)?;
        let number: i64 = row.try_get(1)?;
        let total: i64 = row.try_get(2)?;
        if (number - 1) % per_chunk == 0 {
            bounds.push(id);
        }
        if number == total {
            bounds.push(id + 1);
        }
    }
    let chunks = bounds.len().saturating_sub(1);
    tx.execute(
        "UPDATE notification_set SET chunk_bounds = $2,
                completed_at = CASE WHEN $3 THEN now() END
         WHERE id = $1",
        &[&set, &bounds, &(chunks == 0)],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        %set,
        added = diff.added.len(),
        removed = diff.removed.len(),
        affecting = used.len(),
        packages = targets.len(),
        chunks,
        "diff planned"
    );
    n.send(&chunk_messages(set, &bounds, &[])).await?;
    Ok(Handled::Planned { set, chunks })
}

fn chunk_messages(set: Uuid, bounds: &[i64], done: &[i32]) -> Vec<NotifierMessage> {
    bounds
        .windows(2)
        .enumerate()
        .filter(|(i, _)| !done.contains(&(*i as i32)))
        .map(|(i, w)| NotifierMessage::NotifyChunk {
            set,
            chunk: i as i32,
            from: w[0],
            to: w[1],
        })
        .collect()
}

/// A set already planned for `cur`: re-sends the chunks not done yet (a crash between commit and send),
/// and when complete, the deliveries still pending. `None` when no set exists.
async fn resume(n: &Notifier, cur: Uuid) -> Result<Option<Handled>, NotifierError> {
    let client = n.db.client().await?;
    let Some(row) = client
        .query_opt(
            "SELECT s.id, s.chunk_bounds, s.completed_at IS NOT NULL,
                    ARRAY(SELECT chunk FROM notification_chunk c WHERE c.set_id = s.id)
             FROM notification_set s WHERE s.uo_ref = $1",
            &[&cur],
        )
        .await?
    else {
        return Ok(None);
    };
    let set: Uuid = row.try_get(0)?;
    let bounds: Vec<i64> = row.try_get::<_, Option<Vec<i64>>>(1)?.unwrap_or_default();
    let completed: bool = row.try_get(2)?;
    let done: Vec<i32> = row.try_get(3)?;
    drop(client);
    let chunks = bounds.len().saturating_sub(1);
    if completed {
        super::delivery::queue_pending(n, set).await?;
    } else {
        n.send(&chunk_messages(set, &bounds, &done)).await?;
    }
    tracing::info!(%set, chunks, "diff already planned");
    Ok(Some(Handled::Planned { set, chunks }))
}

/// Writes one chunk (idempotent: a chunk done is skipped); the chunk completing the set creates the
/// receipts and queues the deliveries.
pub async fn run_chunk(
    n: &Notifier,
    set: Uuid,
    chunk: i32,
    from: i64,
    to: i64,
) -> Result<Handled, NotifierError> {
    let span = tracing::info_span!("notify chunk", %set, chunk);
    let _enter = span.enter();
    let mut client = n.db.client().await?;
    let tx = client.transaction().await?;
    // Blocks on a concurrent run of the same chunk until it ends; then it conflicts and is skipped.
    let fresh = tx
        .execute(
            "INSERT INTO notification_chunk (set_id, chunk)
             SELECT id, $2 FROM notification_set WHERE id = $1
             ON CONFLICT DO NOTHING",
            &[&set, &chunk],
        )
        .await?;
    if fresh == 0 {
        drop(tx);
        drop(client);
        super::delivery::queue_pending(n, set).await?;
        return Ok(Handled::Chunk {
            notifications: 0,
            already_done: true,
        });
    }
    let notifications = tx.execute(CHUNK, &[&set, &from, &to]).await?;
    // The completing chunk: exactly one, since the row lock serializes concurrent completers and the
    // second re-reads `completed_at`.
    let completed = tx
        .query_opt(
            "UPDATE notification_set s SET completed_at = now()
             WHERE s.id = $1 AND s.completed_at IS NULL
               AND (SELECT count(*) FROM notification_chunk c WHERE c.set_id = s.id)
                   = COALESCE(array_length(s.chunk_bounds, 1) - 1, 0)
             RETURNING s.id",
            &[&set],
        )
        .await?
        .is_some();
    if completed {
        super::delivery::create_receipts(&tx, set).await?;
    }
    tx.commit().await?;
    drop(client);
    tracing::info!(notifications, completed, "chunk written");
    if completed {
        super::delivery::queue_pending(n, set).await?;
    }
    Ok(Handled::Chunk {
        notifications,
        already_done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_bounds_minus_the_done_ones() {
        let set = Uuid::nil();
        let messages = chunk_messages(set, &[1, 50, 90, 91], &[1]);
        assert_eq!(
            messages,
            vec![
                NotifierMessage::NotifyChunk {
                    set,
                    chunk: 0,
                    from: 1,
                    to: 50
                },
                NotifierMessage::NotifyChunk {
                    set,
                    chunk: 2,
                    from: 90,
                    to: 91
                },
            ]
        );
        assert!(chunk_messages(set, &[], &[]).is_empty());
    }

    #[test]
    fn folding_is_a_superset_of_every_normalization() {
        for (ecosystem, name) in [
            (Ecosystem::PyPI, "Zope.Interface"),
            (Ecosystem::PyPI, "typing_extensions"),
            (Ecosystem::Npm, "@Babel/Core"),
            (Ecosystem::Dpkg, "libssl3"),
        ] {
            let normalized = crate::ecosystems::normalize_package_name(Some(ecosystem), name);
            assert_eq!(folded(name), folded(&normalized), "{name}");
        }
    }
}
