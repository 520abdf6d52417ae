//! The indexer's tables: manifests, their layers, per-layer scan results and the coalesced index reports.
//!
//! Layer results are keyed by (layer digest, scanner set): a base layer shared by many images is scanned
//! once, and a new scanner set (a new `index_state`) re-scans without disturbing the old rows.
//! Writes are batched with `UNNEST` arrays: one round trip per table, never one per package.

use tokio_postgres::Transaction;

use super::{Database, StoreError};
use crate::model::{
    Digest, Distribution, Ecosystem, IndexReport, IndexState, LayerContents, Manifest, Package,
    PackageKind, Repository, SourcePackage,
};

/// A layer's scan status under one scanner set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerStatus {
    /// Not scanned yet (no row).
    Missing,
    Scanning,
    Done,
    Failed(String),
}

/// What registering a manifest found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRegistration {
    pub state: IndexState,
    /// Layers (in stacking order, deduplicated) with no finished scan under this scanner set.
    pub layers_to_scan: Vec<Digest>,
}

/// Store operations for indexing.
#[derive(Clone)]
pub struct IndexStore {
    db: Database,
}

fn parse_digest(s: &str) -> Result<Digest, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("stored digest {s:?}: {e}")))
}

impl IndexStore {
    pub fn new(db: Database) -> IndexStore {
        IndexStore { db }
    }

