-- The feed's search finds the parts of a login or a dotted name too: `zoe`, `smith` and
-- `acme.com` find zoe.smith@acme.com, which Postgres' parser keeps as one word. Replacing the
-- generated column rewrites runtime_events once.
CREATE FUNCTION search_words(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN $1 || ' ' || replace($1, '@', ' ') || ' ' || translate($1, '@.', '  ');

ALTER TABLE runtime_events DROP COLUMN search;
ALTER TABLE runtime_events ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', search_words(
        source || ' ' || rule_name || ' ' || policy_name || ' ' || output || ' ' ||
        event_type || ' ' || actor || ' ' || target || ' ' || okta_domain))
) STORED;
CREATE INDEX runtime_events_search ON runtime_events USING gin (search);
