package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.me;
import static dev.parley.server.auth.AuthFlows.part;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.ClassServer;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** POST /auth/refresh: rotation, single use, and reuse revoking the whole family. */
class RefreshTokenTest {
    @RegisterExtension
    static final ClassServer server = new ClassServer();

    @Test
    void refreshAnswersANewPairInTheSameFamily() {
        JsonNode first = TestUsers.registeredPair(server.app());
        TestApp.Response response = TestUsers.attemptRefresh(server.app(), first.path("refresh_token").asText());
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        JsonNode second = response.json();
        assertThat(second.path("access_token").asText()).isNotEqualTo(first.path("access_token").asText());
        assertThat(second.path("refresh_token").asText()).isNotEqualTo(first.path("refresh_token").asText());
        assertThat(second.path("token_type").asText()).isEqualTo("Bearer");
        assertThat(second.path("expires_in").asLong()).isEqualTo(900);
        assertThat(second.path("user")).isEqualTo(first.path("user"));

        JsonNode refreshClaims = part(second.path("refresh_token").asText(), 1);
        assertThat(refreshClaims.path("token_type").asText()).isEqualTo("refresh");
        assertThat(refreshClaims.path("sid").asText())
                .isEqualTo(part(first.path("access_token").asText(), 1).path("sid").asText())
                .isEqualTo(part(second.path("access_token").asText(), 1).path("sid").asText());
        assertThat(me(server.app(), second.path("access_token").asText()).status()).isEqualTo(200);
        // Rotation spends the refresh token, not the access tokens issued with it.
        assertThat(me(server.app(), first.path("access_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void rotationCanGoOnTokenAfterToken() {
        String refreshToken = TestUsers.registeredPair(server.app()).path("refresh_token").asText();
        for (int i = 0; i < 5; i++) {
            TestApp.Response response = TestUsers.attemptRefresh(server.app(), refreshToken);
            assertThat(response.status()).as("rotation %d", i).isEqualTo(200);
            refreshToken = response.json().path("refresh_token").asText();
        }
    }

    @Test
    void reusingASpentRefreshTokenRevokesTheWholeFamily() {
        JsonNode first = TestUsers.registeredPair(server.app());
        String spent = first.path("refresh_token").asText();
        JsonNode second = TestUsers.attemptRefresh(server.app(), spent).json();

        TestApp.Response reuse = TestUsers.attemptRefresh(server.app(), spent);
        assertThat(reuse.status()).isEqualTo(401);
        assertThat(reuse.errorCode()).isEqualTo("token_revoked");

        for (String access : List.of(first.path("access_token").asText(), second.path("access_token").asText())) {
            TestApp.Response response = me(server.app(), access);
            assertThat(response.status()).isEqualTo(401);
            assertThat(response.errorCode()).isEqualTo("token_revoked");
        }
        TestApp.Response successor = TestUsers.attemptRefresh(server.app(), second.path("refresh_token").asText());
        assertThat(successor.status()).isEqualTo(401);
        assertThat(successor.errorCode()).isEqualTo("token_revoked");
    }

    @Test
    void reuseRevokesOnlyThatFamily() {
        JsonNode first = TestUsers.registeredPair(server.app());
        String email = first.path("user").path("email").asText();
        JsonNode otherSession = TestUsers.attemptLogin(server.app(), email, TestUsers.PASSWORD).json();
        String spent = first.path("refresh_token").asText();
        TestUsers.attemptRefresh(server.app(), spent);
        TestUsers.attemptRefresh(server.app(), spent);
        assertThat(me(server.app(), otherSession.path("access_token").asText()).status()).isEqualTo(200);
        assertThat(TestUsers.attemptRefresh(server.app(), otherSession.path("refresh_token").asText()).status())
                .isEqualTo(200);
    }

    @Test
    void concurrentUsesOfOneRefreshTokenLetExactlyOneThrough() throws Exception {
        String token = TestUsers.registeredPair(server.app()).path("refresh_token").asText();
        int racers = 6;
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<TestApp.Response>> answers = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(racers)) {
            for (int i = 0; i < racers; i++) {
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        assertThat(go.await(10, TimeUnit.SECONDS)).isTrue();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return TestUsers.attemptRefresh(server.app(), token);
                }, pool));
            }
            go.countDown();
            List<Integer> statuses = new ArrayList<>();
            for (CompletableFuture<TestApp.Response> answer : answers) {
                statuses.add(answer.get(30, TimeUnit.SECONDS).status());
            }
            assertThat(statuses).containsOnly(200, 401);
            assertThat(statuses.stream().filter(status -> status == 200).count()).isEqualTo(1);
        }
    }

    @Test
    void refreshRefusesWhatIsNotALiveRefreshToken() {
        JsonNode pair = TestUsers.registeredPair(server.app());
        TestApp.Response access = TestUsers.attemptRefresh(server.app(), pair.path("access_token").asText());
        assertThat(access.status()).isEqualTo(401);
        assertThat(access.errorCode()).isEqualTo("invalid_token");
        TestApp.Response garbage = TestUsers.attemptRefresh(server.app(), "not.a.token");
        assertThat(garbage.status()).isEqualTo(401);
        assertThat(garbage.errorCode()).isEqualTo("invalid_token");
        String forged = AuthFlows.hmacSigned(AuthFlows.header("HS256"),
                part(pair.path("refresh_token").asText(), 1).put("jti", "never-issued"), "HmacSHA256",
                AuthFlows.testSecret());
        TestApp.Response unknown = TestUsers.attemptRefresh(server.app(), forged);
        assertThat(unknown.status()).isEqualTo(401);
        assertThat(unknown.errorCode()).isEqualTo("invalid_token");
        String longLived = AuthFlows.hmacSigned(AuthFlows.header("HS256"),
                part(pair.path("refresh_token").asText(), 1).put("exp", 4_102_444_800L), "HmacSHA256",
                AuthFlows.testSecret());
        TestApp.Response tooLong = TestUsers.attemptRefresh(server.app(), longLived);
        assertThat(tooLong.status()).isEqualTo(401);
        assertThat(tooLong.errorCode()).isEqualTo("invalid_token");
        // The refused attempts did not spend the real token.
        assertThat(TestUsers.attemptRefresh(server.app(), pair.path("refresh_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void refreshRefusesAMissingToken() {
        for (String body : new String[] {"{}", "{\"refresh_token\":\"\"}", "{\"refresh_token\":7}", ""}) {
            TestApp.Response response = server.app().post("/auth/refresh", body, null);
            assertThat(response.status()).as(body).isEqualTo(400);
            assertThat(response.errorCode()).as(body).isEqualTo("invalid_request");
        }
    }

    @Test
    void refreshAcceptsTheReplacedSystemsFieldNames() {
        JsonNode pair = TestUsers.registeredPair(server.app());
        TestApp.Response camel = server.app().post("/auth/refresh",
                "{\"refreshToken\":\"" + pair.path("refresh_token").asText() + "\"}", null);
        assertThat(camel.status()).isEqualTo(200);
        TestApp.Response plain = server.app().post("/auth/refresh",
                "{\"token\":\"" + camel.json().path("refresh_token").asText() + "\"}", null);
        assertThat(plain.status()).isEqualTo(200);
    }

    @Test
    void expiredRefreshTokenIsRefusedAsExpiredAndEachRotationGivesAFullLifetime() {
        MutableClock clock = new MutableClock(Instant.parse("2030-06-01T00:00:00Z"));
        try (TestApp timed = TestApp.start(Map.of(), clock)) {
            JsonNode pair = TestUsers.registeredPair(timed);
            clock.advance(Duration.ofDays(6));
            TestApp.Response rotated = TestUsers.attemptRefresh(timed, pair.path("refresh_token").asText());
            assertThat(rotated.status()).isEqualTo(200);
            clock.advance(Duration.ofDays(6));
            String latest = rotated.json().path("refresh_token").asText();
            assertThat(me(timed, rotated.json().path("access_token").asText()).status()).isEqualTo(401);
            TestApp.Response again = TestUsers.attemptRefresh(timed, latest);
            assertThat(again.status()).as("six days into a seven-day token").isEqualTo(200);
            clock.advance(Duration.ofDays(7));
            TestApp.Response expired = TestUsers.attemptRefresh(timed, again.json().path("refresh_token").asText());
            assertThat(expired.status()).isEqualTo(401);
            assertThat(expired.errorCode()).isEqualTo("token_expired");
        }
    }
}
