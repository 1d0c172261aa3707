package dev.parley.server.auth.oidc;

import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;

/** The sign-in store on the embedded SQLite database, in a fresh data directory per test. */
class EmbeddedOidcStoreTest extends OidcStoreContract {
    @TempDir
    Path dataDir;

    @Override
    protected Database open() {
        return Database.open(new Config.Storage(dataDir, Optional.empty(), 10, Optional.empty()));
    }
}
