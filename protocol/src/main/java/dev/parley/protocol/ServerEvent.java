package dev.parley.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * A server-to-client frame. Run events carry {@code thread_id}, {@code run_id}, {@code seq} and {@code agent_name};
 * other frames leave them null. {@link #toJson()} writes the contract's envelope, with {@code data} mirrored as
 * {@code payload} for older readers.
 */
public record ServerEvent(String type, Instant timestamp, ObjectNode data, String threadId, String runId, long seq,
                          String agentName) {

    private static final DateTimeFormatter TIMESTAMP =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    public static ServerEvent of(String type, Instant timestamp, ObjectNode data) {
        return new ServerEvent(type, timestamp, data, null, null, 0, null);
    }

    public boolean isRunEvent() {
        return runId != null;
    }

    public static String formatTimestamp(Instant instant) {
        return TIMESTAMP.format(instant);
    }

    public ObjectNode toJson() {
        ObjectNode node = Json.object();
        node.put("type", type);
        node.put("timestamp", formatTimestamp(timestamp));
        if (runId != null) {
            node.put("thread_id", threadId);
            node.put("run_id", runId);
            node.put("seq", seq);
            node.put("agent_name", agentName);
        }
        node.set("data", data);
        node.set("payload", data);
        return node;
    }

    public String toWire() {
        return Json.write(toJson());
    }

    /** Reads a frame written by {@link #toWire()} (used by clients and tests). */
    public static ServerEvent fromJson(JsonNode node) {
        JsonNode data = node.has("data") ? node.get("data") : node.get("payload");
        return new ServerEvent(
                node.path("type").asText(),
                Instant.parse(node.path("timestamp").asText()),
                data instanceof ObjectNode object ? object : Json.object(),
                node.hasNonNull("thread_id") ? node.get("thread_id").asText() : null,
                node.hasNonNull("run_id") ? node.get("run_id").asText() : null,
                node.path("seq").asLong(0),
                node.hasNonNull("agent_name") ? node.get("agent_name").asText() : null);
    }
}
