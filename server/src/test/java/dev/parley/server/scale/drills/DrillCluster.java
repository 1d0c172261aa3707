package dev.parley.server.scale.drills;

import dev.parley.client.ApiResponse;
import dev.parley.client.Credentials;
import dev.parley.client.ParleyHttp;
import dev.parley.client.ParleySocket;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What a drill runs on: two real server processes ({@code java -cp parley-server.jar dev.parley.server.Main serve})
 * on ports of 127.0.0.1, sharing a fresh schema of this machine's PostgreSQL and a Redis server that the drill starts
 * and owns (its own port, no persistence), under a key prefix of the drill's own. Every process writes its log to the
 * drill's directory.
 */
final class DrillCluster implements AutoCloseable {
    static final String SECRET = "drill-secret-that-is-at-least-32-bytes-long";
    private static final Duration START_WAIT = Duration.ofSeconds(60);

    final Path dir;
    final String databaseUrl;
    final String schema;
    final RedisServer redis;
    final String prefix;
    final Map<String, Server> servers = new HashMap<>();
    private final Map<String, String> environment;
    private final List<HttpClient> clients = new ArrayList<>();
    private final List<ParleySocket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.concurrent.ScheduledExecutorService keepalive =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
    private final AtomicInteger nextClient = new AtomicInteger();

