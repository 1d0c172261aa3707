package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.TestApp;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sign-out and refresh reuse announce the revoked family to the app's subscribers (what sockets listen to). */
class RevocationNoticeTest {
    private static TestApp app;

    @BeforeAll
    static void start() {
        app = TestApp.start();
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    @Test
    void signOutAnnouncesTheFamilyOfTheToken() throws Exception {
        JsonNode pair = AuthFlows.registered(app);
        String family = AuthFlows.part(pair.path("access_token").asText(), 1).path("sid").asText();
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        try (Revocations.Subscription subscription = app.app().auth().revocations().onFamilyRevoked(heard::add)) {
            assertThat(AuthFlows.logout(app, pair.path("access_token").asText()).status()).isEqualTo(200);
            assertThat(heard.poll(1, TimeUnit.SECONDS)).isEqualTo(family);
        }
    }

    @Test
    void refreshReuseAnnouncesTheFamily() throws Exception {
        JsonNode pair = AuthFlows.registered(app);
        String family = AuthFlows.part(pair.path("refresh_token").asText(), 1).path("sid").asText();
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        try (Revocations.Subscription subscription = app.app().auth().revocations().onFamilyRevoked(heard::add)) {
            assertThat(AuthFlows.refresh(app, pair.path("refresh_token").asText()).status()).isEqualTo(200);
            assertThat(heard).isEmpty();
            assertThat(AuthFlows.refresh(app, pair.path("refresh_token").asText()).status()).isEqualTo(401);
            assertThat(heard.poll(1, TimeUnit.SECONDS)).isEqualTo(family);
        }
    }

    @Test
    void verifierFindsTheSameAccountAsTheRoutes() {
        JsonNode pair = AuthFlows.registered(app);
        Principal principal = app.app().auth().verifier().verifyAccess(pair.path("access_token").asText());
        assertThat(principal.userId()).isEqualTo(pair.path("user").path("id").asText());
        assertThat(principal.email()).isEqualTo(pair.path("user").path("email").asText());
        assertThat(app.app().auth().accounts().findUser(principal.userId()).orElseThrow().email())
                .isEqualTo(principal.email());
    }
}
