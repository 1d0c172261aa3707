package dev.parley.server.config;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The whole configuration of a Parley server: one tree of records, loaded from the environment in one place
 * ({@link #from(Map)}). Every problem is reported at once, one line each, naming the variable. docs/configuration.md
 * lists the same variables; a test keeps the two in step.
 */
public record Config(Server server, Storage storage, Auth auth, Socket socket, Runs runs, Agent agent, Logging logging,
                     Redis redis) {

    public enum LogFormat { TEXT, JSON }

    public enum LlmProvider { NONE, OPENAI, ANTHROPIC, GEMINI, OLLAMA }

    /** HTTP listener and process lifecycle. */
    public record Server(String host, int port, Optional<URI> publicUrl, List<String> allowedOrigins,
                         Duration shutdownGrace, int maxRequestBytes, String version, String revision) {
    }

    /** Where state lives: the embedded database in {@code dataDir}, or PostgreSQL, and Redis when shared. */
    public record Storage(Path dataDir, Optional<String> databaseUrl, int poolSize, Optional<URI> redisUrl) {
        public boolean embedded() {
            return databaseUrl.isEmpty();
        }
    }

    /**
     * Accounts and tokens. {@code jwtSecret} is empty when the embedded mode should generate and keep one.
     * {@code trustedProxyHops} says which X-Forwarded-For entry is the client: 0 takes the first (leftmost) one, N
     * takes the N-th from the right, the address that the outermost of N appending proxies saw.
     * {@code revocationCacheTtl} bounds how long this instance may trust a "not revoked" answer for a token family
     * without asking the database again (zero: ask every time); revocations seen by this instance end it at once.
     */
    public record Auth(Optional<byte[]> jwtSecret, String issuer, String audience, Duration accessTokenTtl,
                       Duration refreshTokenTtl, boolean devLogin, boolean registrationOpen,
                       int loginMaxAttempts, Duration loginWindow, int loginMaxAttemptsPerAddress,
                       int trustedProxyHops, Duration revocationCacheTtl) {
    }

    /** WebSocket limits and liveness. */
    public record Socket(int maxFrameBytes, int rateLimitMessages, Duration rateLimitWindow, int rateLimitBurst,
                         int maxSocketsPerUser, int sendQueueBytes, Duration heartbeatInterval) {
    }

    /**
     * Agent runs: how long they may take, how long their events are kept, how large a request may be, and the lease
     * an instance holds on each of its runs (renewed while it lives; once it runs out another instance ends the run).
     */
    public record Runs(Duration timeout, Duration eventRetention, int maxUserRequestChars, Duration lease) {
        public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);

        /** Runs with the default lease. */
        public Runs(Duration timeout, Duration eventRetention, int maxUserRequestChars) {
            this(timeout, eventRetention, maxUserRequestChars, DEFAULT_LEASE);
        }
    }

    /**
     * How this instance uses Redis when {@code PARLEY_REDIS_URL} is set: every key and channel starts with
     * {@code keyPrefix}, so that several deployments (or test runs) can share one Redis without hearing each other
     * (pub/sub channels ignore the database index); {@code commandTimeout} bounds every Redis call.
     */
    public record Redis(String keyPrefix, Duration commandTimeout) {
    }

    /** The agent engine: the offline team's pacing, or an LLM provider. */
    public record Agent(Duration stepDelay, LlmProvider provider, Optional<String> model, Optional<String> apiKey,
                        Optional<URI> baseUrl) {
        public boolean offline() {
            return provider == LlmProvider.NONE;
        }
    }

    public record Logging(LogFormat format, String level) {
    }

    private static final Set<String> HTTP = Set.of("http", "https");

    /** Loads and validates the configuration; throws {@link ConfigException} listing every problem. */
    public static Config from(Map<String, String> env) {
        EnvReader reader = new EnvReader(env);
        Config config = read(reader);
        if (!reader.problems().isEmpty()) {
            throw new ConfigException(reader.problems());
        }
        return config;
    }

    /** Every environment variable the loader reads, in the order it reads them. */
    public static Set<String> variables() {
        EnvReader reader = new EnvReader(Map.of());
        read(reader);
        return reader.names();
    }

    private static Config read(EnvReader r) {
        Server server = new Server(
                r.string("PARLEY_HOST", "0.0.0.0"),
                r.integer("PORT", 8080, 0, 65535),
                r.uri("PARLEY_PUBLIC_URL", HTTP),
                list(r.string("PARLEY_ALLOWED_ORIGINS", "")),
                r.duration("PARLEY_SHUTDOWN_GRACE", Duration.ofSeconds(8), Duration.ZERO, Duration.ofMinutes(5)),
                r.integer("PARLEY_MAX_REQUEST_BYTES", 1_048_576, 1024, 64 * 1_048_576),
                r.string("PARLEY_VERSION", Versions.implementationVersion()),
                r.string("PARLEY_REVISION", r.string("K_REVISION", "local")));

        Optional<String> databaseUrl = r.optional("PARLEY_DATABASE_URL");
        databaseUrl.ifPresent(url -> {
            if (!url.startsWith("jdbc:postgresql:")) {
                r.problem("PARLEY_DATABASE_URL", "must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db)");
            }
        });
        Storage storage = new Storage(
                Path.of(r.string("PARLEY_DATA_DIR", "./data")),
                databaseUrl,
                r.integer("PARLEY_DB_POOL_SIZE", 10, 1, 200),
                r.uri("PARLEY_REDIS_URL", Set.of("redis", "rediss")));

        Optional<byte[]> secret = r.optional("PARLEY_JWT_SECRET").map(s -> s.getBytes(StandardCharsets.UTF_8));
        secret.ifPresent(bytes -> {
            if (bytes.length < 32) {
                r.problem("PARLEY_JWT_SECRET", "must be at least 32 bytes long, got " + bytes.length);
            }
        });
        boolean shared = databaseUrl.isPresent() || storage.redisUrl().isPresent();
        if (secret.isEmpty() && shared) {
            r.problem("PARLEY_JWT_SECRET", "is required when PARLEY_DATABASE_URL or PARLEY_REDIS_URL is set: "
                    + "every instance must sign and verify tokens with the same secret");
        }
        String issuer = r.string("PARLEY_JWT_ISSUER", "parley");
        String audience = r.string("PARLEY_JWT_AUDIENCE", "parley");
        Duration accessTokenTtl =
                r.duration("PARLEY_ACCESS_TOKEN_TTL", Duration.ofMinutes(15), Duration.ofSeconds(10), Duration.ofDays(1));
        Duration refreshTokenTtl =
                r.duration("PARLEY_REFRESH_TOKEN_TTL", Duration.ofDays(7), Duration.ofMinutes(1), Duration.ofDays(90));
        if (refreshTokenTtl.compareTo(accessTokenTtl) < 0) {
            r.problem("PARLEY_REFRESH_TOKEN_TTL", "must not be shorter than PARLEY_ACCESS_TOKEN_TTL ("
                    + EnvReader.format(accessTokenTtl) + ")");
        }
        boolean devLogin = r.bool("PARLEY_DEV_LOGIN", false);
        boolean registrationOpen = r.bool("PARLEY_REGISTRATION_OPEN", true);
        int loginMaxAttempts = r.integer("PARLEY_LOGIN_MAX_ATTEMPTS", 5, 1, 1000);
        Auth auth = new Auth(
                secret,
                issuer,
                audience,
                accessTokenTtl,
                refreshTokenTtl,
                devLogin,
                registrationOpen,
                loginMaxAttempts,
                r.duration("PARLEY_LOGIN_WINDOW", Duration.ofMinutes(15), Duration.ofSeconds(1), Duration.ofDays(1)),
                r.integer("PARLEY_LOGIN_MAX_ATTEMPTS_PER_ADDRESS", loginMaxAttempts, 1, 100_000),
                r.integer("PARLEY_TRUSTED_PROXY_HOPS", 0, 0, 10),
                r.duration("PARLEY_REVOCATION_CACHE_TTL", Duration.ofSeconds(1), Duration.ZERO, Duration.ofSeconds(60)));

        Socket socket = new Socket(
                r.integer("PARLEY_WS_MAX_FRAME_BYTES", 65_536, 1024, 16 * 1_048_576),
                r.integer("PARLEY_WS_RATE_LIMIT", 30, 1, 100_000),
                r.duration("PARLEY_WS_RATE_WINDOW", Duration.ofSeconds(10), Duration.ofMillis(100), Duration.ofHours(1)),
                r.integer("PARLEY_WS_RATE_BURST", 10, 1, 100_000),
                r.integer("PARLEY_WS_MAX_SOCKETS_PER_USER", 10, 1, 10_000),
                r.integer("PARLEY_WS_SEND_QUEUE_BYTES", 1_048_576, 4096, 256 * 1_048_576),
                r.duration("PARLEY_HEARTBEAT_INTERVAL", Duration.ofSeconds(25), Duration.ofMillis(100), Duration.ofMinutes(10)));

        Runs runs = new Runs(
                r.duration("PARLEY_RUN_TIMEOUT", Duration.ofSeconds(120), Duration.ofSeconds(1), Duration.ofHours(1)),
                r.duration("PARLEY_RUN_EVENT_RETENTION", Duration.ofMinutes(10), Duration.ofSeconds(1), Duration.ofDays(7)),
                r.integer("PARLEY_MAX_USER_REQUEST_CHARS", 16_000, 1, 1_000_000),
                r.duration("PARLEY_RUN_LEASE", Runs.DEFAULT_LEASE, Duration.ofSeconds(3), Duration.ofMinutes(10)));

        LlmProvider provider = r.choice("PARLEY_LLM_PROVIDER", LlmProvider.class, LlmProvider.NONE);
        Agent agent = new Agent(
                r.duration("PARLEY_AGENT_STEP_DELAY", Duration.ZERO, Duration.ZERO, Duration.ofMinutes(1)),
                provider,
                r.optional("PARLEY_LLM_MODEL"),
                r.optional("PARLEY_LLM_API_KEY"),
                r.uri("PARLEY_LLM_BASE_URL", HTTP));
        if ((provider == LlmProvider.OPENAI || provider == LlmProvider.ANTHROPIC || provider == LlmProvider.GEMINI)
                && agent.apiKey().isEmpty()) {
            r.problem("PARLEY_LLM_API_KEY", "is required when PARLEY_LLM_PROVIDER is "
                    + provider.name().toLowerCase(java.util.Locale.ROOT));
        }

        Logging logging = new Logging(
                r.choice("PARLEY_LOG_FORMAT", LogFormat.class, LogFormat.TEXT),
                r.string("PARLEY_LOG_LEVEL", "INFO"));

        String keyPrefix = r.string("PARLEY_REDIS_PREFIX", "parley");
        if (!keyPrefix.matches("[A-Za-z0-9_.:-]{1,64}")) {
            r.problem("PARLEY_REDIS_PREFIX", "must be 1 to 64 letters, digits or _.:- characters, got '" + keyPrefix + "'");
        }
        Redis redis = new Redis(keyPrefix,
                r.duration("PARLEY_REDIS_TIMEOUT", Duration.ofSeconds(2), Duration.ofMillis(50), Duration.ofMinutes(1)));

        return new Config(server, storage, auth, socket, runs, agent, logging, redis);
    }

    private static List<String> list(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    /** One line with the effective settings, secrets left out, for the start-up log. */
    public String summary() {
        return "port=" + server.port
                + " storage=" + (storage.embedded() ? "embedded:" + storage.dataDir.toAbsolutePath().normalize() : "postgresql")
                + " fanout=" + (storage.redisUrl.isPresent() ? "redis" : "local")
                + " agent=" + (agent.offline() ? "offline" : agent.provider.name().toLowerCase(java.util.Locale.ROOT))
                + " dev_login=" + auth.devLogin
                + " access_ttl=" + EnvReader.format(auth.accessTokenTtl)
                + " heartbeat=" + EnvReader.format(socket.heartbeatInterval)
                + " run_timeout=" + EnvReader.format(runs.timeout)
                + " log=" + logging.format.name().toLowerCase(java.util.Locale.ROOT)
                + " version=" + server.version + " revision=" + server.revision;
    }
}
