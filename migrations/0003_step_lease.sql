-- One wizard step at a time per integration, as a lease row rather than a transaction held
-- open across Okta calls (which took a pooled connection for seconds per step).
ALTER TABLE integrations
    ADD COLUMN step_lease_holder uuid,
    ADD COLUMN step_lease_until  timestamptz;
