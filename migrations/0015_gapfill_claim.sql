-- Replicas share gap fill: a replica claims the due integrations it polls this round, so an
-- org's System Log is read once per round, not once per replica. A claim ends with the poll,
-- or expires if its replica dies mid-round.
ALTER TABLE integrations ADD COLUMN gapfill_claimed_until timestamptz;
