package dev.parley.server.auth;

import static dev.parley.server.testing.TestUsers.PASSWORD;
import static dev.parley.server.testing.TestUsers.attemptLogin;
import static dev.parley.server.testing.TestUsers.attemptRegister;
import static dev.parley.server.testing.TestUsers.uniqueEmail;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** POST /auth/login answers 429 with Retry-After once an account or a client address has failed too often. */
class LoginThrottlingTest {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));

    @RegisterExtension
    static final Servers servers = new Servers();

    private TestApp app;

    @BeforeEach
    void start() {
        app = servers.start(Map.of("PARLEY_LOGIN_MAX_ATTEMPTS", "3", "PARLEY_LOGIN_WINDOW", "10m",
                "PARLEY_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "5", "PARLEY_TRUSTED_PROXY_HOPS", "1"), clock);
    }

    private static void assertThrottled(TestApp.Response response, long retryAfterSeconds) {
        assertThat(response.status()).as(response.body()).isEqualTo(429);
        assertThat(response.errorCode()).isEqualTo("too_many_attempts");
        assertThat(response.header("Retry-After")).isEqualTo(Long.toString(retryAfterSeconds));
        assertThat(response.json().path("error").path("retry_after_s").asLong()).isEqualTo(retryAfterSeconds);
    }

    @Test
    void accountIsThrottledAfterItsFailuresEvenWithTheRightPassword() {
        String email = uniqueEmail();
        attemptRegister(app, email, PASSWORD);
        for (int i = 0; i < 3; i++) {
            assertThat(attemptLogin(app, email, "wrong password", "198.51.100." + i).status()).isEqualTo(401);
        }
        clock.advance(Duration.ofSeconds(90));
        assertThrottled(attemptLogin(app, email, PASSWORD, "198.51.100.77"), 510);
        // Another account from the same addresses is not affected.
        String other = uniqueEmail();
        attemptRegister(app, other, PASSWORD);
        assertThat(attemptLogin(app, other, PASSWORD, "198.51.100.0").status()).isEqualTo(200);

        clock.advance(Duration.ofSeconds(510));
        assertThat(attemptLogin(app, email, PASSWORD, "198.51.100.77").status()).isEqualTo(200);
    }

    @Test
    void unknownAccountsAreThrottledAlike() {
        String email = uniqueEmail();
        for (int i = 0; i < 3; i++) {
            assertThat(attemptLogin(app, email, "wrong password", "203.0.113." + i).status()).isEqualTo(401);
        }
        assertThrottled(attemptLogin(app, email, "wrong password", "203.0.113.99"), 600);
    }

    @Test
    void clientAddressIsThrottledAcrossAccounts() {
        String address = "192.0.2.10";
        for (int i = 0; i < 5; i++) {
            // Behind one trusted proxy, the entry it appended (the rightmost) is the client, whatever precedes it.
            assertThat(attemptLogin(app, uniqueEmail(), "wrong password", "10.0.0." + i + ", " + address).status())
                    .isEqualTo(401);
        }
        String email = uniqueEmail();
        attemptRegister(app, email, PASSWORD);
        assertThrottled(attemptLogin(app, email, PASSWORD, address), 600);
        assertThat(attemptLogin(app, email, PASSWORD, "192.0.2.11").status()).isEqualTo(200);
    }

    @Test
    void socketAddressIsUsedWithoutForwardedFor() {
        for (int i = 0; i < 5; i++) {
            assertThat(attemptLogin(app, uniqueEmail(), "wrong password").status()).isEqualTo(401);
        }
        assertThrottled(attemptLogin(app, uniqueEmail(), "wrong password"), 600);
        assertThat(attemptLogin(app, uniqueEmail(), "wrong password", "192.0.2.200").status()).isEqualTo(401);
    }

    @Test
    void withoutTrustedProxiesAForgedForwardedForDoesNotEscapeTheAddressLimit() {
        try (TestApp direct = TestApp.start(Map.of("PARLEY_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "5"), clock)) {
            for (int i = 0; i < 5; i++) {
                assertThat(attemptLogin(direct, uniqueEmail(), "wrong password", "198.18.0." + i).status()).isEqualTo(401);
            }
            assertThrottled(attemptLogin(direct, uniqueEmail(), "wrong password", "198.18.1.1"), 900);
        }
    }

    @Test
    void successfulSignInClearsTheAccountsFailures() {
        String email = uniqueEmail();
        attemptRegister(app, email, PASSWORD);
        for (int round = 0; round < 3; round++) {
            String address = "198.51.100." + (10 + round);
            assertThat(attemptLogin(app, email, "wrong password", address).status()).isEqualTo(401);
            assertThat(attemptLogin(app, email, "wrong password", address).status()).isEqualTo(401);
            assertThat(attemptLogin(app, email, PASSWORD, address).status()).isEqualTo(200);
        }
    }
}
