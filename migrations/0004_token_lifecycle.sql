-- API tokens get an id (to list and revoke them without the secret), an optional expiry and
-- a revocation time. A revoked or expired token authenticates nobody.
ALTER TABLE api_tokens
    ADD COLUMN id         uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz;
CREATE UNIQUE INDEX api_tokens_tenant_id ON api_tokens (tenant_id, id);
