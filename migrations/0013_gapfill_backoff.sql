-- A gap fill that keeps failing (credentials revoked in Okta, org unreachable) is retried
-- after a growing pause (store::backoff_secs: 5 s doubling to an hour), not at every 5-second
-- tick of every replica; validated credentials make it due at once again.
ALTER TABLE integrations
    ADD COLUMN gapfill_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN gapfill_retry_at timestamptz;
