package dev.parley.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Model Context Protocol server over Streamable HTTP (2025-06-18) on the JDK's HTTP server, for tests: sessions
 * ({@code initialize} hands out an {@code Mcp-Session-Id}; a request with an unknown one gets 404, as after a server
 * restart), {@code tools/list} and {@code tools/call}, answers as one JSON body or as an event stream, and
 * notifications answered 202. Its tools: {@code lookup} (read-only, one JSON answer), {@code write_note} (not read-only,
 * answered on an event stream with a notification before the response, and held there while {@link #holdWrites} is
 * in force), {@code fail} (a tool error), {@code garbage}
 * (an answer that is not JSON) and {@code slow}
 * (answers only when told that the request is cancelled, or after 20 s). A GET with a session opens the server's own
 * event stream, on which {@link #addToolAndAnnounce} sends {@code notifications/tools/list_changed}. It records the
 * calls and the cancellations.
 */
public final class McpTestServer implements AutoCloseable {
    /** One {@code tools/call} as received. */
    public record Call(String tool, JsonNode arguments, String authorization) {
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Set<String> sessions = ConcurrentHashMap.newKeySet();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final List<Long> cancelled = new CopyOnWriteArrayList<>();
    private final Map<Long, Object> slowCalls = new ConcurrentHashMap<>();
    private final AtomicInteger initializations = new AtomicInteger();
    private final Set<String> acceptedAuthorizations = ConcurrentHashMap.newKeySet();
    private final List<OutputStream> streams = new CopyOnWriteArrayList<>();
    private final List<String> extraTools = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);
    private volatile java.util.concurrent.CountDownLatch writes = new java.util.concurrent.CountDownLatch(0);

    public McpTestServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/mcp", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    /**
     * The app's settings for this server as {@code id} whose calls carry each user's own credential
     * ({@code user_secret}), with the key that seals the stored credentials.
     */
    public Map<String, String> userSecretSettings(String id) {
        return Map.of(
                "PARLEY_MCP_SERVERS", "[{\"id\":\"" + id + "\",\"url\":\"" + url() + "\",\"auth\":{\"mode\":\"user_secret\"}}]",
                "PARLEY_MCP_CREDENTIALS_KEY", Base64.getEncoder().encodeToString(new byte[] {
                        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}));
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/mcp";
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<Long> cancelledRequests() {
        return List.copyOf(cancelled);
    }

    /** From now on, a session must be opened with one of these Authorization values; others get 401. */
    public void requireAuthorization(Set<String> accepted) {
        acceptedAuthorizations.clear();
        acceptedAuthorizations.addAll(accepted);
    }

    public int initializations() {
        return initializations.get();
    }

    /**
     * From now on, a {@code write_note} call is recorded and its notification sent, and then its answer waits until
     * {@link #releaseWrites} (or the server closes, or 60 s pass): a destructive call caught while it runs.
     */
    public void holdWrites() {
        writes = new java.util.concurrent.CountDownLatch(1);
    }

    public void releaseWrites() {
        writes.countDown();
    }

    /** Forgets every session, as a restarted server would: the next request with an old id gets 404. */
    public void forgetSessions() {
        sessions.clear();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String session = exchange.getRequestHeaders().getFirst("Mcp-Session-Id");
            if ("DELETE".equals(method)) {
                sessions.remove(session);
                respond(exchange, 200, null);
                return;
            }
            if ("GET".equals(method)) {
                stream(exchange, session);
                return;
            }
            if (!"POST".equals(method)) {
                respond(exchange, 405, null);
                return;
            }
            String accept = exchange.getRequestHeaders().getFirst("Accept");
            if (accept == null || !accept.contains("application/json") || !accept.contains("text/event-stream")) {
                respond(exchange, 406, error(null, -32600, "Accept must list application/json and text/event-stream"));
                return;
            }
            JsonNode message = Json.parse(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            String rpc = message.path("method").asText();
            String authorization = exchange.getRequestHeaders().getFirst("Authorization");
            if ("tools/call".equals(rpc) && !acceptedAuthorizations.isEmpty()
                    && !acceptedAuthorizations.contains(authorization)) {
                respond(exchange, 401, error(message.get("id"), -32001, "Unauthorized"));
                return;
            }
            if ("initialize".equals(rpc)) {
                String id = UUID.randomUUID().toString();
                sessions.add(id);
                initializations.incrementAndGet();
                ObjectNode result = Json.object();
                result.put("protocolVersion", message.path("params").path("protocolVersion").asText());
                result.set("capabilities", Json.object().set("tools", Json.object().put("listChanged", true)));
                result.set("serverInfo", Json.object().put("name", "test-mcp").put("version", "1"));
                exchange.getResponseHeaders().add("Mcp-Session-Id", id);
                respond(exchange, 200, response(message.get("id"), result));
                return;
            }
            if (session == null) {
                respond(exchange, 400, error(message.get("id"), -32600, "Mcp-Session-Id is required"));
                return;
            }
            if (!sessions.contains(session)) {
                respond(exchange, 404, error(message.get("id"), -32001, "Session not found"));
                return;
            }
            if (!message.has("id")) {
                if ("notifications/cancelled".equals(rpc)) {
                    long requestId = message.path("params").path("requestId").asLong();
                    cancelled.add(requestId);
                    Object waiting = slowCalls.get(requestId);
                    if (waiting != null) {
                        synchronized (waiting) {
                            waiting.notifyAll();
                        }
                    }
                }
                respond(exchange, 202, null);
                return;
            }
            switch (rpc) {
                case "tools/list" -> respond(exchange, 200, response(message.get("id"), toolList()));
                case "tools/call" -> call(exchange, message, session);
                default -> respond(exchange, 200, error(message.get("id"), -32601, "Method not found: " + rpc));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The server's own stream of a session: held open until the server closes, carrying list_changed notices. */
    private void stream(HttpExchange exchange, String session) throws IOException, InterruptedException {
        if (session == null || !sessions.contains(session)) {
            respond(exchange, session == null ? 400 : 404, null);
            return;
        }
        exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        out.write(": open\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        streams.add(out);
        try {
            closing.await();
        } finally {
            streams.remove(out);
        }
    }

    /** Adds a tool and announces the change on every open stream; false when no stream is open. */
    public boolean addToolAndAnnounce(String name) {
        extraTools.add(name);
        ObjectNode notice = Json.object().put("jsonrpc", "2.0").put("method", "notifications/tools/list_changed");
        byte[] event = ("event: message\ndata: " + Json.write(notice) + "\n\n").getBytes(StandardCharsets.UTF_8);
        boolean sent = false;
        for (OutputStream out : streams) {
            try {
                synchronized (out) {
                    out.write(event);
                    out.flush();
                }
                sent = true;
            } catch (IOException gone) {
                streams.remove(out);
            }
        }
        return sent;
    }

    /** Whether a client holds the server's stream open. */
    public boolean streamOpen() {
        return !streams.isEmpty();
    }

    private void call(HttpExchange exchange, JsonNode message, String session) throws IOException, InterruptedException {
        String tool = message.path("params").path("name").asText();
        JsonNode arguments = message.path("params").path("arguments");
        calls.add(new Call(tool, arguments, exchange.getRequestHeaders().getFirst("Authorization")));
        JsonNode id = message.get("id");
        switch (tool) {
            case "lookup" -> respond(exchange, 200, response(id, text("found " + arguments.path("query").asText(), false)));
            case "write_note" -> {
                exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
                exchange.sendResponseHeaders(200, 0);
                OutputStream out = exchange.getResponseBody();
                ObjectNode progress = Json.object().put("jsonrpc", "2.0").put("method", "notifications/message");
                progress.set("params", Json.object().put("level", "info").put("data", "writing"));
                out.write(("event: message\ndata: " + Json.write(progress) + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                writes.await(60, TimeUnit.SECONDS);
                out.write(("event: message\ndata: " + Json.write(response(id, text("noted "
                        + arguments.path("text").asText(), false))) + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
            case "fail" -> respond(exchange, 200, response(id, text("the disk is full", true)));
            case "garbage" -> {
                byte[] html = "<html><body>Bad gateway</body></html>".getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, html.length);
                exchange.getResponseBody().write(html);
            }
            case "slow" -> {
                Object waiting = new Object();
                slowCalls.put(id.asLong(), waiting);
                synchronized (waiting) {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (!cancelled.contains(id.asLong()) && System.nanoTime() < deadline) {
                        waiting.wait(100);
                    }
                }
                respond(exchange, 200, response(id, text("slow done", false)));
            }
            default -> respond(exchange, 200, error(id, -32602, "Unknown tool: " + tool));
        }
    }

    private ObjectNode toolList() {
        ObjectNode result = Json.object();
        ArrayNode tools = result.putArray("tools");
        extraTools.forEach(name -> tools.add(tool(name, "Added later.", true, "input")));
        tools.add(tool("lookup", "Looks a word up.", true, "query"));
        tools.add(tool("write_note", "Writes a note.", false, "text"));
        tools.add(tool("fail", "Always fails.", true, "why"));
        tools.add(tool("slow", "Takes its time.", true, "what"));
        tools.add(tool("garbage", "Answers something that is not JSON.", true, "what"));
        return result;
    }

    private static ObjectNode tool(String name, String description, boolean readOnly, String argument) {
        ObjectNode tool = Json.object();
        tool.put("name", name);
        tool.put("description", description);
        ObjectNode schema = tool.putObject("inputSchema");
        schema.put("type", "object");
        schema.putObject("properties").putObject(argument).put("type", "string").put("description", "the " + argument);
        schema.putArray("required").add(argument);
        tool.putObject("annotations").put("readOnlyHint", readOnly);
        return tool;
    }

    private static ObjectNode text(String text, boolean isError) {
        ObjectNode result = Json.object();
        result.putArray("content").addObject().put("type", "text").put("text", text);
        result.put("isError", isError);
        return result;
    }

    private static ObjectNode response(JsonNode id, JsonNode result) {
        ObjectNode response = Json.object().put("jsonrpc", "2.0");
        response.set("id", id);
        response.set("result", result);
        return response;
    }

    private static ObjectNode error(JsonNode id, int code, String message) {
        ObjectNode response = Json.object().put("jsonrpc", "2.0");
        response.set("id", id);
        response.set("error", Json.object().put("code", code).put("message", message));
        return response;
    }

    private static void respond(HttpExchange exchange, int status, JsonNode body) throws IOException {
        if (body == null) {
            exchange.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = Json.write(body).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        closing.countDown();
        writes.countDown();
        server.stop(0);
        executor.shutdownNow();
    }
}
