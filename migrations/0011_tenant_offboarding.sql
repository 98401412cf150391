-- An offboarded tenant whose row stays because a hook removal in Okta is still queued: the
-- job that finishes last deletes the row (and, by cascade, its deleted integrations). No
-- token can be made for it meanwhile.
ALTER TABLE tenants ADD COLUMN offboarded_at timestamptz;
