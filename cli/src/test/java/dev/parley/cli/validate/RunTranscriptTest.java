package dev.parley.cli.validate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.Json;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The rules a run's events are held to, on hand-written event lists. */
class RunTranscriptTest {
    private static final String RUN = "run-1";

    private static Received event(long seq, String type, String data) {
        ObjectNode frame = Json.object().put("type", type).put("timestamp", "2025-01-01T00:00:00.000Z")
                .put("thread_id", "thread-1").put("run_id", RUN).put("agent_name", "cost_optimizer");
        if (seq > 0) {
            frame.put("seq", seq);
        }
        frame.set("data", Json.parse(data));
        return ParleySocket.read(Json.write(frame), 0);
    }

    private static List<Received> goodRun() {
        return new ArrayList<>(List.of(
                event(1, "agent_started", "{\"message_id\":\"m1\",\"user_request\":\"q\"}"),
                event(2, "agent_thinking", "{\"reasoning\":\"r\",\"step_number\":1}"),
                event(3, "tool_executing", "{\"tool_call_id\":\"c1\",\"tool_name\":\"t\",\"parameters\":{}}"),
                event(4, "tool_completed", "{\"tool_call_id\":\"c1\",\"tool_name\":\"t\",\"status\":\"success\"}"),
                event(5, "partial_result", "{\"delta\":\"a\"}"),
                event(6, "agent_completed", "{\"status\":\"completed\",\"final_response\":\"a\"}")));
    }

    @Test
    void aRunThatFollowsTheRulesHasNoViolations() {
        assertThat(RunTranscript.violations(goodRun(), RUN)).isEmpty();
        assertThat(RunTranscript.shape(goodRun())).isEqualTo(new RunTranscript.Shape(6, 1, 1, 1));
    }

    @Test
    void namesGapsDuplicatesAndDisorderInSeq() {
        List<Received> swapped = goodRun();
        swapped.add(1, swapped.remove(2));
        assertThat(RunTranscript.violations(swapped, RUN)).anySatisfy(v -> assertThat(v)
                .contains("seq in arrival order was [1, 3, 2, 4, 5, 6]", "out of order"));

        List<Received> gap = goodRun();
        gap.remove(1);
        assertThat(RunTranscript.violations(gap, RUN))
                .containsExactly("seq in arrival order was [1, 3, 4, 5, 6], expected 1..5; missing [2]");

        List<Received> duplicate = goodRun();
        duplicate.add(2, event(2, "agent_thinking", "{\"reasoning\":\"r\",\"step_number\":1}"));
        assertThat(RunTranscript.violations(duplicate, RUN)).anySatisfy(v -> assertThat(v).contains("duplicated [2]"));

        List<Received> unnumbered = goodRun();
        unnumbered.set(4, event(0, "partial_result", "{\"delta\":\"a\"}"));
        assertThat(RunTranscript.violations(unnumbered, RUN)).anySatisfy(v -> assertThat(v).contains("1 of 6 events have no seq"));
    }

    @Test
    void theTerminalEventMustBeLastAndTheStartFirst() {
        List<Received> late = goodRun();
        late.add(4, late.remove(5));
        assertThat(RunTranscript.violations(late, RUN))
                .anySatisfy(v -> assertThat(v).contains("agent_completed#6 was followed by [partial_result#5]"));

        List<Received> headless = goodRun();
        headless.removeFirst();
        assertThat(RunTranscript.violations(headless, RUN))
                .anySatisfy(v -> assertThat(v).contains("the first event was agent_thinking#2, expected agent_started"));

        List<Received> endless = goodRun();
        endless.removeLast();
        assertThat(RunTranscript.violations(endless, RUN)).contains("no agent_completed or agent_error ended the run");
    }

    @Test
    void everyToolCallIsAnsweredOnceUnderItsName() {
        List<Received> unanswered = goodRun();
        unanswered.remove(3);
        assertThat(RunTranscript.violations(unanswered, RUN)).contains("tool calls never completed: [c1]");

        List<Received> renamed = goodRun();
        renamed.set(3, event(4, "tool_completed", "{\"tool_call_id\":\"c1\",\"tool_name\":\"other\",\"status\":\"success\"}"));
        assertThat(RunTranscript.violations(renamed, RUN))
                .contains("tool_call_id c1 was announced as 't' but completed as 'other'");
    }

    @Test
    void mergingDropsRepeatsBySeqButNotConflictingEvents() {
        List<Received> both = new ArrayList<>(goodRun().subList(0, 3));
        both.addAll(goodRun().subList(1, 6));
        RunTranscript.Merged merged = RunTranscript.merge(both);
        assertThat(merged.problems()).isEmpty();
        assertThat(RunTranscript.violations(merged.events(), RUN)).isEmpty();

        List<Received> conflicting = goodRun();
        conflicting.add(event(5, "partial_result", "{\"delta\":\"b\"}"));
        assertThat(RunTranscript.merge(conflicting).problems())
                .anySatisfy(p -> assertThat(p).contains("two different events carry seq 5"));
    }

    @Test
    void percentilesUseTheNearestRank() {
        Percentiles five = Percentiles.ofMillis(List.of(5.0, 1.0, 4.0, 2.0, 3.0));
        assertThat(five).isEqualTo(new Percentiles(5, 1.0, 3.0, 5.0, 5.0));
        List<Double> hundred = new ArrayList<>();
        for (int i = 1; i <= 100; i++) {
            hundred.add((double) i);
        }
        assertThat(Percentiles.ofMillis(hundred)).isEqualTo(new Percentiles(100, 1.0, 50.0, 95.0, 100.0));
        assertThat(Percentiles.ofNanos(List.of(1_250_000L)).p50()).isEqualTo(1.3);
    }

    @Test
    void reportsNeverShowTokensTicketsOrPasswords() {
        String body = "{\"access_token\":\"abc\",\"refresh_token\":\"def\",\"password\":\"pw\","
                + "\"websocket_url\":\"wss://h/ws?ticket=t-123&x=1\",\"note\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig\"}";
        String shown = Frames.redact(body);
        assertThat(shown).doesNotContain("abc", "def", "\"pw\"", "t-123", "eyJhbGciOiJIUzI1NiJ9")
                .contains("\"access_token\":\"<redacted>\"", "ticket=<redacted>&x=1", "<jwt>");
    }
}
