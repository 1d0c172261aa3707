-- Written for both PostgreSQL and H2 in PostgreSQL mode: keep to the SQL both accept.

-- One running run per thread, across every instance: while a run is running, active_thread_id holds its thread's id,
-- and the unique index refuses a second one; the run clears it when it ends. (A partial unique index would say the
-- same, but H2 has none.) NULLs do not collide in either database.
ALTER TABLE runs ADD COLUMN active_thread_id VARCHAR(36);
CREATE UNIQUE INDEX runs_active_thread ON runs (active_thread_id);

-- The event-log purge looks runs up by when they ended.
CREATE INDEX runs_finished ON runs (finished_at);

-- Single-use tickets for opening a socket with ?ticket= (browsers cannot set headers on a WebSocket). Only the
-- SHA-256 of a ticket is kept. A ticket speaks for the access token it was issued with: the socket it opens expires
-- with that token and closes when that token's family is revoked.
CREATE TABLE socket_tickets (
    ticket_hash      VARCHAR(64)  PRIMARY KEY,
    user_id          VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email            VARCHAR(320) NOT NULL,
    token_id         VARCHAR(64)  NOT NULL,
    family_id        VARCHAR(36)  NOT NULL,
    token_expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at          TIMESTAMP WITH TIME ZONE
);
CREATE INDEX socket_tickets_expires ON socket_tickets (expires_at);
CREATE INDEX socket_tickets_family ON socket_tickets (family_id);
