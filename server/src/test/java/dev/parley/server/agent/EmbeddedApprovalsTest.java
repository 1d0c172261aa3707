package dev.parley.server.agent;

import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** Approvals on the embedded database. */
class EmbeddedApprovalsTest extends ApprovalsContract {
    @BeforeAll
    static void start() throws Exception {
        startApp(Map.of());
    }
}
