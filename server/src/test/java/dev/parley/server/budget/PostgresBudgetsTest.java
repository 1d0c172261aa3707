package dev.parley.server.budget;

import dev.parley.server.db.Database;
import dev.parley.server.testing.TestDatabases;

/**
 * The spend ledger on PostgreSQL, in a fresh schema per test. Skipped without {@code PARLEY_TEST_DATABASE_URL};
 * failing instead when {@code PARLEY_TEST_REQUIRE_SERVICES=true}.
 */
class PostgresBudgetsTest extends BudgetsContract {
    @Override
    protected Database open() {
        return Database.open(TestDatabases.freshPostgresSchema(), 8);
    }
}
