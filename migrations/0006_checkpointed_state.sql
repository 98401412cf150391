-- Detection state moves into the worker's memory while it owns a tenant, and is checkpointed
-- here as a delta in each batch's transaction (src/ingest/worker.rs). One row per
-- (kind, rule, group) with a bounded, compact value replaces a row per observation.
DROP TABLE detect_observations;
DROP TABLE detect_alerts;
DROP TABLE detect_first_seen;
DROP TABLE detect_locations;

CREATE TABLE detect_state (
    tenant_id   uuid     NOT NULL,
    kind        smallint NOT NULL,   -- 1 observations, 2 alerts, 3 first-seen values, 4 locations
    rule_fp     bigint   NOT NULL,   -- fingerprints (SHA-256, 64 bits) of the rule and group keys
    group_fp    bigint   NOT NULL,
    state       bytea    NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, rule_fp, group_fp)
);
CREATE INDEX detect_state_updated ON detect_state (updated_at);

-- Bumped by every checkpoint of the tenant: a worker whose cached state was loaded at an
-- older sequence knows another owner moved on, and reloads before processing anything.
CREATE TABLE detect_checkpoints (
    tenant_id  uuid   PRIMARY KEY,
    seq        bigint NOT NULL
);
