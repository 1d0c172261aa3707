package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.redis.RedisConnections;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestRedis;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The revocation contract on Redis, and across instances: a notice reaches the other instances' listeners; one sent
 * while an instance was cut off from Redis reaches it from the database. Needs {@code PARLEY_TEST_REDIS_URL}.
 */
class RedisRevocationsTest extends RevocationsContract {
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final String prefix = TestRedis.freshPrefix();
    private final List<AutoCloseable> resources = new ArrayList<>();
    private Database database;

    @Override
    protected Revocations create() {
        return instance(TestRedis.url());
    }

    private Database database() {
        if (database == null) {
            try {
                database = Database.open(new Config.Storage(Files.createTempDirectory("parley-revocations"),
                        Optional.empty(), 4, Optional.empty()));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        return database;
    }

    private RedisRevocations instance(URI url) {
        RedisConnections redis = TestRedis.connect(url, prefix, Clock.systemUTC());
        RedisRevocations revocations = new RedisRevocations(redis, database().sql(), Clock.systemUTC());
        resources.add(redis);
        resources.add(revocations);
        return revocations;
    }

    @AfterEach
    void closeInstances() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
        if (database != null) {
            database.close();
        }
    }

    @Test
    void noticeReachesTheListenersOfEveryInstanceOnce() {
        RedisRevocations a = instance(TestRedis.url());
        RedisRevocations b = instance(TestRedis.url());
        List<String> onA = new CopyOnWriteArrayList<>();
        List<String> onB = new CopyOnWriteArrayList<>();
        try (Revocations.Subscription sa = a.onFamilyRevoked(onA::add);
             Revocations.Subscription sb = b.onFamilyRevoked(onB::add)) {
            a.announce("family-x");
            assertThat(onA).as("heard here before announce returns").containsExactly("family-x");
            Await.until("b hears it", WAIT, () -> onB.contains("family-x"));
            b.announce("family-y");
            Await.until("a hears b's", WAIT, () -> onA.contains("family-y"));
            assertThat(onA).containsExactly("family-x", "family-y");
        }
    }

    @Test
    void revocationMissedWhileCutOffIsFoundInTheDatabase() {
        URI url = TestRedis.url();
        TcpProxy proxy = TcpProxy.to(url.getHost(), url.getPort());
        resources.add(proxy);
        RedisRevocations a = instance(url);
        RedisRevocations b = instance(URI.create("redis://127.0.0.1:" + proxy.port()));
        List<String> onB = new CopyOnWriteArrayList<>();
        try (Revocations.Subscription sb = b.onFamilyRevoked(onB::add)) {
            proxy.cut();
            String family = revokedFamily();
            a.announce(family);
            Await.until("b finds the revocation in the database", WAIT, () -> onB.contains(family));
            proxy.restore();
        }
    }

    /** A family stored as revoked now, as a sign-out stores it before announcing. */
    private String revokedFamily() {
        String user = UUID.randomUUID().toString();
        String family = UUID.randomUUID().toString();
        Instant now = Instant.now();
        database().sql().update("INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)", user,
                user + "@example.org", "u", now);
        database().sql().update("INSERT INTO token_families (id, user_id, created_at, expires_at, revoked_at, "
                + "revoked_why) VALUES (?, ?, ?, ?, ?, ?)", family, user, now, now.plus(Duration.ofDays(1)), now, "logout");
        return family;
    }
}
