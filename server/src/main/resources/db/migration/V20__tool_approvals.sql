-- Written for both PostgreSQL and H2 in PostgreSQL mode: keep to the SQL both accept.

-- A tool call waiting for, or settled by, a person's decision. The row is bound to its run, its call and the call's
-- arguments, and is decided once: every decision is a conditional UPDATE from 'pending', so the first one wins on
-- every instance. executed_at is set, again conditionally, just before an approved call runs, so it runs at most once.
CREATE TABLE tool_approvals (
    id           VARCHAR(36)  PRIMARY KEY,
    run_id       VARCHAR(36)  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    user_id      VARCHAR(36)  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tool_call_id TEXT         NOT NULL,
    tool_name    TEXT         NOT NULL,
    arguments    TEXT         NOT NULL,
    status       VARCHAR(16)  NOT NULL,
    reason       VARCHAR(500),
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at   TIMESTAMP WITH TIME ZONE NOT NULL,
    decided_at   TIMESTAMP WITH TIME ZONE,
    executed_at  TIMESTAMP WITH TIME ZONE
);
CREATE INDEX tool_approvals_run ON tool_approvals (run_id, status);
