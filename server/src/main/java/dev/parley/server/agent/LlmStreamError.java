package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;
import java.util.Set;

/**
 * An error the provider sent inside a stream that had already started with 200: OpenAI and Gemini send
 * {@code {"error":{...}}} as a data line, Anthropic an {@code error} event, Ollama an {@code {"error":"..."}} line.
 * Whether it is worth retrying follows the provider's error type or status.
 */
final class LlmStreamError extends RuntimeException {
    private static final Set<String> TRANSIENT = Set.of("server_error", "api_error", "overloaded_error",
            "rate_limit_error", "rate_limit_exceeded", "service_unavailable_error", "server_is_overloaded", "timeout",
            "internal", "unavailable", "resource_exhausted", "deadline_exceeded", "aborted", "requests", "tokens");

    private final String kind;
    private final boolean retryable;

    private LlmStreamError(String kind, String message, boolean retryable) {
        super(message, null, false, false);
        this.kind = kind;
        this.retryable = retryable;
    }

    /** Reads the error out of an event's data, or returns null when the data carries none. */
    static LlmStreamError from(JsonNode data) {
        JsonNode error = data.get("error");
        if (error == null || error.isNull()) {
            return null;
        }
        if (error.isTextual()) {
            return new LlmStreamError("error", error.asText(), true);
        }
        String kind = firstText(error, "type", "status", "code");
        int code = error.path("code").isInt() ? error.path("code").asInt() : 0;
        boolean retryable = (kind != null && TRANSIENT.contains(kind.toLowerCase(Locale.ROOT)))
                || code == 429 || code >= 500 || (kind == null && code == 0);
        return new LlmStreamError(kind == null ? "error" : kind, error.path("message").asText(""), retryable);
    }

    private static String firstText(JsonNode node, String... names) {
        for (String name : names) {
            JsonNode value = node.get(name);
            if (value != null && value.isTextual() && !value.asText().isBlank()) {
                return value.asText();
            }
        }
        return null;
    }

    String kind() {
        return kind;
    }

    boolean retryable() {
        return retryable;
    }
}
