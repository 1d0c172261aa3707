package dev.parley.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigTest {
    private static final String SECRET = "0123456789abcdef0123456789abcdef";

    @Test
    void defaultsRunOutOfTheBoxInEmbeddedMode() {
        Config config = Config.from(Map.of());
        assertThat(config.server().port()).isEqualTo(8080);
        assertThat(config.storage().embedded()).isTrue();
        assertThat(config.storage().dataDir().toString()).isEqualTo("./data");
        assertThat(config.auth().jwtSecret()).isEmpty();
        assertThat(config.auth().devLogin()).isFalse();
        assertThat(config.auth().accessTokenTtl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(config.auth().refreshTokenTtl()).isEqualTo(Duration.ofDays(7));
        assertThat(config.socket().maxFrameBytes()).isEqualTo(65_536);
        assertThat(config.socket().rateLimitMessages()).isEqualTo(30);
        assertThat(config.socket().rateLimitWindow()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.socket().rateLimitBurst()).isEqualTo(10);
        assertThat(config.socket().maxSocketsPerUser()).isEqualTo(10);
        assertThat(config.socket().sendQueueBytes()).isEqualTo(1_048_576);
        assertThat(config.socket().heartbeatInterval()).isEqualTo(Duration.ofSeconds(25));
        assertThat(config.runs().timeout()).isEqualTo(Duration.ofSeconds(120));
        assertThat(config.runs().eventRetention()).isEqualTo(Duration.ofMinutes(10));
        assertThat(config.agent().stepDelay()).isEqualTo(Duration.ZERO);
        assertThat(config.agent().offline()).isTrue();
    }

    @Test
    void everyProblemIsReportedAtOnceNamingItsVariable() {
        assertThatThrownBy(() -> Config.from(Map.of(
                "PORT", "eighty",
                "PARLEY_DEV_LOGIN", "maybe",
                "PARLEY_AGENT_STEP_DELAY", "soon",
                "PARLEY_JWT_SECRET", "short",
                "PARLEY_LLM_PROVIDER", "acme")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .hasSize(5)
                        .anySatisfy(line -> assertThat(line).startsWith("PORT:"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_DEV_LOGIN:"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_AGENT_STEP_DELAY:"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_JWT_SECRET:").contains("32 bytes"))
                        .anySatisfy(line -> assertThat(line).startsWith("PARLEY_LLM_PROVIDER:").contains("openai")));
    }

    @Test
    void sharedStateWithoutSecretRefusesToStartAndSaysWhy() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_DATABASE_URL", "jdbc:postgresql://db:5432/parley")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
                        .singleElement().asString()
                        .startsWith("PARLEY_JWT_SECRET:").contains("same secret"));
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_REDIS_URL", "redis://127.0.0.1:6379")))
                .isInstanceOf(ConfigException.class);
        Config config = Config.from(Map.of("PARLEY_DATABASE_URL", "jdbc:postgresql://db:5432/parley",
                "PARLEY_JWT_SECRET", SECRET));
        assertThat(config.storage().embedded()).isFalse();
    }

    @Test
    void durationsTakeUnitsAndBareNumbersAreMilliseconds() {
        assertThat(Config.from(Map.of("PARLEY_AGENT_STEP_DELAY", "150ms")).agent().stepDelay()).hasMillis(150);
        assertThat(Config.from(Map.of("PARLEY_AGENT_STEP_DELAY", "2s")).agent().stepDelay()).hasSeconds(2);
        assertThat(Config.from(Map.of("PARLEY_AGENT_STEP_DELAY", "250")).agent().stepDelay()).hasMillis(250);
        assertThat(Config.from(Map.of("PARLEY_REFRESH_TOKEN_TTL", "30d")).auth().refreshTokenTtl()).hasDays(30);
    }

    @Test
    void impossibleValuesAreRefused() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_DATABASE_URL", "mysql://x")))
                .hasMessageContaining("PARLEY_DATABASE_URL");
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_WS_MAX_FRAME_BYTES", "10")))
                .hasMessageContaining("PARLEY_WS_MAX_FRAME_BYTES: must be between");
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_LLM_PROVIDER", "openai")))
                .hasMessageContaining("PARLEY_LLM_API_KEY");
    }

    @Test
    void summaryNeverContainsTheSecret() {
        Config config = Config.from(Map.of("PARLEY_JWT_SECRET", SECRET, "PARLEY_LLM_PROVIDER", "openai",
                "PARLEY_LLM_API_KEY", "sk-very-secret-key"));
        assertThat(config.summary()).doesNotContain(SECRET).doesNotContain("sk-very-secret-key");
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
    void unknownParleyVariablesAreNamedWithTheClosestSetting() {
        Map<String, String> env = new java.util.HashMap<>(Map.of(
                "PARLEY_SINGUP_LIMIT", "5",
                "PARLEY_SOMETHING_ELSE", "x",
                "PARLEY_LOG_FORMAT", "json",
                "PARLEY_TEST_DATABASE_URL", "jdbc:postgresql://x/y",
                "PARLEY_JAVA_OPTS", "-Xmx1g",
                "PARLEY_OIDC_PROVIDERS", "corp",
                "PARLEY_OIDC_CORP_ISSUER", "https://id.example.com",
                "PARLEY_OIDC_OTHER_ISSUER", "https://id.example.org",
                "PATH", "/usr/bin"));
        assertThat(Config.unknownVariables(env)).containsExactly(
                // A provider that PARLEY_OIDC_PROVIDERS does not list is not configured.
                "PARLEY_OIDC_OTHER_ISSUER is not a setting of the server and is ignored",
                "PARLEY_SINGUP_LIMIT is not a setting of the server and is ignored (did you mean PARLEY_SIGNUP_LIMIT?)",
                "PARLEY_SOMETHING_ELSE is not a setting of the server and is ignored");
        assertThat(Config.unknownVariables(Map.of("PARLEY_LOG_FORMAT", "json"))).isEmpty();
    }
}
