package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.errorCode;
import static dev.parley.server.auth.AuthFlows.me;
import static dev.parley.server.auth.AuthFlows.part;
import static dev.parley.server.auth.AuthFlows.refresh;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** POST /auth/refresh: rotation, single use, and reuse revoking the whole family. */
class RefreshTokenTest {
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
    void refreshAnswersANewPairInTheSameFamily() {
        JsonNode first = AuthFlows.registered(app);
        TestApp.Response response = refresh(app, first.path("refresh_token").asText());
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
        assertThat(me(app, second.path("access_token").asText()).status()).isEqualTo(200);
        // Rotation spends the refresh token, not the access tokens issued with it.
        assertThat(me(app, first.path("access_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void rotationCanGoOnTokenAfterToken() {
        String refreshToken = AuthFlows.registered(app).path("refresh_token").asText();
        for (int i = 0; i < 5; i++) {
            TestApp.Response response = refresh(app, refreshToken);
            assertThat(response.status()).as("rotation %d", i).isEqualTo(200);
            refreshToken = response.json().path("refresh_token").asText();
        }
    }

    @Test
    void reusingASpentRefreshTokenRevokesTheWholeFamily() {
        JsonNode first = AuthFlows.registered(app);
        String spent = first.path("refresh_token").asText();
        JsonNode second = refresh(app, spent).json();

        TestApp.Response reuse = refresh(app, spent);
        assertThat(reuse.status()).isEqualTo(401);
        assertThat(errorCode(reuse)).isEqualTo("token_revoked");

        for (String access : List.of(first.path("access_token").asText(), second.path("access_token").asText())) {
            TestApp.Response response = me(app, access);
            assertThat(response.status()).isEqualTo(401);
            assertThat(errorCode(response)).isEqualTo("token_revoked");
        }
        TestApp.Response successor = refresh(app, second.path("refresh_token").asText());
        assertThat(successor.status()).isEqualTo(401);
        assertThat(errorCode(successor)).isEqualTo("token_revoked");
    }

    @Test
    void reuseRevokesOnlyThatFamily() {
        JsonNode first = AuthFlows.registered(app);
        String email = first.path("user").path("email").asText();
        JsonNode otherSession = AuthFlows.login(app, email, AuthFlows.PASSWORD).json();
        String spent = first.path("refresh_token").asText();
        refresh(app, spent);
        refresh(app, spent);
        assertThat(me(app, otherSession.path("access_token").asText()).status()).isEqualTo(200);
        assertThat(refresh(app, otherSession.path("refresh_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void concurrentUsesOfOneRefreshTokenLetExactlyOneThrough() throws Exception {
        String token = AuthFlows.registered(app).path("refresh_token").asText();
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
                    return refresh(app, token);
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
        JsonNode pair = AuthFlows.registered(app);
        TestApp.Response access = refresh(app, pair.path("access_token").asText());
        assertThat(access.status()).isEqualTo(401);
        assertThat(errorCode(access)).isEqualTo("invalid_token");
        TestApp.Response garbage = refresh(app, "not.a.token");
        assertThat(garbage.status()).isEqualTo(401);
        assertThat(errorCode(garbage)).isEqualTo("invalid_token");
        String forged = AuthFlows.hmacSigned(AuthFlows.header("HS256"),
                part(pair.path("refresh_token").asText(), 1).put("jti", "never-issued"), "HmacSHA256",
                AuthFlows.testSecret());
        TestApp.Response unknown = refresh(app, forged);
        assertThat(unknown.status()).isEqualTo(401);
        assertThat(errorCode(unknown)).isEqualTo("invalid_token");
        String longLived = AuthFlows.hmacSigned(AuthFlows.header("HS256"),
                part(pair.path("refresh_token").asText(), 1).put("exp", 4_102_444_800L), "HmacSHA256",
                AuthFlows.testSecret());
        TestApp.Response tooLong = refresh(app, longLived);
        assertThat(tooLong.status()).isEqualTo(401);
        assertThat(errorCode(tooLong)).isEqualTo("invalid_token");
        // The refused attempts did not spend the real token.
        assertThat(refresh(app, pair.path("refresh_token").asText()).status()).isEqualTo(200);
    }

    @Test
    void refreshRefusesAMissingToken() {
        for (String body : new String[] {"{}", "{\"refresh_token\":\"\"}", "{\"refresh_token\":7}", ""}) {
            TestApp.Response response = app.post("/auth/refresh", body, null);
            assertThat(response.status()).as(body).isEqualTo(400);
            assertThat(errorCode(response)).as(body).isEqualTo("invalid_request");
        }
    }

    @Test
    void refreshAcceptsTheReplacedSystemsFieldNames() {
        JsonNode pair = AuthFlows.registered(app);
        TestApp.Response camel = app.post("/auth/refresh",
                "{\"refreshToken\":\"" + pair.path("refresh_token").asText() + "\"}", null);
        assertThat(camel.status()).isEqualTo(200);
        TestApp.Response plain = app.post("/auth/refresh",
                "{\"token\":\"" + camel.json().path("refresh_token").asText() + "\"}", null);
        assertThat(plain.status()).isEqualTo(200);
    }

    @Test
    void expiredRefreshTokenIsRefusedAsExpiredAndEachRotationGivesAFullLifetime() {
        MutableClock clock = new MutableClock(Instant.parse("2030-06-01T00:00:00Z"));
        try (TestApp timed = TestApp.start(Map.of(), clock)) {
            JsonNode pair = AuthFlows.registered(timed);
            clock.advance(Duration.ofDays(6));
            TestApp.Response rotated = refresh(timed, pair.path("refresh_token").asText());
            assertThat(rotated.status()).isEqualTo(200);
            clock.advance(Duration.ofDays(6));
            String latest = rotated.json().path("refresh_token").asText();
            assertThat(me(timed, rotated.json().path("access_token").asText()).status()).isEqualTo(401);
            TestApp.Response again = refresh(timed, latest);
            assertThat(again.status()).as("six days into a seven-day token").isEqualTo(200);
            clock.advance(Duration.ofDays(7));
            TestApp.Response expired = refresh(timed, again.json().path("refresh_token").asText());
            assertThat(expired.status()).isEqualTo(401);
            assertThat(errorCode(expired)).isEqualTo("token_expired");
        }
    }
}
