package dev.parley.server.budget;

import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;

/** The spend ledger on the embedded SQLite database, in a fresh data directory per test. */
class EmbeddedBudgetsTest extends BudgetsContract {
    @TempDir
    Path dataDir;

    @Override
    protected Database open() {
        return Database.open(new Config.Storage(dataDir, Optional.empty(), 4, Optional.empty()));
    }
}
