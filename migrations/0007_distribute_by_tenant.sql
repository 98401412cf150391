-- Every key of tenant data leads with tenant_id, so the schema distributes by tenant on Citus
-- (distribution column tenant_id; tests/service/schema.rs keeps it so). `tenants`,
-- `api_tokens` and `hook_routes` are the small reference tables, looked up without a tenant
-- (by a bearer token, by a hook URL).
CREATE TABLE hook_routes (
    hook_key        text PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    integration_id  uuid NOT NULL
);
INSERT INTO hook_routes (hook_key, tenant_id, integration_id)
    SELECT hook_key, tenant_id, id FROM integrations;

ALTER TABLE credentials DROP CONSTRAINT credentials_integration_id_fkey;
ALTER TABLE credentials DROP CONSTRAINT credentials_pkey;
ALTER TABLE integrations DROP CONSTRAINT integrations_hook_key_key;
ALTER TABLE integrations DROP CONSTRAINT integrations_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE credentials ADD PRIMARY KEY (tenant_id, integration_id, field),
    ADD FOREIGN KEY (tenant_id, integration_id) REFERENCES integrations (tenant_id, id)
        ON DELETE CASCADE;
ALTER TABLE okta_jobs DROP CONSTRAINT okta_jobs_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE okta_event_keys DROP CONSTRAINT okta_event_keys_pkey,
    ADD PRIMARY KEY (tenant_id, integration_id, event_uuid);
DROP INDEX event_queue_tenant;  -- the new primary key serves the worker's skip scan
ALTER TABLE event_queue DROP CONSTRAINT event_queue_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE quarantined_events DROP CONSTRAINT quarantined_events_pkey,
    ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE policies DROP CONSTRAINT policies_pkey, ADD PRIMARY KEY (tenant_id, id);
ALTER TABLE runtime_events DROP CONSTRAINT runtime_events_pkey, ADD PRIMARY KEY (tenant_id, id);
