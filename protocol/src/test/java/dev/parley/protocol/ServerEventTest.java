package dev.parley.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
    void writeGivesTheWireFrameAndTheSameWithoutTheMirror() {
        ServerEvent event = completed();
        ServerEvent.Written written = event.write();

        assertEquals(Json.write(event.toJson()), written.wire());
        ObjectNode compact = Json.parseObject(written.compact());
        assertFalse(compact.has("payload"));
        assertEquals(Json.parseObject(written.wire()).get("data"), compact.get("data"));
    }

    @Test
    void theWireFrameComesBackByteForByteFromTheCompactOne() {
        ServerEvent.Written written = completed().write();

        assertEquals(written.wire(), ServerEvent.wireFromCompact(written.compact()));
    }

    @Test
    void aFrameThatHasTheMirrorOrIsNotAnEventIsLeftAsItIs() {
        String wire = completed().toWire();
        ObjectNode pong = Json.object().put("server_time", "now");

        assertEquals(wire, ServerEvent.wireFromCompact(wire));
        assertEquals(ServerEvent.of("pong", Instant.EPOCH, pong).toWire(),
                ServerEvent.wireFromCompact(ServerEvent.of("pong", Instant.EPOCH, pong).toWire()));
        assertEquals("{\"type\":\"x\"}", ServerEvent.wireFromCompact("{\"type\":\"x\"}"));
        assertEquals("not json", ServerEvent.wireFromCompact("not json"));
    }

    @Test
    void anEventOutsideARunHasNoRunFields() {
        ServerEvent.Written written = ServerEvent.of("pong", Instant.EPOCH, Json.object().put("a", 1)).write();

        assertEquals("{\"type\":\"pong\",\"timestamp\":\"1970-01-01T00:00:00.000Z\",\"data\":{\"a\":1}}",
                written.compact());
        assertEquals(written.wire(), ServerEvent.wireFromCompact(written.compact()));
    }
}
