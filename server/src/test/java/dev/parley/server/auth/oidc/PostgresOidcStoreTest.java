package dev.parley.server.auth.oidc;

import dev.parley.server.db.Database;
import dev.parley.server.testing.TestDatabases;

/** The sign-in store on PostgreSQL, in a fresh schema per test (skipped without PARLEY_TEST_DATABASE_URL). */
class PostgresOidcStoreTest extends OidcStoreContract {
    @Override
    protected Database open() {
        return Database.open(TestDatabases.freshPostgresSchema(), 10);
    }
}
