-- Spend budgets. Amounts are whole micro-dollars (10^-6 USD), the precision of the costs runs report, so that the
-- same integer arithmetic holds on PostgreSQL and SQLite. The same tables as db/migration/V7__spend_budgets.sql, in SQLite's terms.

-- A user's own limit per period, set by an admin; users without a row have the deployment's default.
CREATE TABLE budget_limits (
    user_id      VARCHAR(36) PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    limit_micros BIGINT      NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

-- What a user spent and holds in one period (period_start: the period's first UTC day, YYYY-MM-DD). A reservation is
-- one conditional UPDATE of this row (spent + held + this call's most <= limit), so it holds across instances.
CREATE TABLE budget_ledger (
    user_id      VARCHAR(36) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    period_start VARCHAR(10) NOT NULL,
    spent_micros BIGINT      NOT NULL DEFAULT 0,
    held_micros  BIGINT      NOT NULL DEFAULT 0,
    warned       INTEGER     NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, period_start)
);

-- The holds of LLM calls in flight, each charged to the period it was taken in. A hold belongs to a run (which may
-- not be stored yet when its first call is reserved at start); whoever ends the run releases what is left of it.
CREATE TABLE budget_holds (
    id            VARCHAR(36) PRIMARY KEY,
    run_id        VARCHAR(36) NOT NULL,
    user_id       VARCHAR(36) NOT NULL,
    period_start  VARCHAR(10) NOT NULL,
    amount_micros BIGINT      NOT NULL,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX budget_holds_run ON budget_holds (run_id);
