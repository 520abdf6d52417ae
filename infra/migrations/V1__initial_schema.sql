-- Lucid's schema, designed for the whole system (indexer, updater, matcher, notifier).
-- Later migrations add to it; never edit a migration that has shipped.

-------------------------------------------------------------------------------------------------------------------
-- Indexer: manifests, layers, per-layer scan results, index reports.
-------------------------------------------------------------------------------------------------------------------

CREATE TABLE manifest (
    id          BIGSERIAL PRIMARY KEY,
    digest      TEXT NOT NULL UNIQUE,
    -- IndexState name: FetchLayers, ScanLayers, IndexFinished, IndexError.
    state       TEXT NOT NULL,
    error       TEXT NOT NULL DEFAULT '',
    -- The scanner set (index_state) the current report was built with.
    index_state TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE layer (
    id         BIGSERIAL PRIMARY KEY,
    digest     TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Layer order within a manifest (position 0 is the base layer).
CREATE TABLE manifest_layer (
    manifest_id BIGINT NOT NULL REFERENCES manifest (id) ON DELETE CASCADE,
    position    INT    NOT NULL,
    layer_id    BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    PRIMARY KEY (manifest_id, position)
);
CREATE INDEX manifest_layer_layer_idx ON manifest_layer (layer_id);

-- One row per (layer, scanner set): a layer is scanned once per scanner set and shared by every manifest.
CREATE TABLE layer_scan (
    layer_id    BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    scanner_set TEXT   NOT NULL,
    status      TEXT   NOT NULL CHECK (status IN ('scanning', 'done', 'failed')),
    error       TEXT   NOT NULL DEFAULT '',
    -- Bytes of the blob as stored, and of the uncompressed tar.
    blob_bytes  BIGINT,
    tar_bytes   BIGINT,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    PRIMARY KEY (layer_id, scanner_set)
);

-- Packages are deduplicated globally, as in Clair: many layers share the same package rows.
CREATE TABLE package (
    id             BIGSERIAL PRIMARY KEY,
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    kind           TEXT NOT NULL DEFAULT 'binary',
    source_name    TEXT NOT NULL DEFAULT '',
    source_version TEXT NOT NULL DEFAULT '',
    module         TEXT NOT NULL DEFAULT '',
    arch           TEXT NOT NULL DEFAULT '',
    cpe            TEXT NOT NULL DEFAULT '',
    UNIQUE (ecosystem, name, version, kind, source_name, source_version, module, arch, cpe)
);
CREATE INDEX package_name_idx ON package (ecosystem, name);
CREATE INDEX package_source_idx ON package (ecosystem, source_name) WHERE source_name <> '';

CREATE TABLE layer_package (
    layer_id        BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    scanner_set     TEXT   NOT NULL,
    package_id      BIGINT NOT NULL REFERENCES package (id),
    package_db      TEXT   NOT NULL DEFAULT '',
    filepath        TEXT   NOT NULL DEFAULT '',
    repository_hint TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (layer_id, scanner_set, package_id, package_db, filepath)
);

CREATE TABLE distribution (
    id                BIGSERIAL PRIMARY KEY,
    did               TEXT NOT NULL DEFAULT '',
    name              TEXT NOT NULL DEFAULT '',
    version           TEXT NOT NULL DEFAULT '',
    version_code_name TEXT NOT NULL DEFAULT '',
    version_id        TEXT NOT NULL DEFAULT '',
    arch              TEXT NOT NULL DEFAULT '',
    cpe               TEXT NOT NULL DEFAULT '',
    pretty_name       TEXT NOT NULL DEFAULT '',
    UNIQUE (did, name, version, version_code_name, version_id, arch, cpe, pretty_name)
);

CREATE TABLE layer_distribution (
    layer_id        BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    scanner_set     TEXT   NOT NULL,
    distribution_id BIGINT NOT NULL REFERENCES distribution (id),
    PRIMARY KEY (layer_id, scanner_set, distribution_id)
);

CREATE TABLE repository (
    id   BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    key  TEXT NOT NULL DEFAULT '',
    uri  TEXT NOT NULL DEFAULT '',
    cpe  TEXT NOT NULL DEFAULT '',
    UNIQUE (name, key, uri, cpe)
);

CREATE TABLE layer_repository (
    layer_id      BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    scanner_set   TEXT   NOT NULL,
    repository_id BIGINT NOT NULL REFERENCES repository (id),
    PRIMARY KEY (layer_id, scanner_set, repository_id)
);

-- Whiteout markers found in a layer, as the path they hide ('dir/' for an opaque directory).
CREATE TABLE layer_whiteout (
    layer_id    BIGINT NOT NULL REFERENCES layer (id) ON DELETE CASCADE,
    scanner_set TEXT   NOT NULL,
    path        TEXT   NOT NULL,
    PRIMARY KEY (layer_id, scanner_set, path)
);

-- The coalesced IndexReport of a manifest (Clair's JSON shape).
CREATE TABLE index_report (
    manifest_id BIGINT PRIMARY KEY REFERENCES manifest (id) ON DELETE CASCADE,
    index_state TEXT   NOT NULL,
    report      JSONB  NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Reverse index for notifications: which finished manifests contain which package, on which distribution.
CREATE TABLE manifest_package (
    manifest_id     BIGINT NOT NULL REFERENCES manifest (id) ON DELETE CASCADE,
    package_id      BIGINT NOT NULL REFERENCES package (id),
    distribution_id BIGINT REFERENCES distribution (id)
);
CREATE UNIQUE INDEX manifest_package_uniq
    ON manifest_package (manifest_id, package_id, COALESCE(distribution_id, 0));
CREATE INDEX manifest_package_package_idx ON manifest_package (package_id);

-------------------------------------------------------------------------------------------------------------------
-- Updater and matcher: update operations, deduplicated vulnerabilities, enrichments, feed status.
-------------------------------------------------------------------------------------------------------------------

CREATE TABLE update_operation (
    id           BIGSERIAL PRIMARY KEY,
    ref          UUID NOT NULL UNIQUE,
    updater      TEXT NOT NULL,
    kind         TEXT NOT NULL DEFAULT 'vulnerability' CHECK (kind IN ('vulnerability', 'enrichment')),
    fingerprint  TEXT NOT NULL DEFAULT '',
    record_count BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX update_operation_updater_idx ON update_operation (updater, id DESC);

-- Vulnerability records, deduplicated by the sha256 of their canonical JSON.
CREATE TABLE vulnerability (
    id                  BIGSERIAL PRIMARY KEY,
    hash                BYTEA NOT NULL UNIQUE,
    updater             TEXT  NOT NULL,
    name                TEXT  NOT NULL,
    ecosystem           TEXT  NOT NULL DEFAULT '',
    package_name        TEXT  NOT NULL,
    package_is_source   BOOLEAN NOT NULL DEFAULT false,
    dist_did            TEXT  NOT NULL DEFAULT '',
    dist_release        TEXT  NOT NULL DEFAULT '',
    module              TEXT  NOT NULL DEFAULT '',
    normalized_severity TEXT  NOT NULL DEFAULT 'Unknown',
    fixed_in_version    TEXT  NOT NULL DEFAULT '',
    -- The whole normalized record (model::Vulnerability).
    record              JSONB NOT NULL
);
CREATE INDEX vulnerability_lookup_idx ON vulnerability (ecosystem, package_name, dist_did, dist_release);
CREATE INDEX vulnerability_name_idx ON vulnerability (name);

CREATE TABLE uo_vulnerability (
    uo_id            BIGINT NOT NULL REFERENCES update_operation (id) ON DELETE CASCADE,
    vulnerability_id BIGINT NOT NULL REFERENCES vulnerability (id) ON DELETE CASCADE,
    PRIMARY KEY (uo_id, vulnerability_id)
);
CREATE INDEX uo_vulnerability_vuln_idx ON uo_vulnerability (vulnerability_id);

-- Enrichment records (NVD CVSS, CISA KEV, EPSS), keyed by CVE.
CREATE TABLE enrichment (
    id      BIGSERIAL PRIMARY KEY,
    hash    BYTEA NOT NULL UNIQUE,
    updater TEXT  NOT NULL,
    cve     TEXT  NOT NULL,
    data    JSONB NOT NULL
);
CREATE INDEX enrichment_cve_idx ON enrichment (cve);

CREATE TABLE uo_enrichment (
    uo_id         BIGINT NOT NULL REFERENCES update_operation (id) ON DELETE CASCADE,
    enrichment_id BIGINT NOT NULL REFERENCES enrichment (id) ON DELETE CASCADE,
    PRIMARY KEY (uo_id, enrichment_id)
);
CREATE INDEX uo_enrichment_enrichment_idx ON uo_enrichment (enrichment_id);

-- The live operation per source; switched in the same transaction that commits a new operation.
CREATE TABLE latest_update_operation (
    updater     TEXT PRIMARY KEY,
    uo_id       BIGINT NOT NULL REFERENCES update_operation (id),
    switched_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE feed_status (
    updater      TEXT PRIMARY KEY,
    last_attempt TIMESTAMPTZ,
    last_success TIMESTAMPTZ,
    last_error   TEXT NOT NULL DEFAULT '',
    fingerprint  TEXT NOT NULL DEFAULT '',
    record_count BIGINT NOT NULL DEFAULT 0
);

-------------------------------------------------------------------------------------------------------------------
-- Notifier: subscribers, notification sets, notifications, delivery receipts.
-------------------------------------------------------------------------------------------------------------------

CREATE TABLE subscriber (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('webhook', 'sqs', 'sns')),
    target       TEXT NOT NULL,
    secret       TEXT NOT NULL DEFAULT '',
    min_severity TEXT NOT NULL DEFAULT 'Unknown',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One set per diff (update operation pair): the `notification_id` of Clair's webhook.
CREATE TABLE notification_set (
    id         UUID PRIMARY KEY,
    uo_ref     UUID NOT NULL,
    prev_ref   UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (uo_ref)
);

CREATE TABLE notification (
    id           UUID PRIMARY KEY,
    set_id       UUID NOT NULL REFERENCES notification_set (id) ON DELETE CASCADE,
    manifest     TEXT NOT NULL,
    reason       TEXT NOT NULL CHECK (reason IN ('added', 'removed')),
    severity     TEXT NOT NULL DEFAULT 'Unknown',
    body         JSONB NOT NULL,
    -- Idempotency: the same (set, manifest, reason, vulnerability) is written once however often a chunk runs.
    dedup_key    BYTEA NOT NULL,
    UNIQUE (set_id, dedup_key)
);
CREATE INDEX notification_set_idx ON notification (set_id, id);

-- Chunks of fan-out work already applied (idempotency per diff and chunk).
CREATE TABLE notification_chunk (
    set_id UUID NOT NULL REFERENCES notification_set (id) ON DELETE CASCADE,
    chunk  INT  NOT NULL,
    done_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (set_id, chunk)
);

CREATE TABLE receipt (
    set_id          UUID NOT NULL REFERENCES notification_set (id) ON DELETE CASCADE,
    subscriber_id   UUID NOT NULL REFERENCES subscriber (id) ON DELETE CASCADE,
    status          TEXT NOT NULL CHECK (status IN ('created', 'delivered', 'delivery_failed', 'deleted')),
    attempts        INT  NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (set_id, subscriber_id)
);
CREATE INDEX receipt_pending_idx ON receipt (next_attempt_at) WHERE status = 'created';
