-- From V20__tool_approvals.sql: a tool call waiting for, or settled by, a person's decision, decided once by a
-- conditional UPDATE from 'pending'; executed_at is set conditionally just before an approved call runs.
CREATE TABLE tool_approvals (
    id           VARCHAR(36)  PRIMARY KEY,
    run_id       VARCHAR(36)  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    user_id      VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tool_call_id VARCHAR      NOT NULL,
    tool_name    VARCHAR      NOT NULL,
    arguments    VARCHAR      NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    reason       VARCHAR(500),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP,
    executed_at  TIMESTAMP
);
CREATE INDEX tool_approvals_run ON tool_approvals (run_id, status);
