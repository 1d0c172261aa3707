package dev.parley.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ServerEventTest {
    private static ServerEvent completed() {
        ObjectNode data = Json.object();
        data.put("status", "completed");
        data.put("final_response", "Costs \"fell\" by 12 %\n\u00e9\u4e2d\ud83d\ude00 {\"data\":1} }");
        data.putObject("usage").put("input_tokens", 12).put("cost_usd", new BigDecimal("0.0005"))
                .put("ratio", 5.0E-4);
        data.putArray("rows").add(1).addObject().put("payload", "not the mirror");
        return new ServerEvent(EventType.AGENT_COMPLETED, Instant.parse("2026-12-06T10:00:00.123Z"), data,
                "thread-1", "run-1", 8, "parley");
    }

    @Test
    void theFrameCarriesDataOnlyAndTheMirrorCopiesItByteForByte() {
        ServerEvent event = completed();
        String wire = event.toWire();

        String written = Json.write(event.data());
        assertFalse(Json.parseObject(wire).has("payload"));
        assertTrue(wire.endsWith(",\"data\":" + written + "}"), wire);
        String mirrored = ServerEvent.withPayloadMirror(wire);
        ObjectNode both = Json.parseObject(mirrored);
        assertEquals(both.get("data"), both.get("payload"));
        assertEquals(wire.substring(0, wire.length() - 1) + ",\"payload\":" + written + "}", mirrored);
    }

    @Test
    void aFrameThatHasTheMirrorOrIsNotAnEventIsLeftAsItIs() {
        String mirrored = ServerEvent.withPayloadMirror(completed().toWire());

        assertEquals(mirrored, ServerEvent.withPayloadMirror(mirrored));
        assertEquals("{\"type\":\"x\"}", ServerEvent.withPayloadMirror("{\"type\":\"x\"}"));
        assertEquals("not json", ServerEvent.withPayloadMirror("not json"));
    }

    @Test
    void anEventOutsideARunHasNoRunFields() {
        String wire = ServerEvent.of("pong", Instant.EPOCH, Json.object().put("a", 1)).toWire();

        assertEquals("{\"type\":\"pong\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{\"a\":1}}", wire);
        assertEquals("{\"type\":\"pong\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{\"a\":1},"
                + "\"payload\":{\"a\":1}}", ServerEvent.withPayloadMirror(wire));
    }
}
