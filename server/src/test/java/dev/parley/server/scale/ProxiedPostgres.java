package dev.parley.server.scale;

import dev.parley.server.testing.TcpProxy;
import dev.parley.server.testing.TestDatabases;
import java.net.URI;
import java.util.HashMap;
import java.util.Map;

/** A fresh PostgreSQL schema that the server reaches through a {@link TcpProxy}, so that a test can cut it. */
final class ProxiedPostgres implements AutoCloseable {
    private final TcpProxy proxy;
    private final String serverUrl;

    private ProxiedPostgres(TcpProxy proxy, String serverUrl) {
        this.proxy = proxy;
        this.serverUrl = serverUrl;
    }

    static ProxiedPostgres start() {
        String url = TestDatabases.freshPostgresSchema();
        URI parsed = URI.create(url.substring("jdbc:".length()));
        TcpProxy proxy = TcpProxy.to(parsed.getHost(), parsed.getPort());
        return new ProxiedPostgres(proxy, "jdbc:postgresql://127.0.0.1:" + proxy.port() + parsed.getRawPath() + "?"
                + parsed.getRawQuery());
    }

    TcpProxy proxy() {
        return proxy;
    }

    /**
     * The server's settings for this database, plus {@code more} (name, value, ...). Token families are trusted for a
     * minute, so that an outage shows in the requests under test rather than in every token check.
     */
    Map<String, String> env(String... more) {
        Map<String, String> env = new HashMap<>(Map.of("PARLEY_DATABASE_URL", serverUrl,
                "PARLEY_REVOCATION_CACHE_TTL", "60s"));
        for (int i = 0; i < more.length; i += 2) {
            env.put(more[i], more[i + 1]);
        }
        return env;
    }

    @Override
    public void close() {
        proxy.close();
    }
}
