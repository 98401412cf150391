-- The raw inbox keeps each LogEvent as the JSON text Okta sent. The hook has parsed and
-- checked it already, and the worker reads it back as text: as jsonb, Postgres parsed every
-- event again on insert (about 70 µs each) and printed it again on every claim, which was
-- the largest share of its CPU under delivery load (README, "Performance").
ALTER TABLE okta_events ALTER COLUMN raw TYPE text USING raw::text;
