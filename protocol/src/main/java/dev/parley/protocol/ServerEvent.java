package dev.parley.protocol;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
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
        ObjectNode node = head();
        node.set("data", data);
        node.set("payload", data);
        return node;
    }

    /** The envelope's fields before {@code data}. */
    private ObjectNode head() {
        ObjectNode node = Json.object();
        node.put("type", type);
        node.put("timestamp", formatTimestamp(timestamp));
        if (runId != null) {
            node.put("thread_id", threadId);
            node.put("run_id", runId);
            node.put("seq", seq);
            node.put("agent_name", agentName);
        }
        return node;
    }

    public String toWire() {
        return write().wire();
    }

    /**
     * The frame as {@link #toJson()} has it, and the same without the {@code payload} mirror (what an event log
     * keeps: half the bytes), with {@code data} written once for both.
     */
    public Written write() {
        String open = Json.write(head());
        String written = Json.write(data);
        String body = open.substring(0, open.length() - 1) + ",\"data\":" + written;
        return new Written(body + ",\"payload\":" + written + "}", body + "}");
    }

    /** A frame written by {@link #write()}: {@code wire} for sockets, {@code compact} without the mirror. */
    public record Written(String wire, String compact) {
    }

    /**
     * The frame for sockets from one that {@link #write()} wrote without the {@code payload} mirror: {@code data}
     * copied byte for byte (numbers keep the form they were written in). A frame that already has the mirror, or is
     * not of that shape, is returned as it is.
     */
    public static String wireFromCompact(String compact) {
        try (JsonParser parser = Json.MAPPER.getFactory().createParser(compact)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return compact;
            }
            int dataStart = -1;
            int dataEnd = -1;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if ("payload".equals(name)) {
                    return compact;
                }
                if ("data".equals(name) && value == JsonToken.START_OBJECT) {
                    dataStart = (int) parser.currentTokenLocation().getCharOffset();
                    parser.skipChildren();
                    dataEnd = (int) parser.currentLocation().getCharOffset();
                } else {
                    parser.skipChildren();
                }
            }
            if (dataStart < 0 || parser.currentToken() != JsonToken.END_OBJECT) {
                return compact;
            }
            int close = (int) parser.currentTokenLocation().getCharOffset();
            return compact.substring(0, close) + ",\"payload\":" + compact.substring(dataStart, dataEnd)
                    + compact.substring(close);
        } catch (IOException e) {
            return compact;
        }
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
