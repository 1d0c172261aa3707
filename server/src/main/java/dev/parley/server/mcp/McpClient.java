package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/**
 * A client of one MCP server: JSON-RPC requests over the server's transport ({@link McpHttpClient} for Streamable
 * HTTP, {@link McpStdioClient} for a local process), each with a timeout; a request whose caller is interrupted or
 * that runs past its timeout is abandoned and the server is told with {@code notifications/cancelled}. The session is
 * initialised on first use and again when the server lost it.
 */
interface McpClient extends AutoCloseable {
    String PROTOCOL_VERSION = "2025-06-18";

    /** The server is unreachable or answered with something that is not MCP. */
    final class Unavailable extends Exception {
        Unavailable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The request ran past its timeout (it was cancelled at the server). */
    final class TimedOut extends Exception {
        TimedOut(String message) {
            super(message);
        }
    }

    /** The server answered the request with a JSON-RPC error. */
    final class RpcError extends Exception {
        RpcError(String message) {
            super(message);
        }
    }

    /** The server refused the credential (HTTP 401 or 403). */
    final class AuthRefused extends Exception {
        AuthRefused(String message) {
            super(message);
        }
    }

    /** A user's credential for a server: the header to send. */
    record Credential(String user, String header, String value) {
        String[] asHeader() {
            return new String[] {header, value};
        }
    }

    /** Sends a request on the deployment's own session and returns its {@code result}. */
    default JsonNode request(String method, JsonNode params, Duration timeout)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused {
        return request(method, params, timeout, null);
    }

    /** Sends a request on the session of {@code credential}'s user (null: the deployment's) and returns its result. */
    JsonNode request(String method, JsonNode params, Duration timeout, Credential credential)
            throws InterruptedException, Unavailable, TimedOut, RpcError, AuthRefused;

    /** Ends the sessions and frees the transport. */
    @Override
    void close();
}
