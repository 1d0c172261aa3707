package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.mcp.McpClient.RpcError;

/**
 * The JSON-RPC 2.0 messages an MCP client sends and the reading of what it gets back, the same over every transport
 * ({@link McpHttpClient}, {@link McpStdioClient}).
 */
final class JsonRpc {
    private JsonRpc() {
    }

    /** A request that expects the response with the same {@code id}; {@code params} may be null. */
    static ObjectNode request(long id, String method, JsonNode params) {
        ObjectNode body = Json.object();
        body.put("jsonrpc", "2.0");
        body.put("id", id);
        body.put("method", method);
        if (params != null) {
            body.set("params", params);
        }
        return body;
    }

    /** A notification: no {@code id}, no response; {@code params} may be null. */
    static ObjectNode notification(String method, JsonNode params) {
        ObjectNode body = Json.object();
        body.put("jsonrpc", "2.0");
        body.put("method", method);
        if (params != null) {
            body.set("params", params);
        }
        return body;
    }

    /** Tells the server that request {@code id} is abandoned, and why. */
    static ObjectNode cancelled(long id, String reason) {
        return notification("notifications/cancelled", Json.object().put("requestId", id).put("reason", reason));
    }

    /** The parameters of {@code initialize}: the protocol version asked for and this client's name and version. */
    static ObjectNode initializeParams(String clientVersion) {
        ObjectNode params = Json.object();
        params.put("protocolVersion", McpClient.PROTOCOL_VERSION);
        params.set("capabilities", Json.object());
        params.set("clientInfo", Json.object().put("name", "parley").put("version", clientVersion));
        return params;
    }

    /** Whether {@code message} is a response (it has an id and no method), not a request or notification. */
    static boolean isResponse(JsonNode message) {
        return message.has("id") && !message.has("method");
    }

    /** Whether {@code message} is the server's announcement that its list of tools changed. */
    static boolean announcesToolsChanged(JsonNode message) {
        return "notifications/tools/list_changed".equals(message.path("method").asText());
    }

    /** A response's {@code result}; its {@code error}, if it has one, as {@link RpcError}. */
    static JsonNode result(JsonNode response) throws RpcError {
        if (response.has("error")) {
            JsonNode error = response.get("error");
            throw new RpcError(error.path("message").asText("error " + error.path("code").asText()));
        }
        return response.path("result");
    }
}
