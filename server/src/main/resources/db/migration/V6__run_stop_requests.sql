-- Written for both PostgreSQL and H2 in PostgreSQL mode: keep to the SQL both accept.

-- A stop asked for on another instance than the run's: the run's instance stops it when it sees this set. Redis
-- carries the request at once; this flag is what still works when Redis does not.
ALTER TABLE runs ADD COLUMN stop_requested_at TIMESTAMP WITH TIME ZONE;

-- Instances catching up on revocations after a Redis outage look families up by when they were revoked.
CREATE INDEX token_families_revoked ON token_families (revoked_at);

-- Instances catching up on events after a Redis outage look the logs up by when events were written.
CREATE INDEX run_events_created ON run_events (created_at);