    /// Records a manifest and its layer order (idempotent). A manifest already finished under this scanner
    /// set keeps its report; otherwise it waits for the layers listed in the result.
    pub async fn register_manifest(
        &self,
        manifest: &Manifest,
        scanner_set: &str,
    ) -> Result<ManifestRegistration, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let digests: Vec<String> = manifest.layers.iter().map(|l| l.hash.to_string()).collect();
        let positions: Vec<i32> = (0..digests.len() as i32).collect();
        let row = tx
            .query_one(
                "INSERT INTO manifest (digest, state) VALUES ($1, $2)
                 ON CONFLICT (digest) DO UPDATE SET updated_at = now()
                 RETURNING id, state, index_state",
                &[
                    &manifest.hash.to_string(),
                    &IndexState::FetchLayers.as_str(),
                ],
            )
            .await?;
        let manifest_id: i64 = row.get(0);
        let state: String = row.get(1);
        let index_state: String = row.get(2);
        if state == IndexState::IndexFinished.as_str() && index_state == scanner_set {
            tx.commit().await?;
            return Ok(ManifestRegistration {
                state: IndexState::IndexFinished,
                layers_to_scan: Vec::new(),
            });
        }
        tx.execute(
            "INSERT INTO layer (digest) SELECT unnest($1::text[]) ON CONFLICT (digest) DO NOTHING",
            &[&digests],
        )
        .await?;
        tx.execute(
            "DELETE FROM manifest_layer WHERE manifest_id = $1",
            &[&manifest_id],
        )
        .await?;
        tx.execute(
            "INSERT INTO manifest_layer (manifest_id, position, layer_id)
             SELECT $1, p, l.id FROM unnest($2::text[], $3::int[]) AS u(d, p) JOIN layer l ON l.digest = u.d",
            &[&manifest_id, &digests, &positions],
        )
        .await?;
        let rows = tx
            .query(
                "SELECT l.digest FROM manifest_layer ml JOIN layer l ON l.id = ml.layer_id
                 LEFT JOIN layer_scan s ON s.layer_id = l.id AND s.scanner_set = $2
                 WHERE ml.manifest_id = $1 AND (s.status IS NULL OR s.status <> 'done')
                 ORDER BY ml.position",
                &[&manifest_id, &scanner_set],
            )
            .await?;
        let mut layers_to_scan: Vec<Digest> = Vec::new();
        for r in rows {
            let d = parse_digest(r.get(0))?;
            if !layers_to_scan.contains(&d) {
                layers_to_scan.push(d);
            }
        }
        let state = if layers_to_scan.is_empty() {
            IndexState::ScanLayers
        } else {
            IndexState::FetchLayers
        };
        tx.execute(
            "UPDATE manifest SET state = $2, error = '', updated_at = now() WHERE id = $1",
            &[&manifest_id, &state.as_str()],
        )
        .await?;
        tx.commit().await?;
        Ok(ManifestRegistration {
            state,
            layers_to_scan,
        })
    }

    /// The scan status of a layer under a scanner set.
    pub async fn layer_status(
        &self,
        layer: &Digest,
        scanner_set: &str,
    ) -> Result<LayerStatus, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT s.status, s.error FROM layer_scan s JOIN layer l ON l.id = s.layer_id
                 WHERE l.digest = $1 AND s.scanner_set = $2",
                &[&layer.to_string(), &scanner_set],
            )
            .await?;
        Ok(match row {
            None => LayerStatus::Missing,
            Some(r) => match r.get::<_, &str>(0) {
                "scanning" => LayerStatus::Scanning,
                "done" => LayerStatus::Done,
                _ => LayerStatus::Failed(r.get(1)),
            },
        })
    }

    /// Claims the fetch of a layer before its fetch job is queued, so concurrent or repeated POSTs of a
    /// manifest queue one job per layer: true when this caller must queue it (no scan row, a failed one, or a
    /// claim or scan started more than `stale_after` ago: its job was lost); false when a job is already
    /// under way or the layer is done. The claim is a `scanning` row; the scan itself claims it again.
    pub async fn claim_layer_fetch(
        &self,
        layer: &Digest,
        scanner_set: &str,
        stale_after: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO layer (digest) VALUES ($1) ON CONFLICT (digest) DO NOTHING",
                &[&layer.to_string()],
            )
            .await?;
        let stale_seconds = stale_after.as_secs_f64();
        let n = client
            .execute(
                "INSERT INTO layer_scan (layer_id, scanner_set, status)
                 SELECT id, $2, 'scanning' FROM layer WHERE digest = $1
                 ON CONFLICT (layer_id, scanner_set) DO UPDATE
                   SET status = 'scanning', error = '', started_at = now(), finished_at = NULL
                   WHERE layer_scan.status = 'failed'
                      OR (layer_scan.status = 'scanning'
                          AND layer_scan.started_at <= now() - make_interval(secs => $3))",
                &[&layer.to_string(), &scanner_set, &stale_seconds],
            )
            .await?;
        Ok(n == 1)
    }

    /// Claims a layer for scanning. Returns false when it is already done (a duplicate event): the caller
    /// then has nothing to scan. A failed or interrupted scan (or a fetch claim) may be claimed again.
    pub async fn begin_layer_scan(
        &self,
        layer: &Digest,
        scanner_set: &str,
    ) -> Result<bool, StoreError> {
        self.claim_layer_fetch(layer, scanner_set, std::time::Duration::ZERO)
            .await
    }

    /// Stores a layer's contents and marks it done, in one transaction (never half-written).
    pub async fn finish_layer_scan(
        &self,
        layer: &Digest,
        scanner_set: &str,
        contents: &LayerContents,
        blob_bytes: u64,
        tar_bytes: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let layer_id: i64 = tx
            .query_one(
                "SELECT id FROM layer WHERE digest = $1",
                &[&layer.to_string()],
            )
            .await?
            .get(0);
        for table in [
            "layer_package",
            "layer_distribution",
            "layer_repository",
            "layer_whiteout",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE layer_id = $1 AND scanner_set = $2"),
                &[&layer_id, &scanner_set],
            )
            .await?;
        }
        insert_packages(&tx, layer_id, scanner_set, &contents.packages).await?;
        insert_distributions(&tx, layer_id, scanner_set, &contents.distributions).await?;
        insert_repositories(&tx, layer_id, scanner_set, &contents.repositories).await?;
        tx.execute(
            "INSERT INTO layer_whiteout (layer_id, scanner_set, path)
             SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING",
            &[&layer_id, &scanner_set, &contents.whiteouts],
        )
        .await?;
        tx.execute(
            "INSERT INTO layer_scan (layer_id, scanner_set, status, blob_bytes, tar_bytes, finished_at)
             VALUES ($1, $2, 'done', $3, $4, now())
             ON CONFLICT (layer_id, scanner_set) DO UPDATE SET status = 'done', error = '',
               blob_bytes = $3, tar_bytes = $4, finished_at = now()",
            &[&layer_id, &scanner_set, &(blob_bytes as i64), &(tar_bytes as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a layer failed with a reason (other layers and manifests are unaffected).
    pub async fn fail_layer_scan(
        &self,
        layer: &Digest,
        scanner_set: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let client = self.db.client().await?;
        client
            .execute(
                "INSERT INTO layer (digest) VALUES ($1) ON CONFLICT (digest) DO NOTHING",
                &[&layer.to_string()],
            )
            .await?;
        client
            .execute(
                "INSERT INTO layer_scan (layer_id, scanner_set, status, error, finished_at)
                 SELECT id, $2, 'failed', $3, now() FROM layer WHERE digest = $1
                 ON CONFLICT (layer_id, scanner_set) DO UPDATE
                   SET status = 'failed', error = $3, finished_at = now()",
                &[&layer.to_string(), &scanner_set, &reason],
            )
            .await?;
        Ok(())
    }

    /// Manifests that contain `layer` and are not finished under this scanner set.
    pub async fn manifests_waiting_on(
        &self,
        layer: &Digest,
        scanner_set: &str,
    ) -> Result<Vec<Digest>, StoreError> {
        let client = self.db.client().await?;
        let rows = client
            .query(
                "SELECT DISTINCT m.digest FROM manifest m
                 JOIN manifest_layer ml ON ml.manifest_id = m.id
                 JOIN layer l ON l.id = ml.layer_id
                 WHERE l.digest = $1 AND NOT (m.state = 'IndexFinished' AND m.index_state = $2)",
                &[&layer.to_string(), &scanner_set],
            )
            .await?;
        rows.iter().map(|r| parse_digest(r.get(0))).collect()
    }

    /// When every layer of `manifest` is scanned, coalesces them with `coalesce` and stores the report
    /// (state IndexFinished), or records IndexError naming the failed layer. Returns the new state, or
    /// `None` while layers are still missing. Concurrent callers are serialized per manifest.
    pub async fn try_complete_manifest(
        &self,
        manifest: &Digest,
        scanner_set: &str,
        coalesce: impl FnOnce(&Digest, &[(Digest, LayerContents)]) -> IndexReport,
    ) -> Result<Option<IndexState>, StoreError> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT id, state, index_state FROM manifest WHERE digest = $1 FOR UPDATE",
                &[&manifest.to_string()],
            )
            .await?
        else {
            return Ok(None);
        };
        let manifest_id: i64 = row.get(0);
        if row.get::<_, &str>(1) == IndexState::IndexFinished.as_str()
            && row.get::<_, &str>(2) == scanner_set
        {
            return Ok(Some(IndexState::IndexFinished));
        }
        let layers = tx
            .query(
                "SELECT l.id, l.digest, s.status, s.error FROM manifest_layer ml
                 JOIN layer l ON l.id = ml.layer_id
                 LEFT JOIN layer_scan s ON s.layer_id = l.id AND s.scanner_set = $2
                 WHERE ml.manifest_id = $1 ORDER BY ml.position",
                &[&manifest_id, &scanner_set],
            )
            .await?;
        let mut ordered = Vec::with_capacity(layers.len());
        for r in &layers {
            let digest = parse_digest(r.get(1))?;
            match r.get::<_, Option<&str>>(2) {
                Some("done") => ordered.push((r.get::<_, i64>(0), digest)),
                Some("failed") => {
                    let reason = format!("layer {digest}: {}", r.get::<_, String>(3));
                    let report = {
                        let mut rep = IndexReport::new(manifest.clone(), IndexState::IndexError);
                        rep.err = reason.clone();
                        rep
                    };
                    save_report(
                        &tx,
                        manifest_id,
                        IndexState::IndexError,
                        &reason,
                        scanner_set,
                        &report,
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Some(IndexState::IndexError));
                }
                _ => {
                    // Still waiting for this layer.
                    tx.execute(
                        "UPDATE manifest SET state = $2, updated_at = now() WHERE id = $1 AND state <> $2",
                        &[&manifest_id, &IndexState::FetchLayers.as_str()],
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(None);
                }
            }
        }
        let mut contents = Vec::with_capacity(ordered.len());
        for (layer_id, digest) in ordered {
            let c = load_layer_contents(&tx, layer_id, scanner_set).await?;
            contents.push((digest, c));
        }
        let report = coalesce(manifest, &contents);
        save_report(
            &tx,
            manifest_id,
            IndexState::IndexFinished,
            "",
            scanner_set,
            &report,
        )
        .await?;
        tx.execute(
            "DELETE FROM manifest_package WHERE manifest_id = $1",
            &[&manifest_id],
        )
        .await?;
        tx.execute(REVERSE_INDEX, &[&manifest_id]).await?;
        tx.commit().await?;
        Ok(Some(IndexState::IndexFinished))
    }

    /// The stored report of a manifest, if any.
    pub async fn index_report(&self, manifest: &Digest) -> Result<Option<IndexReport>, StoreError> {
        let client = self.db.client().await?;
        let row = client
            .query_opt(
                "SELECT m.state, m.error, r.report FROM manifest m
                 LEFT JOIN index_report r ON r.manifest_id = m.id WHERE m.digest = $1",
                &[&manifest.to_string()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let state: String = row.get(0);
        match row.get::<_, Option<serde_json::Value>>(2) {
            Some(v) if state == IndexState::IndexFinished.as_str() => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("index report of {manifest}: {e}"))),
            _ => {
                let st = IndexState::parse(&state).unwrap_or(IndexState::FetchLayers);
                let mut rep = IndexReport::new(manifest.clone(), st);
                rep.err = row.get(1);
                Ok(Some(rep))
            }
        }
    }

    /// Deletes manifests (and layers no other manifest uses). Returns the digests that existed.
    pub async fn delete_manifests(&self, manifests: &[Digest]) -> Result<Vec<Digest>, StoreError> {
        let digests: Vec<String> = manifests.iter().map(ToString::to_string).collect();
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "DELETE FROM manifest WHERE digest = ANY($1) RETURNING digest",
                &[&digests],
            )
            .await?;
        tx.execute(
            "DELETE FROM layer l WHERE NOT EXISTS (SELECT 1 FROM manifest_layer ml WHERE ml.layer_id = l.id)",
            &[],
        )
        .await?;
        tx.commit().await?;
        rows.iter().map(|r| parse_digest(r.get(0))).collect()
    }
}

