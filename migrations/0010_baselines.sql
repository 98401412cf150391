-- Learned baselines (issue #12): an integration's System Log history trains the stateful
-- rules (first-seen, travel, thresholds) without raising runtime events.
--
-- One row per integration: the job (its window, Okta's `next` link as the cursor, a lease in
-- `run_after`) and the record the status shows (state, counts, how far back it got). A second
-- baseline of the same integration replaces the row. It is not an `okta_jobs` row: those are
-- the calls owed for deleted integrations (they keep the integration and tenant rows alive
-- through offboarding) and are deleted when done, whereas a baseline is also the status an
-- admin reads after it finished, like gap fill's cursor on the integration.
CREATE TABLE baselines (
    tenant_id       uuid        NOT NULL,
    integration_id  uuid        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('learning', 'complete', 'failed')),
    days            integer     NOT NULL CHECK (days BETWEEN 1 AND 90),
    since           timestamptz NOT NULL,   -- the window read, [since, until)
    until           timestamptz NOT NULL,
    cursor          text,                   -- Okta's `next` link; NULL: the first page
    read_all        boolean     NOT NULL DEFAULT false,   -- every page read (or the bound hit)
    events_read     bigint      NOT NULL DEFAULT 0,       -- of the subscribed types
    events_learned  bigint      NOT NULL DEFAULT 0,       -- of those, new to the inbox
    through         timestamptz,            -- the oldest `published` read so far (newest first)
    truncated       boolean     NOT NULL DEFAULT false,   -- stopped at the per-baseline bound
    attempts        integer     NOT NULL DEFAULT 0,       -- failed rounds in a row
    run_after       timestamptz NOT NULL DEFAULT now(),   -- next round; a lease while one runs
    last_error      text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    PRIMARY KEY (tenant_id, integration_id),
    FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX baselines_due ON baselines (run_after) WHERE state = 'learning';

-- History read for a baseline goes through the inbox like any event (dedup by uuid, the
-- worker that owns the tenant's state applies it), marked learn-only: the worker updates the
-- state and discards the detections. Constant defaults: no table rewrite.
ALTER TABLE okta_events ADD COLUMN learn_only boolean NOT NULL DEFAULT false;
ALTER TABLE event_queue ADD COLUMN learn_only boolean NOT NULL DEFAULT false;
