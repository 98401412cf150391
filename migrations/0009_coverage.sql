-- Which event types an integration's Event Hook subscribes to: `standard` (the 18 types,
-- the default) or `extended` (the 18 plus more Event-Hook-eligible types). The list of
-- each lives in code (okta::Coverage::event_types); the hook, gap fill and baselines follow it.
ALTER TABLE integrations
    ADD COLUMN coverage text NOT NULL DEFAULT 'standard'
        CONSTRAINT integrations_coverage_check CHECK (coverage IN ('standard', 'extended'));
