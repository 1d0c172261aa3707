package dev.parley.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {
    private static final String SECRET = "a-secret-that-is-at-least-32-bytes-long";

    @Test
    void postgresqlWithoutJwtSecretRefusesToStartNamingTheVariable() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_DATABASE_URL", "jdbc:postgresql://db:5432/parley")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactly(
                        "PARLEY_JWT_SECRET: is required when PARLEY_DATABASE_URL or PARLEY_REDIS_URL is set: every "
                                + "instance must sign and verify tokens with the same secret"));
    }

    @Test
    void redisWithoutJwtSecretRefusesToStart() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_REDIS_URL", "redis://cache:6379")))
                .isInstanceOfSatisfying(ConfigException.class, e ->
                        assertThat(e.problems()).singleElement().asString().startsWith("PARLEY_JWT_SECRET: is required"));
    }

    @Test
    void shortJwtSecretIsRefused() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_JWT_SECRET", "too-short")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .containsExactly("PARLEY_JWT_SECRET: must be at least 32 bytes long, got 9"));
    }

    @Test
    void embeddedModeNeedsNoConfiguredSecret() {
        Config config = Config.from(Map.of());
        assertThat(config.storage().embedded()).isTrue();
        assertThat(config.auth().jwtSecret()).isEmpty();
    }

    @Test
    void authDefaults() {
        Config.Auth auth = Config.from(Map.of()).auth();
        assertThat(auth.accessTokenTtl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(auth.refreshTokenTtl()).isEqualTo(Duration.ofDays(7));
        assertThat(auth.devLogin()).isFalse();
        assertThat(auth.registrationOpen()).isTrue();
        assertThat(auth.loginMaxAttempts()).isEqualTo(5);
        assertThat(auth.loginWindow()).isEqualTo(Duration.ofMinutes(15));
        assertThat(auth.loginMaxAttemptsPerAddress()).isEqualTo(5);
        assertThat(auth.trustedProxyHops()).isZero();
        assertThat(auth.revocationCacheTtl()).isEqualTo(Duration.ofSeconds(1));
    }

    @Test
    void authSettingsAreRead() {
        Config.Auth auth = Config.from(Map.of(
                "PARLEY_JWT_SECRET", SECRET,
                "PARLEY_LOGIN_MAX_ATTEMPTS", "3",
                "PARLEY_TRUSTED_PROXY_HOPS", "1",
                "PARLEY_REVOCATION_CACHE_TTL", "0",
                "PARLEY_REGISTRATION_OPEN", "false")).auth();
        assertThat(auth.jwtSecret()).hasValueSatisfying(bytes ->
                assertThat(new String(bytes, StandardCharsets.UTF_8)).isEqualTo(SECRET));
        assertThat(auth.loginMaxAttempts()).isEqualTo(3);
        assertThat(auth.loginMaxAttemptsPerAddress()).as("follows the per-account limit unless set").isEqualTo(3);
        assertThat(auth.trustedProxyHops()).isEqualTo(1);
        assertThat(auth.revocationCacheTtl()).isZero();
        assertThat(auth.registrationOpen()).isFalse();
        assertThat(Config.from(Map.of("PARLEY_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "50")).auth().loginMaxAttemptsPerAddress())
                .isEqualTo(50);
    }

    @Test
    void everyAuthProblemIsReportedAtOnce() {
        assertThatThrownBy(() -> Config.from(Map.of(
                "PARLEY_ACCESS_TOKEN_TTL", "2h",
                "PARLEY_REFRESH_TOKEN_TTL", "1h",
                "PARLEY_TRUSTED_PROXY_HOPS", "-1",
                "PARLEY_REVOCATION_CACHE_TTL", "5m",
                "PARLEY_LOGIN_MAX_ATTEMPTS", "zero")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactlyInAnyOrder(
                        "PARLEY_REFRESH_TOKEN_TTL: must not be shorter than PARLEY_ACCESS_TOKEN_TTL (2h)",
                        "PARLEY_TRUSTED_PROXY_HOPS: must be between 0 and 10, got -1",
                        "PARLEY_REVOCATION_CACHE_TTL: must be between 0ms and 1m, got 5m",
                        "PARLEY_LOGIN_MAX_ATTEMPTS: must be a whole number, got 'zero'"));
    }

    @Test
    void newAuthVariablesAreKnownToTheLoader() {
        assertThat(Config.variables()).contains("PARLEY_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", "PARLEY_TRUSTED_PROXY_HOPS",
                "PARLEY_REVOCATION_CACHE_TTL", "PARLEY_REGISTRATION_OPEN", "PARLEY_LOGIN_WINDOW");
    }
}
