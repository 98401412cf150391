-- A tenant connects an Okta org once: at most one live integration (any status but
-- 'deleted', pending ones included) per (tenant, normalized Okta domain). Two of them would
-- have Okta deliver every event to two hooks, ingest it twice and write every detection
-- twice, and take a second of the org's 25 Event Hook slots. The service refuses a second
-- one with 409 `already_connected`; this index makes that refusal race-free (two
-- simultaneous submits: one insert waits for the other, then fails on the index). Other
-- tenants may connect the same org: the key leads with tenant_id.
--
-- A database may already hold such duplicates. Marking them deleted here would leave their
-- hooks registered in Okta and their credentials stored (only the service can deprovision a
-- hook), and refusing to migrate would stop an upgrade over data the admin can fix. So they
-- stay as they are, working, and all but one of each group are flagged `org_duplicate` and
-- left out of the index: the one kept is the most advanced (active, then validated, then
-- pending), the oldest on a tie. The admin deletes the extra ones with
-- DELETE /api/v1/integrations/okta/{id}; the service's own check (any live row of the org,
-- flagged or not) still refuses a new connection of such an org. A flagged row whose domain
-- changes at validate loses its flag (see store::integrations::set_validated).
ALTER TABLE integrations ADD COLUMN org_duplicate boolean NOT NULL DEFAULT false;

UPDATE integrations AS i SET org_duplicate = true
FROM (
    SELECT tenant_id, id,
           row_number() OVER (
               PARTITION BY tenant_id, okta_domain
               ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'validated' THEN 1 ELSE 2 END,
                        created_at, id
           ) AS rank
    FROM integrations
    WHERE status <> 'deleted'
) AS ranked
WHERE i.tenant_id = ranked.tenant_id AND i.id = ranked.id AND ranked.rank > 1;

CREATE UNIQUE INDEX integrations_one_live_per_org ON integrations (tenant_id, okta_domain)
    WHERE status <> 'deleted' AND NOT org_duplicate;
