package dev.parley.server.scale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.agent.Agent;
import dev.parley.server.testing.SocketClient;
import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestDatabases;
import dev.parley.server.testing.TestRedis;
import java.net.URI;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;

/**
 * Two instances of the real server, as production runs them: one PostgreSQL schema and one Redis (under a key prefix
 * of their own, through a TCP relay the test can cut) shared by both. Skipped without
 * {@code PARLEY_TEST_DATABASE_URL} and {@code PARLEY_TEST_REDIS_URL}.
 */
final class Cluster implements AutoCloseable {
    final TestApp a;
    final TestApp b;
    final TcpProxy redis;
    final String databaseUrl;

    private Cluster(TestApp a, TestApp b, TcpProxy redis, String databaseUrl) {
        this.a = a;
        this.b = b;
        this.redis = redis;
        this.databaseUrl = databaseUrl;
    }

    static Cluster start(Map<String, String> overrides, Agent agent) {
        return start(overrides, agent, Clock.systemUTC(), Clock.systemUTC());
    }

    static Cluster start(Map<String, String> overrides, Agent agent, Clock clockA, Clock clockB) {
        URI redisUrl = TestRedis.url();
        String databaseUrl = TestDatabases.freshPostgresSchema();
        TcpProxy proxy = TcpProxy.to(redisUrl.getHost(), redisUrl.getPort() < 0 ? 6379 : redisUrl.getPort());
        Map<String, String> env = new HashMap<>();
        env.put("PARLEY_DATABASE_URL", databaseUrl);
        env.put("PARLEY_REDIS_URL", "redis://127.0.0.1:" + proxy.port() + (redisUrl.getPath() == null ? "" : redisUrl.getPath()));
        env.put("PARLEY_REDIS_PREFIX", TestRedis.freshPrefix());
        env.put("PARLEY_SHUTDOWN_GRACE", "0");
        env.putAll(overrides);
        TestApp a = TestApp.start(env, clockA, agent);
        try {
            TestApp b = TestApp.start(env, clockB, agent);
            return new Cluster(a, b, proxy, databaseUrl);
        } catch (RuntimeException e) {
            a.close();
            proxy.close();
            throw e;
        }
    }

    static ObjectNode payload(String... pairs) {
        ObjectNode payload = Json.object();
        for (int i = 0; i < pairs.length; i += 2) {
            payload.put(pairs[i], pairs[i + 1]);
        }
        return payload;
    }

    /** Starts a run over the socket and returns its {@code agent_started}. */
    static JsonNode start(SocketClient socket, String request) {
        socket.send("start_agent", payload("user_request", request));
        return socket.await("agent_started");
    }

    @Override
    public void close() {
        try {
            b.close();
        } finally {
            try {
                a.close();
            } finally {
                redis.close();
            }
        }
    }
}