    private DrillCluster(Path dir, String databaseUrl, String schema, RedisServer redis, Map<String, String> environment) {
        this.dir = dir;
        this.databaseUrl = databaseUrl;
        this.schema = schema;
        this.redis = redis;
        this.prefix = "drill-" + UUID.randomUUID().toString().substring(0, 8);
        this.environment = environment;
        for (int i = 0; i < 8; i++) {
            clients.add(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
        }
        // Like real clients, the drill's sockets show liveness, so that idle ones are not closed for silence.
        keepalive.scheduleWithFixedDelay(this::heartbeat, 15, 15, TimeUnit.SECONDS);
    }

    private void heartbeat() {
        for (ParleySocket socket : sockets) {
            if (!socket.isClosed()) {
                try {
                    socket.send("heartbeat", Json.object(), null);
                } catch (RuntimeException e) {
                    // closing or closed: its owner finds out
                }
            }
        }
    }

    void track(ParleySocket socket) {
        sockets.add(socket);
    }

    /** Starts Redis and servers {@code a} and {@code b} with the given settings on top of the drill defaults. */
    static DrillCluster start(DrillOptions options, String name, Map<String, String> settings) throws Exception {
        Path dir = options.outputDir().resolve(name);
        Files.createDirectories(dir);
        String schema = "drill_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12).toLowerCase(Locale.ROOT);
        try (Connection connection = DriverManager.getConnection(options.databaseUrl());
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
        }
        String databaseUrl = options.databaseUrl() + (options.databaseUrl().contains("?") ? "&" : "?")
                + "currentSchema=" + schema;
        RedisServer redis = RedisServer.start(options.redisServer(), freePort(options.redisPort()), dir);
        DrillCluster cluster = new DrillCluster(dir, databaseUrl, schema, redis, settings);
        try {
            cluster.startServer("a", options);
            cluster.startServer("b", options);
            cluster.awaitReady("a");
            cluster.awaitReady("b");
        } catch (Exception e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    private void startServer(String name, DrillOptions options) throws IOException {
        int port = freePort(0);
        Map<String, String> env = new HashMap<>();
        env.put("PORT", Integer.toString(port));
        env.put("PARLEY_HOST", "127.0.0.1");
        env.put("PARLEY_DATA_DIR", dir.resolve("data-" + name).toString());
        env.put("PARLEY_DATABASE_URL", databaseUrl);
        env.put("PARLEY_DB_POOL_SIZE", "20");
        env.put("PARLEY_REDIS_URL", "redis://127.0.0.1:" + redis.port);
        env.put("PARLEY_REDIS_PREFIX", prefix);
        env.put("PARLEY_JWT_SECRET", SECRET);
        env.put("PARLEY_DEV_LOGIN", "true");
        env.put("PARLEY_WS_RATE_LIMIT", "100000");
        env.put("PARLEY_SIGNUP_LIMIT", "1000000");
        env.put("PARLEY_WS_RATE_BURST", "100000");
        env.put("PARLEY_WS_RATE_WINDOW", "1s");
        env.put("PARLEY_LOG_FORMAT", "text");
        env.put("PARLEY_SHUTDOWN_GRACE", "2s");
        env.putAll(environment);
        List<String> command = List.of(options.java(), "-Xmx512m", "-XX:+UseSerialGC", "-cp",
                options.serverJar().toString(), "dev.parley.server.Main", "serve");
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        builder.environment().putAll(env);
        builder.redirectErrorStream(true);
        builder.redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server-" + name + ".log").toFile()));
        servers.put(name, new Server(name, port, builder.start(), this));
    }

    void awaitReady(String name) throws InterruptedException {
        Server server = servers.get(name);
        long deadline = System.nanoTime() + START_WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!server.process.isAlive()) {
                throw new IllegalStateException("server " + name + " exited with " + server.process.exitValue()
                        + "; see " + dir.resolve("server-" + name + ".log"));
            }
            try {
                if (server.http().ready().status() == 200) {
                    return;
                }
            } catch (UncheckedIOException e) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("server " + name + " not ready within " + START_WAIT);
    }

    Server server(String name) {
        return servers.get(name);
    }

    HttpClient nextClient() {
        return clients.get(Math.floorMod(nextClient.getAndIncrement(), clients.size()));
    }

    /** Signs a user in by dev login (no password hashing: thousands of users in seconds); returns the access token. */
    String user(String email) {
        ApiResponse response = server("a").http().post("/auth/dev/login", Json.object().put("email", email), null);
        if (response.status() != 200) {
            throw new IllegalStateException("dev login failed: " + response.status() + " " + response.body());
        }
        return response.json().path("access_token").asText();
    }

    @Override
    public void close() {
        keepalive.shutdownNow();
        for (ParleySocket socket : sockets) {
            socket.abort();
        }
        for (Server server : servers.values()) {
            server.stop();
        }
        redis.close();
        try (Connection connection = DriverManager.getConnection(databaseUrl.substring(0, databaseUrl.lastIndexOf("currentSchema") - 1));
             Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (SQLException e) {
            System.err.println("drills: could not drop schema " + schema + ": " + e.getMessage());
        }
    }

    static int freePort(int preferred) throws IOException {
        if (preferred > 0) {
            for (int port = preferred; port < preferred + 50; port++) {
                try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                    return port;
                } catch (IOException e) {
                    // taken: try the next
                }
            }
        }
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    /** One server process. */
    static final class Server {
        final String name;
        final int port;
        final Process process;
        private final DrillCluster cluster;
        private final ParleyHttp http;

        Server(String name, int port, Process process, DrillCluster cluster) {
            this.name = name;
            this.port = port;
            this.process = process;
            this.cluster = cluster;
            this.http = new ParleyHttp(base(), Duration.ofSeconds(20));
        }

        URI base() {
            return URI.create("http://127.0.0.1:" + port);
        }

        ParleyHttp http() {
            return http;
        }

        ParleySocket socket(String token) throws ParleySocket.HandshakeRefused {
            ParleySocket socket = ParleySocket.connect(cluster.nextClient(), base(), "/ws",
                    new Credentials.BearerHeader(token), null, Duration.ofSeconds(20));
            cluster.track(socket);
            return socket;
        }

        /** {@code kill -9}: no shutdown hook, no draining, no goodbye. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }

        void stop() {
            if (process.isAlive()) {
                process.destroy();
                try {
                    if (!process.waitFor(15, TimeUnit.SECONDS)) {
                        process.destroyForcibly();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    process.destroyForcibly();
                }
            }
        }
    }

    /** A redis-server of the drill's own on 127.0.0.1, without persistence, that the drill stops and starts. */
    static final class RedisServer implements AutoCloseable {
        final int port;
        private final String binary;
        private final Path dir;
        private Process process;

        private RedisServer(String binary, int port, Path dir) {
            this.binary = binary;
            this.port = port;
            this.dir = dir;
        }

        static RedisServer start(String binary, int port, Path dir) throws IOException, InterruptedException {
            RedisServer server = new RedisServer(binary, port, dir);
            server.startProcess();
            return server;
        }

        void startProcess() throws IOException, InterruptedException {
            ProcessBuilder builder = new ProcessBuilder(binary, "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir.toString(),
                    "--logfile", dir.resolve("redis.log").toString());
            builder.redirectErrorStream(true);
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
            process = builder.start();
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!answers()) {
                if (System.nanoTime() > deadline || !process.isAlive()) {
                    throw new IllegalStateException("redis-server on port " + port + " did not start; see "
                            + dir.resolve("redis.log"));
                }
                Thread.sleep(50);
            }
        }

        /** Stops the server (SIGTERM) and waits until its port is closed. */
        void stopProcess() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }

        boolean answers() {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
                socket.setSoTimeout(500);
                OutputStream out = socket.getOutputStream();
                out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[16];
                int read = in.read(buffer);
                return read > 0 && new String(buffer, 0, read, StandardCharsets.US_ASCII).startsWith("+PONG");
            } catch (IOException e) {
                return false;
            }
        }

        @Override
        public void close() {
            if (process != null && process.isAlive()) {
                try {
                    stopProcess();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    process.destroyForcibly();
                }
            }
        }
    }
}
