package dev.parley.server.agent;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Approvals on PostgreSQL with two instances sharing it (and Redis): the runs are on the first, and the concurrent
 * decisions of the race reach the second, whose conditional update the first instance's waiting run then reads.
 */
class PostgresApprovalsTest extends ApprovalsContract {
    private static TestApp second;

    @BeforeAll
    static void start() throws Exception {
        Map<String, String> shared = Map.of(
                "PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema(),
                "PARLEY_REDIS_URL", TestRedis.url().toString(),
                "PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
        startApp(shared);
        second = TestApp.start(settings(shared), clock);
    }

    @AfterAll
    static void stopSecond() {
        if (second != null) {
            second.close();
        }
    }

    @Override
    TestApp secondInstance() {
        return second;
    }
}
