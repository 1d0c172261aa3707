package dev.parley.server.scale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.server.config.Config;
import dev.parley.server.config.ConfigException;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The settings of running several instances: Redis key prefix and timeout, the run lease. */
class ScaleConfigTest {
    private static final String SECRET = "a-secret-that-is-at-least-32-bytes-long!";

    @Test
    void defaultsSuitOneDeploymentPerRedis() {
        Config config = Config.from(Map.of());
        assertThat(config.redis().keyPrefix()).isEqualTo("parley");
        assertThat(config.redis().commandTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.runs().lease()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.storage().redisUrl()).isEmpty();
    }

    @Test
    void redisSettingsAreRead() {
        Config config = Config.from(Map.of("PARLEY_REDIS_URL", "redis://cache:6379/2", "PARLEY_JWT_SECRET", SECRET,
                "PARLEY_REDIS_PREFIX", "prod-eu", "PARLEY_REDIS_TIMEOUT", "500ms", "PARLEY_RUN_LEASE", "10s"));
        assertThat(config.storage().redisUrl()).hasValueSatisfying(url -> assertThat(url.getPath()).isEqualTo("/2"));
        assertThat(config.redis().keyPrefix()).isEqualTo("prod-eu");
        assertThat(config.redis().commandTimeout()).isEqualTo(Duration.ofMillis(500));
        assertThat(config.runs().lease()).isEqualTo(Duration.ofSeconds(10));
    }

    @Test
    void redisWithoutASecretIsRefused() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_REDIS_URL", "redis://cache:6379")))
                .isInstanceOfSatisfying(ConfigException.class,
                        e -> assertThat(String.join("\n", e.problems())).contains("PARLEY_JWT_SECRET"));
    }

    @Test
    void badValuesAreRefusedNamingTheVariable() {
        assertThatThrownBy(() -> Config.from(Map.of("PARLEY_REDIS_PREFIX", "has spaces", "PARLEY_RUN_LEASE", "1s",
                "PARLEY_REDIS_URL", "http://not-redis")))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(String.join("\n", e.problems()))
                        .contains("PARLEY_REDIS_PREFIX").contains("PARLEY_RUN_LEASE").contains("PARLEY_REDIS_URL"));
    }
}
