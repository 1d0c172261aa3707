package dev.parley.server.auth;

import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;

/** The account store on the embedded SQLite database, in a fresh data directory per test. */
class EmbeddedAccountStoreTest extends AccountStoreContract {
    @TempDir
    Path dataDir;

    @Override
    protected Database open() {
        return Database.open(new Config.Storage(dataDir, Optional.empty(), 8, Optional.empty()));
    }
}
