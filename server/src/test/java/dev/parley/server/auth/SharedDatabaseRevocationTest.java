package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.me;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestUsers;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Two instances on one PostgreSQL database and no shared revocation notices: a sign-out on one instance is in force
 * on the other once that instance's revocation cache entry ages out, and at once with the cache off. Tokens,
 * families and refresh rotation work across instances. Skipped without {@code PARLEY_TEST_DATABASE_URL}.
 */
class SharedDatabaseRevocationTest {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-03-01T00:00:00Z"));

    private TestApp instance(String databaseUrl, String cacheTtl) {
        return TestApp.start(Map.of("PARLEY_DATABASE_URL", databaseUrl, "PARLEY_REVOCATION_CACHE_TTL", cacheTtl), clock);
    }

    @Test
    void signOutOnOneInstanceReachesTheOtherWithinTheCacheLifetime() {
        String url = TestDatabases.freshPostgresSchema();
        try (TestApp a = instance(url, "1s"); TestApp b = instance(url, "1s")) {
            JsonNode pair = TestUsers.registeredPair(a);
            String access = pair.path("access_token").asText();
            assertThat(me(b, access).status()).isEqualTo(200);

            assertThat(AuthFlows.logout(a, access).status()).isEqualTo(200);
            assertThat(me(a, access).errorCode()).isEqualTo("token_revoked");
            assertThat(me(b, access).status()).as("b's cached answer is still fresh").isEqualTo(200);
            clock.advance(Duration.ofSeconds(1));
            TestApp.Response later = me(b, access);
            assertThat(later.status()).isEqualTo(401);
            assertThat(later.errorCode()).isEqualTo("token_revoked");
        }
    }

    @Test
    void withoutTheCacheSignOutIsInForceEverywhereAtOnce() {
        String url = TestDatabases.freshPostgresSchema();
        try (TestApp a = instance(url, "0"); TestApp b = instance(url, "0")) {
            JsonNode pair = TestUsers.registeredPair(a);
            String access = pair.path("access_token").asText();
            assertThat(me(b, access).status()).isEqualTo(200);
            assertThat(AuthFlows.logout(a, access).status()).isEqualTo(200);
            assertThat(me(b, access).errorCode()).isEqualTo("token_revoked");
        }
    }

    @Test
    void refreshRotationAndReuseDetectionSpanInstances() {
        String url = TestDatabases.freshPostgresSchema();
        try (TestApp a = instance(url, "0"); TestApp b = instance(url, "0")) {
            JsonNode pair = TestUsers.registeredPair(a);
            TestApp.Response rotated = TestUsers.attemptRefresh(b, pair.path("refresh_token").asText());
            assertThat(rotated.status()).isEqualTo(200);
            TestApp.Response reuse = TestUsers.attemptRefresh(a, pair.path("refresh_token").asText());
            assertThat(reuse.errorCode()).isEqualTo("token_revoked");
            assertThat(me(b, rotated.json().path("access_token").asText()).errorCode()).isEqualTo("token_revoked");
        }
    }
}
