-- State of stateful detection rules (src/detect, src/store/detect_state.rs).
-- Times are the Okta events' `published` instants in epoch milliseconds: windows, first-seen
-- and sequences run on event time, never on arrival time. Keys start with tenant_id so the
-- tables distribute by tenant. Writers serialize per (tenant, rule, group) with
-- pg_advisory_xact_lock inside the worker's transaction.

-- One row per event counted by a rule for a group (idempotent by event uuid).
CREATE TABLE detect_observations (
    tenant_id     uuid   NOT NULL,
    rule_key      text   NOT NULL,   -- "<policy id>/<rule name>", or "okta.mfa.failure" etc.
    group_key     text   NOT NULL,   -- group_by values joined with U+001F
    event_uuid    text   NOT NULL,
    published_ms  bigint NOT NULL,
    value         text   NOT NULL DEFAULT '',   -- for distinct counts
    PRIMARY KEY (tenant_id, rule_key, group_key, event_uuid)
);
CREATE INDEX detect_observations_window ON detect_observations (tenant_id, rule_key, group_key, published_ms);

-- Alerts a windowed rule has fired, so a window alerts once per group, not once per event.
CREATE TABLE detect_alerts (
    tenant_id     uuid   NOT NULL,
    rule_key      text   NOT NULL,
    group_key     text   NOT NULL,
    published_ms  bigint NOT NULL,
    event_uuid    text   NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, rule_key, group_key, published_ms)
);

-- First/last time each value was seen for an entity (first_seen rules).
CREATE TABLE detect_first_seen (
    tenant_id   uuid   NOT NULL,
    rule_key    text   NOT NULL,
    entity_key  text   NOT NULL,
    value       text   NOT NULL,
    first_ms    bigint NOT NULL,
    last_ms     bigint NOT NULL,
    PRIMARY KEY (tenant_id, rule_key, entity_key, value)
);
CREATE INDEX detect_first_seen_last ON detect_first_seen (last_ms);

-- Sign-in locations per entity (geo_velocity rules).
CREATE TABLE detect_locations (
    tenant_id     uuid   NOT NULL,
    rule_key      text   NOT NULL,
    entity_key    text   NOT NULL,
    event_uuid    text   NOT NULL,
    published_ms  bigint NOT NULL,
    lat           double precision NOT NULL,
    lon           double precision NOT NULL,
    country       text   NOT NULL DEFAULT '',
    city          text   NOT NULL DEFAULT '',
    ip            text   NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, rule_key, entity_key, event_uuid)
);
CREATE INDEX detect_locations_latest ON detect_locations (tenant_id, rule_key, entity_key, published_ms);
