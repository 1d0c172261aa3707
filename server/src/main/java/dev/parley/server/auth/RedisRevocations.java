package dev.parley.server.auth;

import dev.parley.server.db.Sql;
import dev.parley.server.redis.RedisConnections;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Revocation notices shared by every instance over Redis pub/sub, so that a sign-out on one instance closes the
 * family's sockets on all of them at once.
 *
 * <p>{@link #announce} tells this instance's listeners first, on the announcing thread (as {@link LocalRevocations}
 * does: the sign-out's answer leaves after this instance has acted), then publishes; the other instances hear it on
 * their subscriber thread. An instance ignores its own notices coming back.
 *
 * <p>The database stays the record: token verification asks it (through a cache of at most
 * {@code PARLEY_REVOCATION_CACHE_TTL}) whatever this bus says. What pub/sub can lose, a notice sent while an instance
 * was cut off from Redis, is found in {@code token_families.revoked_at}: while Redis is unreachable the families
 * revoked since the last look are read from the database about once a second, and once more when Redis is back,
 * and announced to this instance's listeners. Listeners are idempotent, so hearing a family twice is harmless.
 */
public final class RedisRevocations implements Revocations, RedisConnections.Listener, AutoCloseable {
    /** How far back a database look reaches before the moment it covers, for clocks that differ between instances. */
    static final Duration CLOCK_MARGIN = Duration.ofSeconds(5);
    private static final Logger LOG = LoggerFactory.getLogger(RedisRevocations.class);

    private final RedisConnections redis;
    private final Sql sql;
    private final Clock clock;
    private final String instanceId = UUID.randomUUID().toString();
    private final String channel;
    private final LocalRevocations local = new LocalRevocations();
    private final RedisConnections.Subscription subscription;
    private volatile Instant lookedUntil;
    /** Families already announced from the database, so that overlapping looks announce each once. */
    private final java.util.concurrent.ConcurrentHashMap<String, Instant> announcedFromDatabase =
            new java.util.concurrent.ConcurrentHashMap<>();

    public RedisRevocations(RedisConnections redis, Sql sql, Clock clock) {
        this.redis = redis;
        this.sql = sql;
        this.clock = clock;
        this.channel = redis.key("revoked");
        this.subscription = redis.subscribe(channel, this::onMessage);
        redis.addListener(this);
        awaitSubscribed();
    }

    /**
     * Waits for Redis to confirm the subscription, so that a notice published once this instance is up reaches it.
     * When Redis does not answer in time, the database look that follows its return finds what was missed.
     */
    private void awaitSubscribed() {
        try {
            subscription.ready().get(redis.timeout().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("Revocation notices are not subscribed yet ({}); the database covers them until Redis answers",
                    e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void announce(String familyId) {
        local.announce(familyId);
        if (!redis.publish(channel, instanceId + " " + familyId)) {
            LOG.warn("Family {} revoked while Redis is unreachable; other instances will find it in the database",
                    familyId);
        }
    }

    @Override
    public Subscription onFamilyRevoked(Consumer<String> listener) {
        return local.onFamilyRevoked(listener);
    }

    private void onMessage(String message) {
        int space = message.indexOf(' ');
        if (space <= 0 || message.substring(0, space).equals(instanceId)) {
            return;
        }
        local.announce(message.substring(space + 1));
    }

    @Override
    public void recovered(Instant since) {
        lookSince(since);
    }

    @Override
    public void stillDown(Instant since) {
        Instant previous = lookedUntil;
        lookSince(previous == null || previous.isBefore(since) ? since : previous);
    }

    /** Announces here every family revoked since {@code since} (less the margin), as the database records them. */
    private void lookSince(Instant since) {
        Instant now = clock.instant();
        List<String> families = sql.query("SELECT id FROM token_families WHERE revoked_at >= ?",
                row -> row.getString("id"), since.minus(CLOCK_MARGIN));
        int applied = 0;
        for (String family : families) {
            if (announcedFromDatabase.putIfAbsent(family, now) == null) {
                local.announce(family);
                applied++;
            }
        }
        announcedFromDatabase.values().removeIf(at -> at.isBefore(now.minus(CLOCK_MARGIN.multipliedBy(4))));
        if (applied > 0) {
            LOG.info("Applied {} revocation(s) recorded while Redis was unreachable", applied);
        }
        lookedUntil = now;
    }

    @Override
    public void close() {
        subscription.close();
    }
}
