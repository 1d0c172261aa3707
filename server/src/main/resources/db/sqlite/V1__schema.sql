-- The schema of the embedded database (SQLite), the same tables, columns and indexes as the PostgreSQL migrations in
-- db/migration/ say, as of their V6. SQLite takes the column types as affinities: timestamps are stored as epoch
-- milliseconds (the JDBC driver's default), sums of money as whole numbers of 10^-8 dollars (SQLite has no exact
-- decimal type), and messages.position is the table's row id, which SQLite hands out in insertion order. A later change to
-- the schema is a new file here and a new one there.

-- From V1__accounts_conversations_runs.sql
CREATE TABLE users (
    id            VARCHAR(36)  PRIMARY KEY,
    email         VARCHAR(320) NOT NULL,
    name          VARCHAR(200) NOT NULL,
    password_hash VARCHAR(255),
    created_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- One login (a token family): every access and refresh token issued from one sign-in shares its id.
CREATE TABLE token_families (
    id          VARCHAR(36) PRIMARY KEY,
    user_id     VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP,
    revoked_why VARCHAR(40)
);
CREATE INDEX token_families_user ON token_families (user_id);

CREATE TABLE refresh_tokens (
    id         VARCHAR(36) PRIMARY KEY,
    family_id  VARCHAR(36) NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    spent_at   TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE threads (
    id            VARCHAR(36)  PRIMARY KEY,
    user_id       VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         VARCHAR(200) NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX threads_user_updated ON threads (user_id, updated_at);

CREATE TABLE runs (
    id                   VARCHAR(36) PRIMARY KEY,
    thread_id            VARCHAR(36) NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id              VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status               VARCHAR(16) NOT NULL,
    user_message_id      VARCHAR(36),
    assistant_message_id VARCHAR(36),
    started_at           TIMESTAMP NOT NULL,
    finished_at          TIMESTAMP,
    input_tokens         BIGINT NOT NULL DEFAULT 0,
    output_tokens        BIGINT NOT NULL DEFAULT 0,
    cost_usd             INTEGER NOT NULL DEFAULT 0, -- 10^-8 dollars
    error_code           VARCHAR(40),
    instance_id          VARCHAR(64),
    lease_until          TIMESTAMP
);
CREATE INDEX runs_thread ON runs (thread_id);
CREATE INDEX runs_user ON runs (user_id);
CREATE INDEX runs_status ON runs (status);

-- Messages are ordered by position, a number the database hands out in insertion order.
CREATE TABLE messages (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    id         VARCHAR(36) NOT NULL UNIQUE,
    thread_id  VARCHAR(36) NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       VARCHAR(16) NOT NULL,
    content    VARCHAR NOT NULL,
    run_id     VARCHAR(36),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX messages_thread_position ON messages (thread_id, position);

-- The event log of a run, kept for resume and GET /api/runs/{id}/events until the retention ends.
CREATE TABLE run_events (
    run_id     VARCHAR(36) NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        BIGINT      NOT NULL,
    type       VARCHAR(40) NOT NULL,
    body       VARCHAR     NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, seq)
);

-- From V3__run_ownership_and_socket_tickets.sql
-- One running run per thread, across every instance: while a run is running, active_thread_id holds its thread's id,
-- and the unique index refuses a second one; the run clears it when it ends. (A partial unique index would say the
-- same; both databases keep the shape the PostgreSQL migrations gave it.) NULLs do not collide in either database.
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
    token_expires_at TIMESTAMP NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    expires_at       TIMESTAMP NOT NULL,
    used_at          TIMESTAMP
);
CREATE INDEX socket_tickets_expires ON socket_tickets (expires_at);
CREATE INDEX socket_tickets_family ON socket_tickets (family_id);

-- From V4__usage_events.sql
-- Users' LLM usage records, the data the spend optimizer analyses: one row per model request, uploaded through
-- POST /api/usage or generated by POST /api/usage/sample.
-- occurred_day is the UTC calendar day of occurred_at, stored so that daily grouping needs no time-zone functions.

CREATE TABLE usage_events (
    id            VARCHAR(36)  PRIMARY KEY,
    user_id       VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurred_at   TIMESTAMP NOT NULL,
    occurred_day  DATE         NOT NULL,
    provider      VARCHAR(40)  NOT NULL,
    model         VARCHAR(100) NOT NULL,
    feature       VARCHAR(60)  NOT NULL,
    input_tokens  BIGINT       NOT NULL,
    output_tokens BIGINT       NOT NULL,
    latency_ms    INTEGER,
    cost_usd      INTEGER      NOT NULL, -- 10^-8 dollars
    source        VARCHAR(16)  NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX usage_events_user_day ON usage_events (user_id, occurred_day);
CREATE INDEX usage_events_user_source ON usage_events (user_id, source);

-- From V5__oidc.sql
-- Sign-in with OpenID Connect providers.

-- A sign-in in progress, from GET /auth/login to its callback: single use, a few minutes at most. The row is found
-- by the SHA-256 of the state (the state itself travels through the browser and the provider, never stored);
-- browser_hash is the SHA-256 of the cookie that ties the sign-in to the browser that started it. The nonce and the
-- PKCE verifier are kept as they are: the callback needs them back.
CREATE TABLE oidc_logins (
    state_hash    VARCHAR(64)  PRIMARY KEY,
    provider      VARCHAR(32)  NOT NULL,
    browser_hash  VARCHAR(64)  NOT NULL,
    nonce         VARCHAR(128) NOT NULL,
    code_verifier VARCHAR(128) NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);

-- Which account a provider's user is: (issuer, subject) is the identity OpenID Connect guarantees to be stable.
CREATE TABLE oidc_identities (
    issuer        VARCHAR(255) NOT NULL,
    subject       VARCHAR(255) NOT NULL,
    user_id       VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      VARCHAR(32)  NOT NULL,
    email         VARCHAR(320),
    created_at    TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities (user_id);

-- The one-time codes that the web page trades for a token pair (POST /auth/exchange), found by their SHA-256.
-- family_id is the sign-in the code opens; presenting a spent code again revokes it.
CREATE TABLE oidc_codes (
    code_hash  VARCHAR(64) PRIMARY KEY,
    user_id    VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  VARCHAR(36) NOT NULL,
    provider   VARCHAR(32) NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX oidc_codes_expires ON oidc_codes (expires_at);

-- From V6__run_stop_requests.sql
-- A stop asked for on another instance than the run's: the run's instance stops it when it sees this set. Redis
-- carries the request at once; this flag is what still works when Redis does not.
ALTER TABLE runs ADD COLUMN stop_requested_at TIMESTAMP;

-- Instances catching up on revocations after a Redis outage look families up by when they were revoked.
CREATE INDEX token_families_revoked ON token_families (revoked_at);

-- Instances catching up on events after a Redis outage look the logs up by when events were written.
CREATE INDEX run_events_created ON run_events (created_at);