/// The notifier's reverse index (`manifest_package`) of one finished manifest, from its stored report:
/// each package of the report (by its unique key) on each distribution of its environments. Migration V3
/// ran the same statement over every report stored before.
const REVERSE_INDEX: &str = "
    INSERT INTO manifest_package (manifest_id, package_id, distribution_id)
    SELECT DISTINCT r.manifest_id, p.id, d.id
    FROM index_report r
    CROSS JOIN LATERAL jsonb_each(COALESCE(r.report -> 'packages', '{}'::jsonb)) AS pk(key, pkg)
    LEFT JOIN LATERAL jsonb_array_elements(COALESCE(r.report -> 'environments' -> pk.key, '[]'::jsonb))
        AS env(e) ON true
    JOIN package p
        ON p.ecosystem = COALESCE(pk.pkg ->> 'ecosystem', '')
       AND p.name = pk.pkg ->> 'name' AND p.version = pk.pkg ->> 'version'
       AND p.kind = COALESCE(pk.pkg ->> 'kind', 'binary')
       AND p.source_name = COALESCE(pk.pkg -> 'source' ->> 'name', '')
       AND p.source_version = COALESCE(pk.pkg -> 'source' ->> 'version', '')
       AND p.module = COALESCE(pk.pkg ->> 'module', '') AND p.arch = COALESCE(pk.pkg ->> 'arch', '')
       AND p.cpe = COALESCE(pk.pkg ->> 'cpe', '')
    LEFT JOIN LATERAL (SELECT r.report -> 'distributions' -> (env.e ->> 'distribution_id') AS dj) dist
        ON true
    LEFT JOIN distribution d
        ON d.did = dist.dj ->> 'did' AND d.name = dist.dj ->> 'name'
       AND d.version = dist.dj ->> 'version' AND d.version_code_name = dist.dj ->> 'version_code_name'
       AND d.version_id = dist.dj ->> 'version_id' AND d.arch = dist.dj ->> 'arch'
       AND d.cpe = dist.dj ->> 'cpe' AND d.pretty_name = dist.dj ->> 'pretty_name'
    WHERE r.manifest_id = $1
    ON CONFLICT DO NOTHING";

