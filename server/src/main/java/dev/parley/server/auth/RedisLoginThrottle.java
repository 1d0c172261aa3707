package dev.parley.server.auth;

import dev.parley.server.redis.RedisConnections;
import dev.parley.server.redis.RedisUnavailableException;
import io.lettuce.core.ScriptOutputType;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The login throttle shared by every instance, in Redis: one hash per key with the failure count and the moment its
 * window closes, changed by one Lua script (the {@code INCR} of the window, or a new window with {@code PEXPIRE} on the
 * first failure after the last one closed), so that concurrent failures on several instances count exactly.
 *
 * <p>Window times come from the passed-in clock, not Redis's, so that this implementation and the in-memory one obey
 * the same contract tests; the key's expiry is set relative to that clock and only cleans up. Keys are SHA-256
 * hashes of the throttle keys: no email address or client address is written to Redis.
 *
 * <p>While Redis is unreachable the throttle falls back to this instance's memory, so sign-ins stay limited (per
 * instance) instead of unlimited.
 */
public final class RedisLoginThrottle implements LoginThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(RedisLoginThrottle.class);
    /** KEYS: the window. ARGV: now ms, window ms. */
    private static final String RECORD = "local now = tonumber(ARGV[1]) "
            + "local closes = tonumber(redis.call('HGET', KEYS[1], 'closes') or '0') "
            + "if closes <= now then "
            + "  closes = now + tonumber(ARGV[2]) "
            + "  redis.call('HSET', KEYS[1], 'count', 1, 'closes', closes) "
            + "else redis.call('HINCRBY', KEYS[1], 'count', 1) end "
            + "redis.call('PEXPIRE', KEYS[1], closes - now) "
            + "return 1";

    private final RedisConnections redis;
    private final Clock clock;
    private final InMemoryLoginThrottle fallback;

    public RedisLoginThrottle(RedisConnections redis, Clock clock) {
        this.redis = redis;
        this.clock = clock;
        this.fallback = new InMemoryLoginThrottle(clock);
    }

    private String redisKey(String key) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return redis.key("login", HexFormat.of().formatHex(digest));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    @Override
    public Optional<Duration> retryAfter(String key, Limit limit) {
        try {
            List<io.lettuce.core.KeyValue<String, String>> values =
                    redis.call(commands -> commands.hmget(redisKey(key), "count", "closes"));
            long count = values.get(0).hasValue() ? Long.parseLong(values.get(0).getValue()) : 0;
            long closes = values.get(1).hasValue() ? Long.parseLong(values.get(1).getValue()) : 0;
            long now = clock.millis();
            if (closes <= now || count < limit.maxFailures()) {
                return fallback.retryAfter(key, limit);
            }
            return Optional.of(Duration.ofMillis(closes - now));
        } catch (RedisUnavailableException e) {
            LOG.debug("Login throttle on this instance only: {}", e.getMessage());
            return fallback.retryAfter(key, limit);
        }
    }

    @Override
    public void recordFailure(String key, Limit limit) {
        try {
            redis.call(commands -> commands.eval(RECORD, ScriptOutputType.INTEGER, new String[] {redisKey(key)},
                    Long.toString(clock.millis()), Long.toString(limit.window().toMillis())));
        } catch (RedisUnavailableException e) {
            LOG.warn("Counting a failed sign-in on this instance only: {}", e.getMessage());
            fallback.recordFailure(key, limit);
        }
    }

    @Override
    public void reset(String key) {
        fallback.reset(key);
        try {
            redis.call(commands -> commands.del(redisKey(key)));
        } catch (RedisUnavailableException e) {
            LOG.debug("Could not clear the shared login throttle: {}", e.getMessage());
        }
    }
}
