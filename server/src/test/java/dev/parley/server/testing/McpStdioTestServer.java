package dev.parley.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An MCP server over stdio for tests, run as a process of its own: one JSON-RPC message per line on standard input
 * and output. Tools: {@code shout} (read-only: its text in capitals), {@code environment} (the names of its
 * environment variables) and {@code wait} (answers once told that the request is cancelled). Each cancellation it is
 * told of is appended to the file named by its first argument.
 */
public final class McpStdioTestServer {
    private static final PrintStream OUT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    private static final Set<Long> CANCELLED = ConcurrentHashMap.newKeySet();

    private McpStdioTestServer() {
    }

    /** The command line that runs this server with the test's own JVM and class path. */
    public static List<String> command(Path cancellations) {
        String java = ProcessHandle.current().info().command().orElse("java");
        return List.of(java, "-cp", System.getProperty("java.class.path"), McpStdioTestServer.class.getName(),
                cancellations.toString());
    }

    public static void main(String[] args) throws IOException {
        Path cancellations = Path.of(args[0]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            JsonNode message = Json.parse(line);
            String method = message.path("method").asText();
            if (!message.has("id")) {
                if ("notifications/cancelled".equals(method)) {
                    long id = message.path("params").path("requestId").asLong();
                    synchronized (CANCELLED) {
                        CANCELLED.add(id);
                        CANCELLED.notifyAll();
                    }
                    Files.writeString(cancellations, id + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                }
                continue;
            }
            JsonNode id = message.get("id");
            switch (method) {
                case "initialize" -> {
                    ObjectNode result = Json.object();
                    result.put("protocolVersion", message.path("params").path("protocolVersion").asText());
                    result.set("capabilities", Json.object().set("tools", Json.object()));
                    result.set("serverInfo", Json.object().put("name", "stdio-test").put("version", "1"));
                    answer(id, result);
                }
                case "tools/list" -> {
                    ObjectNode result = Json.object();
                    ArrayNode tools = result.putArray("tools");
                    for (String name : List.of("shout", "environment", "wait")) {
                        ObjectNode tool = tools.addObject().put("name", name).put("description", "The " + name + " tool.");
                        ObjectNode schema = tool.putObject("inputSchema").put("type", "object");
                        schema.putObject("properties").putObject("text").put("type", "string");
                        tool.putObject("annotations").put("readOnlyHint", true);
                    }
                    answer(id, result);
                }
                case "tools/call" -> {
                    String tool = message.path("params").path("name").asText();
                    String text = message.path("params").path("arguments").path("text").asText();
                    switch (tool) {
                        case "shout" -> answer(id, text(text.toUpperCase(java.util.Locale.ROOT)));
                        case "environment" -> answer(id, text(String.join(",", System.getenv().keySet())));
                        case "wait" -> Thread.ofPlatform().daemon().start(() -> {
                            long deadline = System.nanoTime() + 20_000_000_000L;
                            synchronized (CANCELLED) {
                                while (!CANCELLED.contains(id.asLong()) && System.nanoTime() < deadline) {
                                    try {
                                        CANCELLED.wait(100);
                                    } catch (InterruptedException e) {
                                        return;
                                    }
                                }
                            }
                            answer(id, text("waited"));
                        });
                        default -> error(id, "Unknown tool: " + tool);
                    }
                }
                default -> error(id, "Method not found: " + method);
            }
        }
    }

    private static ObjectNode text(String text) {
        ObjectNode result = Json.object();
        result.putArray("content").addObject().put("type", "text").put("text", text);
        return result;
    }

    private static void answer(JsonNode id, JsonNode result) {
        ObjectNode response = Json.object().put("jsonrpc", "2.0");
        response.set("id", id);
        response.set("result", result);
        synchronized (OUT) {
            OUT.println(Json.write(response));
        }
    }

    private static void error(JsonNode id, String message) {
        ObjectNode response = Json.object().put("jsonrpc", "2.0");
        response.set("id", id);
        response.set("error", Json.object().put("code", -32601).put("message", message));
        synchronized (OUT) {
            OUT.println(Json.write(response));
        }
    }
}
