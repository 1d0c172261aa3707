package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.RemoteTool;
import dev.parley.server.agent.RemoteToolException;
import dev.parley.server.agent.RemoteTools;
import dev.parley.server.agent.ToolPolicy;
import dev.parley.server.config.Config;
import dev.parley.server.health.HealthCheck;
import dev.parley.server.observe.Metrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The MCP servers of the deployment and their tools, as {@link RemoteTools}: each server's tool list is discovered
 * ({@code tools/list}) in the background at start, kept, and discovered again when the server says it changed
 * ({@code notifications/tools/list_changed}) and, while the server is unavailable, after 1 s, 2 s, 4 s... and then
 * every {@link #RETRY_EVERY}. A
 * server that is down is logged once when it goes down and once when it is back, shows as {@code unavailable} in
 * {@link #servers()} and readiness, and fails only the calls of its own tools.
 *
 * <p>Thread-safe: each {@link Server}'s state is volatile and replaced whole.
 */
public final class McpServers implements RemoteTools, AutoCloseable {
    /** The longest wait between two discoveries of a server that is down; the first retry comes after a second. */
    static final Duration RETRY_EVERY = Duration.ofSeconds(15);
    static final Duration FIRST_RETRY = Duration.ofSeconds(1);
    /** The most pages of {@code tools/list} read from one server, so that a server repeating its cursor ends. */
    static final int MAX_PAGES = 20;
    /** What providers accept as a function name (OpenAI's rule, the strictest). */
    private static final Pattern MODEL_TOOL_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    private static final Logger LOG = LoggerFactory.getLogger(McpServers.class);

    /** How a server stands: {@code connecting} until its first discovery ends. */
    public enum Status { CONNECTING, CONNECTED, UNAVAILABLE;

        public String wire() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final class Server {
        final Config.McpServer config;
        final McpClient client;
        final AtomicBoolean discovering = new AtomicBoolean();
        volatile Status status = Status.CONNECTING;
        volatile long retryAfterMillis = FIRST_RETRY.toMillis(); // doubles while it stays down, up to RETRY_EVERY
        volatile long nextAttemptNanos;
        volatile List<RemoteTool> tools = List.of();

        Server(Config.McpServer config, McpClient client) {
            this.config = config;
            this.client = client;
        }
    }

    private final Map<String, Server> servers = new LinkedHashMap<>();
    private final ToolPolicy policy;
    private final McpCredentials credentials; // null when no server takes users' credentials
    private final Metrics metrics;
    private final ScheduledExecutorService scheduler;
    private volatile List<RemoteTool> all = List.of();
    private volatile Map<String, RemoteTool> byName = Map.of();

    private McpServers(List<Config.McpServer> configs, ToolPolicy policy, String version, McpCredentials credentials,
                       Metrics metrics) {
        this.policy = policy;
        this.credentials = credentials;
        this.metrics = metrics;
        for (Config.McpServer config : configs) {
            Server[] holder = new Server[1];
            Runnable changed = () -> discoverLater(holder[0]);
            holder[0] = new Server(config, config.transport() == Config.McpTransport.STDIO
                    ? new McpStdioClient(config, version, changed) : new McpHttpClient(config, version, changed));
            servers.put(config.id(), holder[0]);
        }
        // Its own thread, not the shared housekeeping one: discovering a server's tools can wait on that server for as
        // long as its timeout, which would hold up every purge and heartbeat behind it.
        this.scheduler = configs.isEmpty() ? null : Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("parley-mcp").factory());
    }

    /**
     * Starts discovering the servers' tools in the background; with none configured, does nothing at all.
     * {@code credentials}: where users' own credentials are kept, required when a server's auth mode is
     * {@code user_secret} (null otherwise).
     */
    public static McpServers start(List<Config.McpServer> configs, ToolPolicy policy, String version,
                                   McpCredentials credentials, Metrics metrics) {
        if (credentials == null && configs.stream().anyMatch(McpServers::takesUserCredentials)) {
            throw new IllegalArgumentException("a user_secret MCP server needs the credential store");
        }
        McpServers mcp = new McpServers(configs, policy, version, credentials, metrics);
        if (mcp.scheduler != null) {
            metrics.gauge("parley_mcp_servers_unavailable", "Configured MCP servers this instance cannot reach now.",
                    () -> mcp.servers.values().stream().filter(server -> server.status != Status.CONNECTED).count());
            mcp.servers.values().forEach(mcp::discoverLater);
            mcp.scheduler.scheduleWithFixedDelay(mcp::retryUnavailable, FIRST_RETRY.toMillis(), FIRST_RETRY.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        return mcp;
    }

    public boolean isEmpty() {
        return servers.isEmpty();
    }

    @Override
    public List<RemoteTool> tools() {
        return all;
    }

    @Override
    public Optional<RemoteTool> find(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    private static boolean takesUserCredentials(Config.McpServer server) {
        return server.authMode() == Config.McpAuthMode.USER_SECRET;
    }

    @Override
    public Optional<JsonNode> refusal(RemoteTool tool, String userId) {
        Server server = servers.get(tool.server());
        if (server == null || !takesUserCredentials(server.config)
                || credentials.find(userId, server.config.id()).isPresent()) {
            return Optional.empty();
        }
        return Optional.of(authRequired(server.config.id()));
    }

    private static JsonNode authRequired(String serverId) {
        return Json.object().put("error", "mcp_auth_required").put("server", serverId)
                .put("message", "Store your credential for the MCP server '" + serverId + "' first (PUT "
                        + "/api/mcp/servers/" + serverId + "/credentials).");
    }

    @Override
    public JsonNode call(RemoteTool tool, String userId, JsonNode arguments) throws InterruptedException {
        String outcome = "cancelled";
        try {
            JsonNode result = callOnce(tool, userId, arguments);
            outcome = "success";
            return result;
        } catch (RemoteToolException e) {
            outcome = e.reason();
            throw e;
        } finally {
            metrics.increment("parley_mcp_calls_total", "Calls of MCP tools, by server and outcome.",
                    "server", tool.server(), "outcome", outcome);
        }
    }

    private JsonNode callOnce(RemoteTool tool, String userId, JsonNode arguments) throws InterruptedException {
        Server server = servers.get(tool.server());
        if (server == null) {
            throw new IllegalStateException("no MCP server " + tool.server());
        }
        McpClient.Credential credential = null;
        if (takesUserCredentials(server.config)) {
            String token = credentials.find(userId, server.config.id()).orElseThrow(() -> new RemoteToolException(
                    "mcp_auth_required", "Store your credential for the MCP server '" + server.config.id()
                    + "' first."));
            String[] header = McpHttpClient.header(server.config, token);
            credential = new McpClient.Credential(userId, header[0], header[1]);
        }
        ObjectNode params = Json.object();
        params.put("name", tool.toolName());
        params.set("arguments", arguments.isObject() ? arguments : Json.object());
        JsonNode result;
        try {
            result = server.client.request("tools/call", params, server.config.timeout(), credential);
        } catch (McpClient.AuthRefused e) {
            if (credential != null) {
                throw new RemoteToolException("mcp_auth_required", "The MCP server '" + server.config.id()
                        + "' refused your credential; store a new one.");
            }
            markUnavailable(server, e.getMessage());
            throw new RemoteToolException("mcp_unavailable", "The MCP server '" + server.config.id()
                    + "' refused this deployment's credential.");
        } catch (McpClient.Unavailable e) {
            markUnavailable(server, e.getMessage());
            throw new RemoteToolException("mcp_unavailable", "The MCP server '" + server.config.id()
                    + "' is unavailable.");
        } catch (McpClient.TimedOut e) {
            throw new RemoteToolException("timeout", "The MCP server '" + server.config.id() + "' did not answer within "
                    + server.config.timeout().toMillis() + " ms.");
        } catch (McpClient.RpcError e) {
            throw new RemoteToolException("tool_error", "The MCP server '" + server.config.id() + "' refused the call: "
                    + truncate(e.getMessage()));
        }
        if (server.status != Status.CONNECTED) {
            discoverLater(server); // it answers again: its list may have changed meanwhile
        }
        if (result.path("isError").asBoolean(false)) {
            throw new RemoteToolException("tool_error", truncate(text(result.path("content"))));
        }
        return render(result);
    }

    /** The result as the model and {@code tool_completed} get it: structured content when given, else the content. */
    private static JsonNode render(JsonNode result) {
        if (result.path("structuredContent").isObject()) {
            return result.get("structuredContent");
        }
        ObjectNode rendered = Json.object();
        JsonNode content = result.path("content");
        boolean textOnly = true;
        for (JsonNode item : content) {
            textOnly &= "text".equals(item.path("type").asText());
        }
        if (textOnly) {
            rendered.put("text", text(content));
        } else {
            rendered.set("content", content);
        }
        return rendered;
    }

    private static String text(JsonNode content) {
        StringBuilder text = new StringBuilder();
        for (JsonNode item : content) {
            if ("text".equals(item.path("type").asText())) {
                if (!text.isEmpty()) {
                    text.append('\n');
                }
                text.append(item.path("text").asText());
            }
        }
        return text.toString();
    }

    private static String truncate(String message) {
        return message == null ? "" : message.length() > 500 ? message.substring(0, 500) + "…" : message;
    }

    /**
     * The servers as {@code GET /api/mcp/servers} shows them to a user: status ({@code needs_auth} for a server that
     * takes users' credentials while this user has none), whether it takes users' credentials, and tools, each with its
     * policy.
     */
    public JsonNode servers(String userId) {
        ObjectNode body = Json.object();
        ArrayNode list = body.putArray("servers");
        for (Server server : servers.values()) {
            ObjectNode entry = list.addObject();
            entry.put("id", server.config.id());
            String status = server.status == Status.CONNECTED ? "connected" : "unavailable";
            if (takesUserCredentials(server.config) && credentials.find(userId, server.config.id()).isEmpty()) {
                status = "needs_auth";
            }
            entry.put("status", status);
            entry.put("user_credential", takesUserCredentials(server.config));
            ArrayNode tools = entry.putArray("tools");
            for (RemoteTool tool : server.tools) {
                ObjectNode view = tools.addObject();
                view.put("name", tool.toolName());
                view.put("description", tool.description());
                view.put("policy", policy.forRemote(tool).name().toLowerCase(Locale.ROOT));
            }
        }
        return body;
    }

    /**
     * Stores the user's own credential for a {@code user_secret} server.
     *
     * @throws ProtocolException {@code not_found} for a server that is not configured or takes no user credential,
     *                           {@code invalid_request} for a token that cannot be sent in a header
     */
    public void putCredential(String userId, String serverId, String token) {
        requireUserSecretServer(serverId);
        if (token == null || token.isBlank() || token.length() > 8192 || !token.chars().allMatch(c -> c >= 0x20
                && c < 0x7f)) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'token' must be 1 to 8192 printable"
                    + " ASCII characters.");
        }
        credentials.put(userId, serverId, token);
        LOG.info("User {} stored a credential for MCP server {}", userId, serverId);
    }

    /** Removes the user's credential for a {@code user_secret} server; nothing stored is fine. */
    public void deleteCredential(String userId, String serverId) {
        requireUserSecretServer(serverId);
        credentials.delete(userId, serverId);
        LOG.info("User {} removed the credential for MCP server {}", userId, serverId);
    }

    private void requireUserSecretServer(String serverId) {
        Server server = serverId == null ? null : servers.get(serverId);
        if (server == null || !takesUserCredentials(server.config)) {
            throw new ProtocolException(ErrorCode.NOT_FOUND, "There is no MCP server of that id that takes a user's"
                    + " credential.");
        }
    }

    /**
     * Readiness's {@code mcp} check: it shows which servers are unavailable, and stays up, since a server that is down
     * fails only the calls of its own tools. None when no server is configured.
     */
    public Optional<HealthCheck> healthCheck() {
        return isEmpty() ? Optional.empty() : Optional.of(HealthCheck.reported("mcp", this::describe));
    }

    /** For readiness: {@code connected}, or {@code unavailable:<ids>} naming the servers that are not. */
    public String describe() {
        List<String> down = servers.values().stream().filter(server -> server.status != Status.CONNECTED)
                .map(server -> server.config.id()).toList();
        return down.isEmpty() ? "connected" : "unavailable:" + String.join(",", down);
    }

    private void discoverLater(Server server) {
        if (scheduler == null || !server.discovering.compareAndSet(false, true)) {
            return;
        }
        Thread.ofVirtual().name("parley-mcp-discover-" + server.config.id()).start(() -> {
            try {
                discover(server);
            } finally {
                server.discovering.set(false);
            }
        });
    }

    private void retryUnavailable() {
        long now = System.nanoTime();
        for (Server server : servers.values()) {
            if (server.status != Status.CONNECTED && now - server.nextAttemptNanos >= 0) {
                discoverLater(server);
            }
        }
    }

    private void discover(Server server) {
        List<RemoteTool> found = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        try {
            do {
                ObjectNode params = Json.object();
                if (cursor != null) {
                    params.put("cursor", cursor);
                }
                JsonNode result = server.client.request("tools/list", params, server.config.timeout());
                for (JsonNode tool : result.path("tools")) {
                    toRemoteTool(server.config, tool).ifPresent(found::add);
                }
                cursor = result.path("nextCursor").isTextual() ? result.get("nextCursor").asText() : null;
                pages++;
            } while (cursor != null && pages < MAX_PAGES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (McpClient.Unavailable | McpClient.TimedOut | McpClient.RpcError | McpClient.AuthRefused e) {
            markUnavailable(server, e.getMessage());
            return;
        }
        server.tools = List.copyOf(found);
        Status before = server.status;
        server.status = Status.CONNECTED;
        server.retryAfterMillis = FIRST_RETRY.toMillis();
        republish();
        if (before == Status.UNAVAILABLE) {
            LOG.info("MCP server {} is available again with {} tool(s)", server.config.id(), found.size());
        } else if (before == Status.CONNECTING) {
            LOG.info("MCP server {} offers {} tool(s): {}", server.config.id(), found.size(),
                    String.join(", ", found.stream().map(RemoteTool::toolName).toList()));
        } else {
            LOG.info("MCP server {} changed its tools; now {} tool(s)", server.config.id(), found.size());
        }
    }

    /** Marks a server down; logged once per outage. Its known tools stay offered (a call reports the outage). */
    private void markUnavailable(Server server, String why) {
        Status before = server.status;
        server.status = Status.UNAVAILABLE;
        long wait = server.retryAfterMillis;
        server.nextAttemptNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait);
        server.retryAfterMillis = Math.min(RETRY_EVERY.toMillis(), wait * 2);
        if (before != Status.UNAVAILABLE) {
            LOG.warn("MCP server {} is unavailable: {}; its tools fail until it is back (tried again after 1 s, then"
                    + " less often, at least every {} s)", server.config.id(), why, RETRY_EVERY.toSeconds());
        }
    }

    private Optional<RemoteTool> toRemoteTool(Config.McpServer config, JsonNode tool) {
        String name = tool.path("name").asText("");
        if (name.isEmpty() || !allowed(config, name)) {
            return Optional.empty();
        }
        String fullName = config.id() + "__" + name;
        if (!MODEL_TOOL_NAME.matcher(fullName).matches()) {
            LOG.warn("MCP server {}: the tool '{}' is left out: '{}' is not a name models accept (letters, digits, _"
                    + " and -, at most 64)", config.id(), truncate(name), truncate(fullName));
            return Optional.empty();
        }
        String description = tool.path("description").asText(tool.path("title").asText(name));
        ToolSpecification specification = ToolSpecification.builder()
                .name(fullName)
                .description(description)
                .parameters(McpSchemas.toObjectSchema(tool.get("inputSchema")))
                .build();
        boolean readOnly = tool.path("annotations").path("readOnlyHint").asBoolean(false);
        return Optional.of(new RemoteTool(fullName, config.id(), name, description, specification, readOnly));
    }

    /** Whether the server's {@code allow_tools} and {@code deny_tools} let the model see the tool {@code name}. */
    static boolean allowed(Config.McpServer config, String name) {
        if (!config.allowTools().isEmpty()
                && config.allowTools().stream().noneMatch(glob -> ToolPolicy.globMatches(glob, name))) {
            return false;
        }
        return config.denyTools().stream().noneMatch(glob -> ToolPolicy.globMatches(glob, name));
    }

    private void republish() {
        List<RemoteTool> tools = new ArrayList<>();
        Map<String, RemoteTool> names = new LinkedHashMap<>();
        for (Server server : servers.values()) {
            for (RemoteTool tool : server.tools) {
                tools.add(tool);
                names.put(tool.name(), tool);
            }
        }
        all = List.copyOf(tools);
        byName = Map.copyOf(names);
    }

    @Override
    public void close() {
        if (scheduler != null) {
            scheduler.shutdownNow();
        }
        servers.values().forEach(server -> server.client.close());
    }
}
