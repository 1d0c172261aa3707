package dev.parley.server.testing;

import dev.parley.server.config.Config;
import dev.parley.server.redis.RedisConnections;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;

/**
 * The Redis that shared-state tests run against: {@code PARLEY_TEST_REDIS_URL}, each caller under a key prefix of
 * its own (keys and pub/sub channels alike). Without the variable the Redis cases are skipped; with
 * {@code PARLEY_TEST_REQUIRE_SERVICES=true} (as CI sets it) a missing variable fails instead.
 */
public final class TestRedis {
    private TestRedis() {
    }

    /** The test Redis URL; skips (or fails, when services are required) without one. */
    public static URI url() {
        String url = System.getenv("PARLEY_TEST_REDIS_URL");
        if (url == null || url.isBlank()) {
            if (TestDatabases.servicesRequired()) {
                throw new IllegalStateException("PARLEY_TEST_REQUIRE_SERVICES=true but PARLEY_TEST_REDIS_URL is not set");
            }
            Assumptions.abort("PARLEY_TEST_REDIS_URL is not set: Redis cases skipped");
        }
        return URI.create(url.trim());
    }

    /** A key prefix no other test uses. */
    public static String freshPrefix() {
        return "t-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12).toLowerCase(Locale.ROOT);
    }

    /** A client of the test Redis under a fresh prefix, or of {@code url} (a proxy in front of it) when given. */
    public static RedisConnections connect(URI url, String prefix, Clock clock) {
        return RedisConnections.open(url, new Config.Redis(prefix, Duration.ofSeconds(2)), clock);
    }
}
