package dev.parley.server.auth.oidc;

import static dev.parley.server.auth.oidc.OidcFlows.LOGIN;
import static dev.parley.server.auth.oidc.OidcFlows.exchange;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The sign-in's tables on PostgreSQL (skipped without PARLEY_TEST_DATABASE_URL): the flow, single use, races. */
class PostgresOidcSignInTest {
    @RegisterExtension
    final OidcServers oidc = new OidcServers(Clock.systemUTC(),
            () -> Map.of("PARLEY_DATABASE_URL", TestDatabases.freshPostgresSchema()));

    @Test
    void signInStateAndCodeAreSingleUse() throws Exception {
        Browser browser = new Browser(oidc.app());
        String callback = browser.consentAt(LOGIN);
        String code = Browser.fragment(browser.redirectOf(callback)).get("oauth_code");

        assertThat(Browser.fragment(browser.redirectOf(callback))).containsEntry("oauth_error", "invalid_state");
        TestApp.Response pair = exchange(oidc.app(), code);
        assertThat(pair.status()).isEqualTo(200);
        assertThat(oidc.app().get("/auth/me", pair.json().path("access_token").asText()).status()).isEqualTo(200);
        assertThat(exchange(oidc.app(), code).errorCode()).isEqualTo("invalid_code");
    }

    @Test
    void parallelFirstSignInsOfOnePersonEndInOneAccount() throws Exception {
        FakeOpenIdProvider.Person person = FakeOpenIdProvider.Person.verified(
                "twin-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org");
        TestApp app = oidc.app();
        List<Browser> browsers = List.of(new Browser(app), new Browser(app), new Browser(app), new Browser(app));
        oidc.provider().nextSignIn(person);
        List<String> callbacks = browsers.stream().map(browser -> browser.consentAt(LOGIN)).toList();

        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            List<Callable<String>> finishes = new java.util.ArrayList<>();
            for (int i = 0; i < browsers.size(); i++) {
                Browser browser = browsers.get(i);
                String callback = callbacks.get(i);
                finishes.add(() -> browser.redirectOf(callback));
            }
            List<String> userIds = new java.util.ArrayList<>();
            for (Future<String> page : pool.invokeAll(finishes, 60, TimeUnit.SECONDS)) {
                String code = Browser.fragment(page.get()).get("oauth_code");
                assertThat(code).isNotNull();
                userIds.add(exchange(oidc.app(), code).json().path("user").path("id").asText());
            }
            assertThat(userIds).hasSize(4).containsOnly(userIds.getFirst());
        } finally {
            pool.shutdownNow();
        }
    }
}
