-- The worker claims round-robin over the tenants with queued work: it finds them by a skip
-- scan of this index and takes each tenant's oldest events, so one tenant's backlog cannot
-- keep another tenant's events waiting.
CREATE INDEX event_queue_tenant ON event_queue (tenant_id, id);
