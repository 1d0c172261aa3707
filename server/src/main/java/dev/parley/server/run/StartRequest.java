package dev.parley.server.run;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What a client asks a run to do: the user's text, the thread to add it to (null: a new thread), and the free-form
 * {@code context} and {@code settings} objects of {@code start_agent} (null when absent).
 */
public record StartRequest(String threadId, String userRequest, JsonNode context, JsonNode settings) {
}
