-- Notifier: what the fan-out needs beyond V1's tables (see shared/src/notifier/mod.rs).

-- Reverse index: (package, manifest) ranges, so a fan-out chunk reads exactly its manifest-id range of one
-- package. Its leading column serves every lookup the single-column index did.
CREATE INDEX manifest_package_package_manifest_idx ON manifest_package (package_id, manifest_id);
DROP INDEX manifest_package_package_idx;
-- Candidate packages of a record by its normalized name: lower case with '_' and '.' folded to '-' is a
-- superset of every ecosystem's normalization (PEP 503, npm, NuGet, Packagist; identity for OS packages);
-- the exact comparison is made in Rust.
CREATE INDEX package_folded_name_idx ON package (ecosystem, translate(lower(name), '_.', '--'));

-- Backfill the reverse index from the index reports of manifests finished before it was maintained.
INSERT INTO manifest_package (manifest_id, package_id, distribution_id)
SELECT DISTINCT r.manifest_id, p.id, d.id
FROM index_report r
JOIN manifest m ON m.id = r.manifest_id AND m.state = 'IndexFinished'
CROSS JOIN LATERAL jsonb_each(COALESCE(r.report -> 'packages', '{}'::jsonb)) AS pk(key, pkg)
LEFT JOIN LATERAL jsonb_array_elements(COALESCE(r.report -> 'environments' -> pk.key, '[]'::jsonb)) AS env(e)
    ON true
JOIN package p
    ON p.ecosystem = COALESCE(pk.pkg ->> 'ecosystem', '')
   AND p.name = pk.pkg ->> 'name' AND p.version = pk.pkg ->> 'version'
   AND p.kind = COALESCE(pk.pkg ->> 'kind', 'binary')
   AND p.source_name = COALESCE(pk.pkg -> 'source' ->> 'name', '')
   AND p.source_version = COALESCE(pk.pkg -> 'source' ->> 'version', '')
   AND p.module = COALESCE(pk.pkg ->> 'module', '') AND p.arch = COALESCE(pk.pkg ->> 'arch', '')
   AND p.cpe = COALESCE(pk.pkg ->> 'cpe', '')
LEFT JOIN LATERAL (SELECT r.report -> 'distributions' -> (env.e ->> 'distribution_id') AS dj) dist ON true
LEFT JOIN distribution d
    ON d.did = dist.dj ->> 'did' AND d.name = dist.dj ->> 'name' AND d.version = dist.dj ->> 'version'
   AND d.version_code_name = dist.dj ->> 'version_code_name' AND d.version_id = dist.dj ->> 'version_id'
   AND d.arch = dist.dj ->> 'arch' AND d.cpe = dist.dj ->> 'cpe' AND d.pretty_name = dist.dj ->> 'pretty_name'
ON CONFLICT DO NOTHING;

-- Subscribers from LUCID_SUBSCRIBERS are synced into the table (source 'env'); rows added by hand stay.
ALTER TABLE subscriber ADD COLUMN source TEXT NOT NULL DEFAULT 'table';
ALTER TABLE subscriber ADD CONSTRAINT subscriber_kind_target_key UNIQUE (kind, target);

-- The plan of one diff's fan-out: chunk boundaries (manifest ids; chunk i covers [bounds[i], bounds[i+1])),
-- and when the last chunk completed (receipts are created then) or a client deleted the set.
ALTER TABLE notification_set
    ADD COLUMN updater      TEXT NOT NULL DEFAULT '',
    ADD COLUMN chunk_bounds BIGINT[],
    ADD COLUMN completed_at TIMESTAMPTZ,
    ADD COLUMN deleted_at   TIMESTAMPTZ;

-- The diff's records that affect something, one summary each (Clair's VulnSummary), numbered per set.
CREATE TABLE notification_vuln (
    set_id   UUID NOT NULL REFERENCES notification_set (id) ON DELETE CASCADE,
    record   INT  NOT NULL,
    reason   TEXT NOT NULL CHECK (reason IN ('added', 'removed')),
    severity TEXT NOT NULL,
    -- Identity of the record (its content hash), the vulnerability part of a notification's dedup key.
    record_key TEXT NOT NULL,
    body     JSONB NOT NULL,
    PRIMARY KEY (set_id, record)
);

-- Which packages, on which distribution (NULL = any: language packages), each record affects.
CREATE TABLE notification_target (
    set_id          UUID   NOT NULL REFERENCES notification_set (id) ON DELETE CASCADE,
    record          INT    NOT NULL,
    package_id      BIGINT NOT NULL,
    distribution_id BIGINT
);
CREATE UNIQUE INDEX notification_target_uniq
    ON notification_target (set_id, record, package_id, COALESCE(distribution_id, 0));

-- A notification points at its record's summary instead of copying it.
ALTER TABLE notification ALTER COLUMN body DROP NOT NULL;
ALTER TABLE notification ADD COLUMN record INT;

-- Deliveries that exhausted their attempts stay visible as dead letters.
ALTER TABLE receipt DROP CONSTRAINT receipt_status_check;
ALTER TABLE receipt ADD CONSTRAINT receipt_status_check
    CHECK (status IN ('created', 'delivered', 'delivery_failed', 'deleted', 'dead_letter'));
DROP INDEX receipt_pending_idx;
CREATE INDEX receipt_pending_idx ON receipt (next_attempt_at) WHERE status IN ('created', 'delivery_failed');
