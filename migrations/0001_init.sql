-- okta-ingest schema. Every table carries tenant_id so the schema distributes by tenant.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    token_hash  bytea PRIMARY KEY,          -- sha256 of the bearer token; the token itself is never stored
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('admin', 'viewer')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE integrations (
    id                      uuid PRIMARY KEY,
    tenant_id               uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    status                  text NOT NULL CHECK (status IN ('pending', 'validated', 'active', 'deleted')),
    created_from            text NOT NULL CHECK (created_from IN ('sysdig', 'okta')),
    okta_domain             text NOT NULL,
    client_id               text,
    event_hook_id           text,
    hook_key                text NOT NULL UNIQUE,
    hook_status             text,           -- Okta's view: e.g. ACTIVE/VERIFIED
    hook_secret_hash        bytea,
    hook_secret_prev_hash   bytea,
    hook_secret_prev_until  timestamptz,
    hook_secret_rotated_at  timestamptz,
    events_received         bigint NOT NULL DEFAULT 0,
    last_event_at           timestamptz,
    activated_at            timestamptz,
    last_error_code         text,
    last_error              text,
    last_delivery_error     text,
    last_delivery_error_at  timestamptz,
    gapfill_cursor          text,           -- Okta's `next` link of the System Log polling mode
    gapfill_needed          boolean NOT NULL DEFAULT false,
    gapfill_last_run_at     timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    deleted_at              timestamptz
);
CREATE INDEX integrations_tenant ON integrations (tenant_id, created_at);

-- Encrypted credentials (vault): one row per (integration, field).
CREATE TABLE credentials (
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    field           text NOT NULL,
    key_id          text NOT NULL,
    nonce           bytea NOT NULL,
    ciphertext      bytea NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, field)
);

-- Okta calls that must still happen after the local state moved on (hook deprovisioning).
CREATE TABLE okta_jobs (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('deprovision_hook')),
    event_hook_id   text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    run_after       timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Dedup index of every event ever accepted, by (integration, Okta event uuid).
CREATE TABLE okta_event_keys (
    integration_id  uuid NOT NULL,
    event_uuid      text NOT NULL,
    tenant_id       uuid NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_id, event_uuid)
);
CREATE INDEX okta_event_keys_received ON okta_event_keys (received_at);

-- The raw inbox: written once, never rewritten, partitioned by day for retention.
CREATE TABLE okta_events (
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL,
    event_uuid      text NOT NULL,
    received_at     timestamptz NOT NULL,
    published       timestamptz,
    event_type      text NOT NULL,
    raw             jsonb NOT NULL
) PARTITION BY RANGE (received_at);
CREATE TABLE okta_events_default PARTITION OF okta_events DEFAULT;
CREATE INDEX okta_events_lookup ON okta_events (integration_id, event_uuid);

-- Work queue of the detection worker: a row per accepted event, deleted when processed.
CREATE TABLE event_queue (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL,
    event_uuid      text NOT NULL,
    received_at     timestamptz NOT NULL
);

-- Events refused one by one inside a valid delivery.
CREATE TABLE quarantined_events (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL,
    reason          text NOT NULL,
    raw             text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);

-- Custom policies (managed ones ship in the binary) and per-tenant switches of managed ones.
CREATE TABLE policies (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    policy_type text NOT NULL CHECK (policy_type = 'okta'),
    rules       text NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE managed_policy_settings (
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id   uuid NOT NULL,
    enabled     boolean NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, policy_id)
);

-- Detections. They outlive their integration (no foreign key to integrations).
CREATE TABLE runtime_events (
    id              bigserial PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    integration_id  uuid NOT NULL,
    source          text NOT NULL DEFAULT 'okta',
    policy_id       uuid NOT NULL,
    policy_name     text NOT NULL,
    rule_name       text NOT NULL,
    severity        text NOT NULL,
    priority        text NOT NULL,
    output          text NOT NULL,
    tags            text[] NOT NULL DEFAULT '{}',
    okta_event_uuid text NOT NULL,
    event_type      text NOT NULL,
    actor           text NOT NULL DEFAULT '',
    target          text NOT NULL DEFAULT '',
    okta_domain     text NOT NULL DEFAULT '',
    published       timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    normalized      jsonb NOT NULL,
    raw             jsonb NOT NULL,
    search          tsvector GENERATED ALWAYS AS (
        to_tsvector('simple',
            source || ' ' || rule_name || ' ' || policy_name || ' ' || output || ' ' ||
            replace(event_type, '.', ' ') || ' ' || event_type || ' ' || actor || ' ' || target || ' ' || okta_domain)
    ) STORED,
    UNIQUE (tenant_id, integration_id, okta_event_uuid, policy_id, rule_name)
);
CREATE INDEX runtime_events_feed ON runtime_events (tenant_id, published DESC, id DESC);
CREATE INDEX runtime_events_search ON runtime_events USING gin (search);
CREATE INDEX runtime_events_created ON runtime_events (created_at);