async fn save_report(
    tx: &Transaction<'_>,
    manifest_id: i64,
    state: IndexState,
    error: &str,
    scanner_set: &str,
    report: &IndexReport,
) -> Result<(), StoreError> {
    let json = serde_json::to_value(report)
        .map_err(|e| StoreError::Corrupt(format!("serializing an index report: {e}")))?;
    tx.execute(
        "INSERT INTO index_report (manifest_id, index_state, report) VALUES ($1, $2, $3)
         ON CONFLICT (manifest_id) DO UPDATE SET index_state = $2, report = $3, updated_at = now()",
        &[&manifest_id, &scanner_set, &json],
    )
    .await?;
    tx.execute(
        "UPDATE manifest SET state = $2, error = $3, index_state = $4, updated_at = now() WHERE id = $1",
        &[&manifest_id, &state.as_str(), &error, &scanner_set],
    )
    .await?;
    Ok(())
}

async fn insert_packages(
    tx: &Transaction<'_>,
    layer_id: i64,
    scanner_set: &str,
    packages: &[Package],
) -> Result<(), StoreError> {
    if packages.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Package) -> String| packages.iter().map(f).collect::<Vec<String>>();
    let ecosystems = col(|p| {
        p.ecosystem
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default()
    });
    let names = col(|p| p.name.clone());
    let versions = col(|p| p.version.clone());
    let kinds = col(|p| p.kind.as_str().to_owned());
    let source_names = col(|p| {
        p.source
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default()
    });
    let source_versions = col(|p| {
        p.source
            .as_ref()
            .map(|s| s.version.clone())
            .unwrap_or_default()
    });
    let modules = col(|p| p.module.clone());
    let arches = col(|p| p.arch.clone());
    let cpes = col(|p| p.cpe.clone());
    let dbs = col(|p| p.package_db.clone());
    let paths = col(|p| p.filepath.clone());
    let hints = col(|p| p.repository_hint.clone());
    tx.execute(
        "INSERT INTO package (ecosystem, name, version, kind, source_name, source_version, module, arch, cpe)
         SELECT DISTINCT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                       $6::text[], $7::text[], $8::text[], $9::text[])
         ON CONFLICT DO NOTHING",
        &[
            &ecosystems, &names, &versions, &kinds, &source_names, &source_versions, &modules, &arches,
            &cpes,
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO layer_package (layer_id, scanner_set, package_id, package_db, filepath, repository_hint)
         SELECT $1, $2, p.id, u.db, u.path, u.hint
         FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                     $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
              AS u(eco, name, version, kind, sname, sversion, module, arch, cpe, db, path, hint)
         JOIN package p ON (p.ecosystem, p.name, p.version, p.kind, p.source_name, p.source_version,
                            p.module, p.arch, p.cpe)
                         = (u.eco, u.name, u.version, u.kind, u.sname, u.sversion, u.module, u.arch, u.cpe)
         ON CONFLICT DO NOTHING",
        &[
            &layer_id, &scanner_set, &ecosystems, &names, &versions, &kinds, &source_names,
            &source_versions, &modules, &arches, &cpes, &dbs, &paths, &hints,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_distributions(
    tx: &Transaction<'_>,
    layer_id: i64,
    scanner_set: &str,
    dists: &[Distribution],
) -> Result<(), StoreError> {
    for d in dists {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &d.did,
            &d.name,
            &d.version,
            &d.version_code_name,
            &d.version_id,
            &d.arch,
            &d.cpe,
            &d.pretty_name,
        ];
        tx.execute(
            "INSERT INTO distribution (did, name, version, version_code_name, version_id, arch, cpe, pretty_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &params,
        )
        .await?;
        let id: i64 = tx
            .query_one(
                "SELECT id FROM distribution WHERE (did, name, version, version_code_name, version_id, arch,
                 cpe, pretty_name) = ($1, $2, $3, $4, $5, $6, $7, $8)",
                &params,
            )
            .await?
            .get(0);
        tx.execute(
            "INSERT INTO layer_distribution (layer_id, scanner_set, distribution_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&layer_id, &scanner_set, &id],
        )
        .await?;
    }
    Ok(())
}

