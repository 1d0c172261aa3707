package dev.parley.server.budget;

import static dev.parley.server.testing.SocketClient.connected;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestUsers;
import java.math.BigDecimal;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * With a default limit, a run's first reservation reads the user's own limit itself (on PostgreSQL in its one
 * statement, on the embedded database in the start's transaction) instead of a query before it: an admin's limit
 * applies from the first call of the user's next run, and the run's later calls are reserved under it, over real
 * sockets against a local OpenAI-wire server. The PostgreSQL case is skipped without
 * {@code PARLEY_TEST_DATABASE_URL}, failing instead when {@code PARLEY_TEST_REQUIRE_SERVICES=true}.
 */
class BudgetLimitTest {
    @Test
    void onTheEmbeddedDatabaseAUsersOwnLimitAppliesFromTheFirstCallOfTheirNextRun() throws Exception {
        ownLimitAppliesFromTheNextRun(Map.of());
    }

    @Test
    void onPostgresAUsersOwnLimitAppliesFromTheFirstCallOfTheirNextRun() throws Exception {
        ownLimitAppliesFromTheNextRun(Map.of("PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema()));
    }

    private static void ownLimitAppliesFromTheNextRun(Map<String, String> database) throws Exception {
        try (OpenAiWireServer model = new OpenAiWireServer(2, 1000, 200)) {
            Map<String, String> env = new HashMap<>(BudgetRunsTest.llm(model, "5"));
            env.putAll(database);
            String adminEmail = "boss-" + System.nanoTime() + "@example.org";
            env.put("PARLEY_ADMIN_EMAILS", adminEmail);
            try (TestApp app = TestApp.start(env)) {
                TestUsers.User user = TestUsers.register(app);
                String admin = app.post("/auth/register", Json.write(Json.object().put("email", adminEmail)
                        .put("password", TestUsers.PASSWORD)), null).json().path("access_token").asText();
                String path = "/api/admin/budgets/" + user.id();
                try (SocketClient socket = connected(app, user)) {
                    assertThat(BudgetRunsTest.put(app, path, "{\"limit_usd\":0}", admin).status()).isEqualTo(200);
                    BudgetRunsTest.start(socket, "Where does my money go?");
                    JsonNode refusal = socket.await("error").path("data").path("error");
                    assertThat(refusal.path("code").asText()).isEqualTo("budget_exceeded");
                    assertThat(BudgetRunsTest.decimal(refusal.path("remaining_usd"))).isEqualByComparingTo("0");

                    assertThat(BudgetRunsTest.put(app, path, "{\"limit_usd\":0.5}", admin).status()).isEqualTo(200);
                    String runId = BudgetRunsTest.startRun(socket, "And where does it go now?");
                    List<JsonNode> costs = BudgetRunsTest.ofType(socket.runEvents(runId), "cost_updated");

                    BigDecimal spent = BudgetRunsTest.callCost(1000, 200).multiply(BigDecimal.TWO);
                    assertThat(costs).hasSize(2);
                    assertThat(BudgetRunsTest.decimal(costs.get(1).path("data").path("remaining_usd")))
                            .isEqualByComparingTo(new BigDecimal("0.5").subtract(spent));
                    BudgetRunsTest.assertSettled(app, user.accessToken(), spent);
                }
            }
        }
    }
}
