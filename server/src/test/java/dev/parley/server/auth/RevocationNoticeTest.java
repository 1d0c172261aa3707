package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.ClassServer;
import dev.parley.server.testing.TestUsers;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Sign-out and refresh reuse announce the revoked family to the app's subscribers (what sockets listen to). */
class RevocationNoticeTest {
    @RegisterExtension
    static final ClassServer server = new ClassServer();

    @Test
    void signOutAnnouncesTheFamilyOfTheToken() throws Exception {
        JsonNode pair = TestUsers.registeredPair(server.app());
        String family = AuthFlows.part(pair.path("access_token").asText(), 1).path("sid").asText();
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        Revocations revocations = server.app().app().auth().revocations();
        try (Revocations.Subscription subscription = revocations.onFamilyRevoked(heard::add)) {
            assertThat(AuthFlows.logout(server.app(), pair.path("access_token").asText()).status()).isEqualTo(200);
            assertThat(heard.poll(1, TimeUnit.SECONDS)).isEqualTo(family);
        }
    }

    @Test
    void refreshReuseAnnouncesTheFamily() throws Exception {
        JsonNode pair = TestUsers.registeredPair(server.app());
        String family = AuthFlows.part(pair.path("refresh_token").asText(), 1).path("sid").asText();
        LinkedBlockingQueue<String> heard = new LinkedBlockingQueue<>();
        Revocations revocations = server.app().app().auth().revocations();
        try (Revocations.Subscription subscription = revocations.onFamilyRevoked(heard::add)) {
            assertThat(TestUsers.attemptRefresh(server.app(), pair.path("refresh_token").asText()).status())
                    .isEqualTo(200);
            assertThat(heard).isEmpty();
            assertThat(TestUsers.attemptRefresh(server.app(), pair.path("refresh_token").asText()).status())
                    .isEqualTo(401);
            assertThat(heard.poll(1, TimeUnit.SECONDS)).isEqualTo(family);
        }
    }

    @Test
    void verifierFindsTheSameAccountAsTheRoutes() {
        JsonNode pair = TestUsers.registeredPair(server.app());
        Principal principal = server.app().app().auth().verifier().verifyAccess(pair.path("access_token").asText());
        assertThat(principal.userId()).isEqualTo(pair.path("user").path("id").asText());
        assertThat(principal.email()).isEqualTo(pair.path("user").path("email").asText());
        assertThat(server.app().app().auth().accounts().findUser(principal.userId()).orElseThrow().email())
                .isEqualTo(principal.email());
    }
}
