package dev.parley.server.auth;

import static dev.parley.server.testing.TestUsers.uniqueEmail;
import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestRedis;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code PARLEY_SIGNUP_LIMIT}: sign-ups per client address per hour, on one instance and shared through Redis. */
class SignupLimitTest {
    private static final String PASSWORD = "correct horse battery";
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));

    private static TestApp.Response register(TestApp app, String forwardedFor) {
        return register(app, uniqueEmail(), forwardedFor);
    }

    private static TestApp.Response register(TestApp app, String email, String forwardedFor) {
        HttpRequest.Builder request = app.request("/auth/register", null)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}"));
        if (forwardedFor != null) {
            request.header("X-Forwarded-For", forwardedFor);
        }
        return app.send(request.build());
    }

    private static void assertLimited(TestApp.Response response, long retryAfterSeconds) {
        assertThat(response.status()).as(response.body()).isEqualTo(429);
        assertThat(response.errorCode()).isEqualTo("rate_limited");
        assertThat(response.header("Retry-After")).isEqualTo(Long.toString(retryAfterSeconds));
        assertThat(response.json().path("error").path("retry_after_s").asLong()).isEqualTo(retryAfterSeconds);
    }

    @Test
    void signUpsFromOneAddressAreLimitedPerHourWhateverForwardedForClaims() {
        try (TestApp app = TestApp.start(Map.of("PARLEY_SIGNUP_LIMIT", "3"), clock)) {
            for (int i = 0; i < 3; i++) {
                assertThat(register(app, "198.51.100." + i).status()).isEqualTo(201);
            }
            clock.advance(Duration.ofMinutes(10));
            assertLimited(register(app, "198.51.100.99"), 3000);
            String refused = uniqueEmail();
            assertLimited(register(app, refused, null), 3000);
            // A refused sign-up created nothing: the same email signs up once the hour is over (not email_taken).
            clock.advance(Duration.ofMinutes(50));
            assertThat(register(app, refused, null).status()).isEqualTo(201);
        }
    }

    @Test
    void behindATrustedProxyEachClientAddressHasItsOwnLimit() {
        try (TestApp app = TestApp.start(Map.of("PARLEY_SIGNUP_LIMIT", "2", "PARLEY_TRUSTED_PROXY_HOPS", "1"), clock)) {
            assertThat(register(app, "203.0.113.1").status()).isEqualTo(201);
            assertThat(register(app, "forged, 203.0.113.1").status()).isEqualTo(201);
            assertLimited(register(app, "another-forgery, 203.0.113.1"), 3600);
            assertThat(register(app, "203.0.113.2").status()).isEqualTo(201);
        }
    }

    @Test
    void theLimitIsSharedByInstancesThroughRedis() {
        Map<String, String> shared = Map.of("PARLEY_SIGNUP_LIMIT", "2",
                "PARLEY_REDIS_URL", TestRedis.url().toString(), "PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
        try (TestApp first = TestApp.start(shared, clock); TestApp second = TestApp.start(shared, clock)) {
            assertThat(register(first, null).status()).isEqualTo(201);
            assertThat(register(second, null).status()).isEqualTo(201);
            assertLimited(register(first, null), 3600);
            assertLimited(register(second, null), 3600);
        }
    }
}
