package dev.parley.server.config;

import java.math.BigDecimal;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The whole configuration of a Parley server: one tree of records, loaded from the environment in one place
 * ({@link #from(Map)}). Every problem is reported at once, one line each, naming the variable. docs/configuration.md
 * lists the same variables; a test keeps the two in step. The sections with structured values have their own readers
 * ({@link ToolSettings}, {@link OidcSettings}, {@link BudgetSettings}); the records stay here, so that the whole tree
 * reads in one file.
 */
public record Config(Server server, Storage storage, Auth auth, Socket socket, Runs runs, Agent agent, Logging logging,
                     Oidc oidc, Redis redis, Budget budget, Tools tools) {

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
     * {@code trustedProxyHops} says which X-Forwarded-For entry is the client: 0 ignores the header (the connection's
     * peer is the client), N takes the N-th from the right, the address that the outermost of N appending proxies saw.
     * {@code signupLimit} is how many accounts one client address may create per hour.
     * {@code revocationCacheTtl} bounds how long this instance may trust a "not revoked" answer for a token family
     * without asking the database again (zero: ask every time); revocations seen by this instance end it at once.
     */
    public record Auth(Optional<byte[]> jwtSecret, String issuer, String audience, Duration accessTokenTtl,
                       Duration refreshTokenTtl, boolean devLogin, boolean registrationOpen,
                       int loginMaxAttempts, Duration loginWindow, int loginMaxAttemptsPerAddress,
                       int trustedProxyHops, Duration revocationCacheTtl, int signupLimit) {
    }

    /** WebSocket limits and liveness. */
    public record Socket(int maxFrameBytes, int rateLimitMessages, Duration rateLimitWindow, int rateLimitBurst,
                         int maxSocketsPerUser, int sendQueueBytes, Duration heartbeatInterval, boolean mirrorPayload) {
    }

    /**
     * Agent runs: how long they may take, how long their events are kept, how large a request may be, and the lease
     * an instance holds on each of its runs (renewed while it lives; once it runs out another instance ends the run),
     * how long run events may wait to be stored before new runs are refused with {@code overloaded}
     * ({@code maxLogDelay}; zero: never refused), and how many events a run keeps in memory while the database is
     * down before it is ended ({@code outageEvents}).
     */
    public record Runs(Duration timeout, Duration eventRetention, int maxUserRequestChars, Duration lease,
                       Duration maxLogDelay, int outageEvents) {
        public static final Duration DEFAULT_LEASE = Duration.ofSeconds(30);
        public static final Duration DEFAULT_MAX_LOG_DELAY = Duration.ofMillis(250);
        /** How many events a run keeps in memory while the database is down, unless configured otherwise. */
        public static final int DEFAULT_OUTAGE_EVENTS = 4096;

        /** Runs with the default lease and admission limit. */
        public Runs(Duration timeout, Duration eventRetention, int maxUserRequestChars) {
            this(timeout, eventRetention, maxUserRequestChars, DEFAULT_LEASE, DEFAULT_MAX_LOG_DELAY);
        }

        /** Runs that keep the default number of events while the database is down. */
        public Runs(Duration timeout, Duration eventRetention, int maxUserRequestChars, Duration lease,
                    Duration maxLogDelay) {
            this(timeout, eventRetention, maxUserRequestChars, lease, maxLogDelay, DEFAULT_OUTAGE_EVENTS);
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
                        Optional<URI> baseUrl, Duration responseTimeout, Duration idleTimeout) {
        public static final Duration DEFAULT_RESPONSE_TIMEOUT = Duration.ofSeconds(30);
        public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(90);

        /** An agent with the default timeouts for the provider's answers. */
        public Agent(Duration stepDelay, LlmProvider provider, Optional<String> model, Optional<String> apiKey,
                     Optional<URI> baseUrl) {
            this(stepDelay, provider, model, apiKey, baseUrl, DEFAULT_RESPONSE_TIMEOUT, DEFAULT_IDLE_TIMEOUT);
        }

        public boolean offline() {
            return provider == LlmProvider.NONE;
        }
    }

    public record Logging(LogFormat format, String level) {
    }

    /** The UTC calendar period a spend budget covers. */
    public enum BudgetPeriod { DAY, WEEK, MONTH }

    /**
     * Spend budgets: each user's default limit per period ({@code limitUsd}, empty: none), the period, the share of
     * the limit at which a user is warned, the accounts that may set other users' limits, and a price for a model the
     * bundled catalog does not know ({@code modelPrice}: USD per million input and output tokens).
     */
    public record Budget(Optional<BigDecimal> limitUsd, BudgetPeriod period, BigDecimal warnAt,
                         Set<String> adminEmails, Optional<ModelPrice> modelPrice) {
        /** Whether any user can have a limit: a default is set, or admins may set one per user. */
        public boolean enabled() {
            return limitUsd.isPresent() || !adminEmails.isEmpty();
        }

        public boolean admin(String email) {
            return email != null && adminEmails.contains(email.trim().toLowerCase(java.util.Locale.ROOT));
        }
    }

    /** A model's price in USD per million tokens, for a model the bundled catalog does not list. */
    public record ModelPrice(BigDecimal inputPerMillion, BigDecimal outputPerMillion) {
    }

    /**
     * The tools of Model Context Protocol servers ({@code PARLEY_MCP_SERVERS}), which tool calls need a person's
     * approval ({@code PARLEY_TOOL_POLICY}, first matching rule wins; none matching: the default), how long a run
     * waits for that decision ({@code PARLEY_APPROVAL_TIMEOUT}), and the key that encrypts users' own credentials for
     * {@code user_secret} servers ({@code PARLEY_MCP_CREDENTIALS_KEY}).
     */
    public record Tools(List<McpServer> mcpServers, List<PolicyRule> policy, Duration approvalTimeout,
                        Optional<byte[]> credentialsKey) {
        public static final Duration DEFAULT_APPROVAL_TIMEOUT = Duration.ofMinutes(5);
        public static final Duration DEFAULT_MCP_TIMEOUT = Duration.ofSeconds(30);

        @Override
        public String toString() {
            return "Tools[mcpServers=" + mcpServers + ", policy=" + policy + ", approvalTimeout=" + approvalTimeout
                    + "]";
        }
    }

    public enum McpTransport { STREAMABLE_HTTP, STDIO }

    public enum McpAuthMode { NONE, STATIC, USER_SECRET }

    /**
     * One MCP server: its {@code id} names its tools to the model ({@code <id>__<tool>}); it is reached at {@code url}
     * (Streamable HTTP) or runs as the local process {@code command} (stdio); {@code authValue} is the
     * value of {@code auth.value_env}, sent in {@code authHeader} ({@code Authorization: Bearer <value>} when no
     * header is named). {@code allowTools}/{@code denyTools} are globs on the server's own tool names.
     */
    public record McpServer(String id, URI url, McpTransport transport, List<String> command, McpAuthMode authMode,
                            Optional<String> authHeader, Optional<String> authValue, List<String> allowTools,
                            List<String> denyTools, Duration timeout) {
        @Override
        public String toString() {
            return "McpServer[id=" + id + ", " + (transport == McpTransport.STDIO ? "command=" + command : "url=" + url)
                    + ", auth=" + authMode.name().toLowerCase(java.util.Locale.ROOT) + "]";
        }
    }

    public enum PolicyAction { AUTO, ASK, DENY }

    /** {@code pattern=action} of {@code PARLEY_TOOL_POLICY}: a glob ({@code *} any run of characters) on a full name. */
    public record PolicyRule(String pattern, PolicyAction action) {
    }

    /**
     * Sign-in with OpenID Connect providers. {@code redirectUri} is where providers send the browser back (this
     * server's GET /auth/callback, as registered with every provider); it is present whenever a provider is.
     * {@code httpTimeout} bounds each call to a provider (discovery, token, keys).
     */
    public record Oidc(List<OidcProvider> providers, Optional<URI> redirectUri, Duration httpTimeout) {
        public Optional<OidcProvider> provider(String id) {
            return providers.stream().filter(p -> p.id().equals(id)).findFirst();
        }
    }

    /** One OpenID provider, named by {@code id} in URLs and variables, shown to people as {@code displayName}. */
    public record OidcProvider(String id, String displayName, URI issuer, String clientId, String clientSecret) {
        @Override
        public String toString() {
            return "OidcProvider[id=" + id + ", issuer=" + issuer + ", clientId=" + clientId + "]";
        }
    }

    /** The issuer used for the provider id {@code google} when its issuer variable is unset. */
    public static final URI GOOGLE_ISSUER = URI.create("https://accounts.google.com");
    /** Per-provider variables: {@code PARLEY_OIDC_<NAME>_ISSUER} and so on, {@code <NAME>} the upper-case id. */
    static final String OIDC_PREFIX = "PARLEY_OIDC_";
    private static final String OIDC_NAME = "<NAME>";

    static final Set<String> HTTP = Set.of("http", "https");

    /** Loads and validates the configuration; throws {@link ConfigException} listing every problem. */
    public static Config from(Map<String, String> env) {
        EnvReader reader = new EnvReader(env);
        Config config = read(reader);
        if (!reader.problems().isEmpty()) {
            throw new ConfigException(reader.problems());
        }
        return config;
    }

    /** Variables of the command-line tools around the server (bin/parley, bin/image.sh), not of the server. */
    private static final Set<String> TOOL_VARIABLES = Set.of("PARLEY_HOME", "PARLEY_JAVA_OPTS",
            "PARLEY_JDK_SEARCH_PATH", "PARLEY_AOT_PORT");
    /** Prefixes of the tests', drills' and tools' own variables. */
    private static final List<String> TOOL_PREFIXES = List.of("PARLEY_TEST_", "PARLEY_DRILL_", "PARLEY_FUZZ_",
            "PARLEY_VALIDATE_", "PARLEY_IMAGE_");

    /**
     * The {@code PARLEY_*} variables in {@code env} that the server does not read: most likely a typo, which would
     * otherwise leave a setting at its default without a word. Each comes with the closest known name when there is
     * one a few letters away. Variables of the tools around the server are not counted.
     */
    public static List<String> unknownVariables(Map<String, String> env) {
        EnvReader reader = new EnvReader(env);
        read(reader);
        Set<String> known = reader.names();
        List<String> unknown = new ArrayList<>();
        for (String name : new TreeSet<>(env.keySet())) {
            if (!name.startsWith("PARLEY_") || known.contains(name) || TOOL_VARIABLES.contains(name)
                    || TOOL_PREFIXES.stream().anyMatch(name::startsWith)) {
                continue;
            }
            String closest = null;
            int best = 4;
            for (String candidate : known) {
                int distance = editDistance(name, candidate);
                if (distance < best) {
                    best = distance;
                    closest = candidate;
                }
            }
            unknown.add(name + " is not a setting of the server and is ignored"
                    + (closest == null ? "" : " (did you mean " + closest + "?)"));
        }
        return unknown;
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    /**
     * Every environment variable the loader reads, in the order it reads them, leaving out those whose names depend
     * on other values ({@link #variablePatterns()}).
     */
    public static Set<String> variables() {
        EnvReader reader = new EnvReader(Map.of());
        read(reader);
        return reader.names();
    }

    /**
     * The variables whose names depend on another variable's value, as patterns: {@code PARLEY_OIDC_<NAME>_ISSUER}
     * and the other per-provider variables, {@code <NAME>} standing for each id in {@code PARLEY_OIDC_PROVIDERS}.
     * Found by loading with one provider named {@code name}, so the list follows the loader.
     */
    public static Set<String> variablePatterns() {
        EnvReader reader = new EnvReader(Map.of("PARLEY_OIDC_PROVIDERS", "name"));
        read(reader);
        String probe = OIDC_PREFIX + "NAME_";
        Set<String> patterns = new LinkedHashSet<>();
        for (String name : reader.names()) {
            if (name.startsWith(probe)) {
                patterns.add(OIDC_PREFIX + OIDC_NAME + "_" + name.substring(probe.length()));
            }
        }
        return patterns;
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
                r.duration("PARLEY_REVOCATION_CACHE_TTL", Duration.ofSeconds(1), Duration.ZERO, Duration.ofSeconds(60)),
                r.integer("PARLEY_SIGNUP_LIMIT", 20, 1, 100_000_000));

        Socket socket = new Socket(
                r.integer("PARLEY_WS_MAX_FRAME_BYTES", 65_536, 1024, 16 * 1_048_576),
                r.integer("PARLEY_WS_RATE_LIMIT", 30, 1, 100_000),
                r.duration("PARLEY_WS_RATE_WINDOW", Duration.ofSeconds(10), Duration.ofMillis(100), Duration.ofHours(1)),
                r.integer("PARLEY_WS_RATE_BURST", 10, 1, 100_000),
                r.integer("PARLEY_WS_MAX_SOCKETS_PER_USER", 10, 1, 10_000),
                r.integer("PARLEY_WS_SEND_QUEUE_BYTES", 1_048_576, 4096, 256 * 1_048_576),
                r.duration("PARLEY_HEARTBEAT_INTERVAL", Duration.ofSeconds(25), Duration.ofMillis(100), Duration.ofMinutes(10)),
                r.bool("PARLEY_WS_PAYLOAD_MIRROR", false));

        Runs runs = new Runs(
                r.duration("PARLEY_RUN_TIMEOUT", Duration.ofSeconds(120), Duration.ofSeconds(1), Duration.ofHours(1)),
                r.duration("PARLEY_RUN_EVENT_RETENTION", Duration.ofMinutes(10), Duration.ofSeconds(1), Duration.ofDays(7)),
                r.integer("PARLEY_MAX_USER_REQUEST_CHARS", 16_000, 1, 1_000_000),
                r.duration("PARLEY_RUN_LEASE", Runs.DEFAULT_LEASE, Duration.ofSeconds(3), Duration.ofMinutes(10)),
                r.duration("PARLEY_RUN_MAX_LOG_DELAY", Runs.DEFAULT_MAX_LOG_DELAY, Duration.ZERO, Duration.ofMinutes(1)),
                r.integer("PARLEY_RUN_OUTAGE_EVENTS", Runs.DEFAULT_OUTAGE_EVENTS, 1, 1_000_000));

        LlmProvider provider = r.choice("PARLEY_LLM_PROVIDER", LlmProvider.class, LlmProvider.NONE);
        Agent agent = new Agent(
                r.duration("PARLEY_AGENT_STEP_DELAY", Duration.ZERO, Duration.ZERO, Duration.ofMinutes(1)),
                provider,
                r.optional("PARLEY_LLM_MODEL"),
                r.optional("PARLEY_LLM_API_KEY"),
                r.uri("PARLEY_LLM_BASE_URL", HTTP),
                r.duration("PARLEY_LLM_RESPONSE_TIMEOUT", Agent.DEFAULT_RESPONSE_TIMEOUT, Duration.ofMillis(100),
                        Duration.ofMinutes(10)),
                r.duration("PARLEY_LLM_IDLE_TIMEOUT", Agent.DEFAULT_IDLE_TIMEOUT, Duration.ofMillis(100),
                        Duration.ofMinutes(30)));
        if ((provider == LlmProvider.OPENAI || provider == LlmProvider.ANTHROPIC || provider == LlmProvider.GEMINI)
                && agent.apiKey().isEmpty()) {
            r.problem("PARLEY_LLM_API_KEY", "is required when PARLEY_LLM_PROVIDER is "
                    + provider.name().toLowerCase(java.util.Locale.ROOT));
        }

        Logging logging = new Logging(
                r.choice("PARLEY_LOG_FORMAT", LogFormat.class, LogFormat.TEXT),
                r.string("PARLEY_LOG_LEVEL", "INFO"));

        Oidc oidc = OidcSettings.read(r, server.publicUrl());

        String keyPrefix = r.string("PARLEY_REDIS_PREFIX", "parley");
        if (!keyPrefix.matches("[A-Za-z0-9_.:-]{1,64}")) {
            r.problem("PARLEY_REDIS_PREFIX", "must be 1 to 64 letters, digits or _.:- characters, got '" + keyPrefix + "'");
        }
        Redis redis = new Redis(keyPrefix,
                r.duration("PARLEY_REDIS_TIMEOUT", Duration.ofSeconds(2), Duration.ofMillis(50), Duration.ofMinutes(1)));

        Budget budget = BudgetSettings.read(r);
        Tools tools = ToolSettings.read(r);
        return new Config(server, storage, auth, socket, runs, agent, logging, oidc, redis, budget, tools);
    }

    /** The non-empty, trimmed items of a comma-separated value. */
    static List<String> list(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    /** One line with the effective settings, secrets left out, for the start-up log. */
    public String summary() {
        return "port=" + server.port
                + " storage=" + (storage.embedded() ? "embedded:" + storage.dataDir.toAbsolutePath().normalize() : "postgresql")
                + " fanout=" + (storage.redisUrl.isPresent() ? "redis" : "local")
                + " agent=" + (agent.offline() ? "offline" : agent.provider.name().toLowerCase(java.util.Locale.ROOT))
                + " dev_login=" + auth.devLogin
                + " oidc=" + (oidc.providers.isEmpty() ? "off"
                        : String.join(",", oidc.providers.stream().map(OidcProvider::id).toList()))
                + " access_ttl=" + EnvReader.format(auth.accessTokenTtl)
                + " heartbeat=" + EnvReader.format(socket.heartbeatInterval)
                + " run_timeout=" + EnvReader.format(runs.timeout)
                + " budget=" + budget.limitUsd.map(usd -> usd.toPlainString() + "/" + budget.period.name()
                        .toLowerCase(java.util.Locale.ROOT)).orElse(budget.enabled() ? "per-user" : "off")
                + (tools.mcpServers.isEmpty() ? "" : " mcp=" + String.join(",", tools.mcpServers.stream()
                        .map(McpServer::id).toList()))
                + " log=" + logging.format.name().toLowerCase(java.util.Locale.ROOT)
                + " version=" + server.version + " revision=" + server.revision;
    }
}
