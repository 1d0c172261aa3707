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
 * other frames leave them null. {@link #toJson()} and {@link #toWire()} write the contract's envelope with
 * {@code data}; {@link #withPayloadMirror} adds the copy of {@code data} as {@code payload} that older readers look
 * for, for servers configured to send it.
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
        return node;
    }

    /** The frame's text: the envelope with {@code data}, the fields in the order {@link #toJson()} puts them. */
    public String toWire() {
        return Json.write(toJson());
    }

    /**
     * The frame with {@code data} mirrored as {@code payload}, copied byte for byte (numbers keep the form they were
     * written in), from one written by {@link #toWire()}. A frame that already has the mirror, or is not of that
     * shape, is returned as it is.
     */
    public static String withPayloadMirror(String wire) {
        try (JsonParser parser = Json.MAPPER.getFactory().createParser(wire)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return wire;
            }
            int dataStart = -1;
            int dataEnd = -1;
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if ("payload".equals(name)) {
                    return wire;
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
                return wire;
            }
            int close = (int) parser.currentTokenLocation().getCharOffset();
            return wire.substring(0, close) + ",\"payload\":" + wire.substring(dataStart, dataEnd)
                    + wire.substring(close);
        } catch (IOException e) {
            return wire;
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