async fn insert_repositories(
    tx: &Transaction<'_>,
    layer_id: i64,
    scanner_set: &str,
    repos: &[Repository],
) -> Result<(), StoreError> {
    for r in repos {
        tx.execute(
            "INSERT INTO repository (name, key, uri, cpe) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&r.name, &r.key, &r.uri, &r.cpe],
        )
        .await?;
        let id: i64 = tx
            .query_one(
                "SELECT id FROM repository WHERE (name, key, uri, cpe) = ($1, $2, $3, $4)",
                &[&r.name, &r.key, &r.uri, &r.cpe],
            )
            .await?
            .get(0);
        tx.execute(
            "INSERT INTO layer_repository (layer_id, scanner_set, repository_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&layer_id, &scanner_set, &id],
        )
        .await?;
    }
    Ok(())
}

/// Rebuilds a layer's contents from its rows.
async fn load_layer_contents(
    tx: &Transaction<'_>,
    layer_id: i64,
    scanner_set: &str,
) -> Result<LayerContents, StoreError> {
    let rows = tx
        .query(
            "SELECT p.ecosystem, p.name, p.version, p.kind, p.source_name, p.source_version, p.module,
                    p.arch, p.cpe, lp.package_db, lp.filepath, lp.repository_hint
             FROM layer_package lp JOIN package p ON p.id = lp.package_id
             WHERE lp.layer_id = $1 AND lp.scanner_set = $2
             ORDER BY lp.package_db, lp.filepath, p.name, p.version",
            &[&layer_id, &scanner_set],
        )
        .await?;
    let packages = rows
        .iter()
        .map(|r| {
            let source_name: String = r.get(4);
            Package {
                ecosystem: r.get::<_, &str>(0).parse::<Ecosystem>().ok(),
                name: r.get(1),
                version: r.get(2),
                kind: if r.get::<_, &str>(3) == "source" {
                    PackageKind::Source
                } else {
                    PackageKind::Binary
                },
                source: (!source_name.is_empty()).then(|| SourcePackage {
                    name: source_name,
                    version: r.get(5),
                }),
                module: r.get(6),
                arch: r.get(7),
                cpe: r.get(8),
                package_db: r.get(9),
                filepath: r.get(10),
                repository_hint: r.get(11),
            }
        })
        .collect();
    let distributions = tx
        .query(
            "SELECT d.did, d.name, d.version, d.version_code_name, d.version_id, d.arch, d.cpe, d.pretty_name
             FROM layer_distribution ld JOIN distribution d ON d.id = ld.distribution_id
             WHERE ld.layer_id = $1 AND ld.scanner_set = $2 ORDER BY d.id",
            &[&layer_id, &scanner_set],
        )
        .await?
        .iter()
        .map(|r| Distribution {
            did: r.get(0),
            name: r.get(1),
            version: r.get(2),
            version_code_name: r.get(3),
            version_id: r.get(4),
            arch: r.get(5),
            cpe: r.get(6),
            pretty_name: r.get(7),
        })
        .collect();
    let repositories = tx
        .query(
            "SELECT r.name, r.key, r.uri, r.cpe FROM layer_repository lr JOIN repository r ON r.id = lr.repository_id
             WHERE lr.layer_id = $1 AND lr.scanner_set = $2 ORDER BY r.id",
            &[&layer_id, &scanner_set],
        )
        .await?
        .iter()
        .map(|r| Repository {
            name: r.get(0),
            key: r.get(1),
            uri: r.get(2),
            cpe: r.get(3),
        })
        .collect();
    let whiteouts = tx
        .query(
            "SELECT path FROM layer_whiteout WHERE layer_id = $1 AND scanner_set = $2 ORDER BY path",
            &[&layer_id, &scanner_set],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(LayerContents {
        packages,
        distributions,
        repositories,
        whiteouts,
    })
}
