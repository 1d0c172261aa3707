package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ApiResponse;
import dev.parley.client.ParleySocket;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.MessageType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/** The checks that run the agent: {@code golden_path}, {@code run_events}, {@code stop} and {@code resume}. */
final class RunChecks {
    /**
     * The question asked to exercise {@code stop}. It is the golden path's: the one question known to take the
     * agent's longest route (usage records, tools, a streamed answer), which gives the stop the most time to land.
     */
    static final String STOP_REQUEST = Target.GOLDEN_REQUEST;
    /** How soon after {@code stop_agent} the run must have ended ("within a few seconds"). */
    static final Duration STOP_LIMIT = Duration.ofSeconds(5);
    /**
     * The pause between agent steps that the stop and resume checks ask for ({@code settings.step_delay_ms}), so
     * that the stop and the dropped socket land while the run is going even on a fast server; a server that ignores
     * the setting (a language model agent) still gets the same checks, with whatever pace it has.
     */
    static final Duration PACED_STEP = Duration.ofMillis(400);

    private static final String ORDER_RULES = "the run's events in the protocol's order: agent_started first, "
            + "then thinking/tool pairs/partial results, one terminal event last, seq 1..n without gaps or duplicates, "
            + "one run_id and thread_id, tool_executing/tool_completed paired by tool_call_id";

    private RunChecks() {
    }

    /**
     * {@code golden_path}: sample usage loaded, {@code start_agent "Analyze my AI costs"}, the whole run in order,
     * then the stored question and answer read back over HTTP and the run marked completed.
     */
    static void goldenPath(Target target, Probe probe) {
        Account user = target.primary;
        ApiResponse sample = target.http.loadSampleUsage(user.accessToken());
        probe.measure("sample_http_ms", sample.elapsed().toMillis());
        probe.expect(sample.ok(), "POST /api/usage/sample answers 2xx",
                () -> sample.status() + " " + Frames.excerpt(sample.body()));

        try (ParleySocket socket = target.open(user)) {
            probe.measure("connect_ms", socket.handshakeTime().toMillis());
            awaitWelcome(probe, socket, target.timeout);
            RunCapture run = RunCapture.start(probe, socket, Target.GOLDEN_REQUEST, null, target.timeout);
            target.goldenRunId = run.runId();
            target.goldenThreadId = run.threadId();
            probe.measure("first_event_ms", run.firstEventMs());
            Received terminal = run.awaitTerminal(probe, target.timeout);
            probe.measure("completion_ms", run.completionMs());
            run.barrier(probe, target.timeout);

            List<Received> events = run.events();
            target.goldenEvents = events;
            RunTranscript.Shape shape = RunTranscript.shape(events);
            probe.measure("events", shape.events());
            probe.measure("thinking_events", shape.thinking());
            probe.measure("tool_calls", shape.toolCalls());
            probe.measure("partial_results", shape.partialResults());
            RunTranscript.violations(events, run.runId()).forEach(v -> probe.mismatch(ORDER_RULES, v));
            List<Received> foreign = run.foreign();
            probe.expect(foreign.isEmpty(), "only this run's events on the socket",
                    () -> "also " + Frames.summary(foreign));

            JsonNode started = run.started().event().data();
            probe.expect(started.path("user_request").asText("").equals(run.request()),
                    "agent_started.user_request is the question", () -> Frames.excerpt(run.started()));
            probe.expect(!started.path("message_id").asText("").isEmpty(),
                    "agent_started.message_id names the stored user message", () -> Frames.excerpt(run.started()));

            if (!terminal.type().equals(EventType.AGENT_COMPLETED)) {
                throw probe.fail("agent_completed with status \"completed\"", Frames.excerpt(terminal));
            }
            JsonNode completed = terminal.event().data();
            String finalResponse = completed.path("final_response").asText("");
            probe.expect(completed.path("status").asText("").equals("completed"),
                    "agent_completed.status \"completed\"", () -> "status " + completed.path("status"));
            probe.expect(!finalResponse.isEmpty(), "a non-empty final_response", () -> Frames.excerpt(terminal));
            probe.expect(!completed.path("message_id").asText("").isEmpty(),
                    "agent_completed.message_id names the stored answer", () -> Frames.excerpt(terminal));
            JsonNode usage = completed.path("usage");
            probe.expect(usage.path("input_tokens").isNumber() && usage.path("output_tokens").isNumber()
                            && usage.path("cost_usd").isNumber(),
                    "agent_completed.usage {input_tokens, output_tokens, cost_usd}", () -> "usage " + usage);
            probe.expect(completed.path("execution_time_ms").isNumber(), "agent_completed.execution_time_ms",
                    () -> Frames.excerpt(terminal));
            if (completed.path("execution_time_ms").isNumber()) {
                probe.measure("server_execution_time_ms", completed.path("execution_time_ms").asLong());
            }
            probe.measure("final_response_chars", finalResponse.length());
            if (shape.partialResults() > 0) {
                StringBuilder streamed = new StringBuilder();
                events.stream().filter(e -> e.type().equals(EventType.PARTIAL_RESULT))
                        .forEach(e -> streamed.append(e.event().data().path("delta").asText("")));
                probe.measure("partial_results_equal_final_response", streamed.toString().equals(finalResponse));
            }

            checkStoredTurn(target, probe, user, run, started.path("message_id").asText(""),
                    completed.path("message_id").asText(""), finalResponse);
            ApiResponse stored = target.http.run(user.accessToken(), run.runId());
            probe.measure("run_http_ms", stored.elapsed().toMillis());
            probe.expect(stored.status() == 200 && stored.json().path("status").asText("").equals("completed")
                            && stored.json().path("thread_id").asText("").equals(run.threadId()),
                    "GET /api/runs/{id} answers 200 with status \"completed\" and the run's thread_id",
                    () -> stored.status() + " " + Frames.excerpt(stored.body()));
        }
    }

    private static void checkStoredTurn(Target target, Probe probe, Account user, RunCapture run, String userMessageId,
                                        String answerMessageId, String finalResponse) {
        ApiResponse answer = target.http.messages(user.accessToken(), run.threadId());
        probe.measure("messages_http_ms", answer.elapsed().toMillis());
        if (answer.status() != 200) {
            throw probe.fail("GET /api/threads/{id}/messages answers 200",
                    answer.status() + " " + Frames.excerpt(answer.body()));
        }
        JsonNode messages = answer.json().path("messages");
        int question = -1;
        int reply = -1;
        for (int i = 0; i < messages.size(); i++) {
            JsonNode message = messages.get(i);
            String role = message.path("role").asText("");
            if (role.equals("user") && message.path("content").asText("").equals(run.request())) {
                question = i;
                probe.expect(userMessageId.isEmpty() || message.path("id").asText("").equals(userMessageId),
                        "the stored question has the id agent_started named",
                        () -> "id " + message.path("id") + ", agent_started said '" + userMessageId + "'");
            } else if (role.equals("assistant") && run.runId().equals(message.path("run_id").asText(""))) {
                reply = i;
                probe.expect(message.path("content").asText("").equals(finalResponse),
                        "the stored answer's content equals final_response",
                        () -> "content " + Frames.excerpt(message.path("content").asText("")) + " vs final_response "
                                + Frames.excerpt(finalResponse));
                probe.expect(answerMessageId.isEmpty() || message.path("id").asText("").equals(answerMessageId),
                        "the stored answer has the id agent_completed named",
                        () -> "id " + message.path("id") + ", agent_completed said '" + answerMessageId + "'");
            }
        }
        int questionIndex = question;
        int replyIndex = reply;
        probe.expect(question >= 0, "the user message '" + run.request() + "' stored in the thread",
                () -> Frames.excerpt(answer.body()));
        probe.expect(reply >= 0, "an assistant message with run_id " + run.runId() + " stored in the thread",
                () -> Frames.excerpt(answer.body()));
        if (question >= 0 && reply >= 0) {
            probe.expect(questionIndex < replyIndex, "messages oldest first: the question before the answer",
                    () -> "question at " + questionIndex + ", answer at " + replyIndex);
        }
    }

    /**
     * {@code run_events}: GET /api/runs/{id}/events replays the golden run: the same events as the socket got, in
     * order and complete, and {@code after_seq} returns only the later ones.
     */
    static void runEvents(Target target, Probe probe) {
        String token = target.primary.accessToken();
        ApiResponse all = target.http.runEvents(token, target.goldenRunId, 0);
        probe.measure("http_ms", all.elapsed().toMillis());
        if (all.status() != 200) {
            throw probe.fail("GET /api/runs/{id}/events answers 200", all.status() + " " + Frames.excerpt(all.body()));
        }
        List<Received> events = readEvents(all.json().path("events"));
        probe.measure("events", events.size());
        probe.expect(all.json().path("complete").isBoolean() && all.json().path("complete").asBoolean(),
                "complete: true for a finished run", () -> "complete " + all.json().path("complete"));
        RunTranscript.violations(events, target.goldenRunId).forEach(v -> probe.mismatch(ORDER_RULES, v));
        if (target.goldenEvents != null) {
            List<String> overHttp = events.stream().map(Frames::label).toList();
            List<String> overSocket = RunTranscript.merge(target.goldenEvents).events().stream().map(Frames::label).toList();
            probe.expect(overHttp.equals(overSocket), "the same events as the socket delivered",
                    () -> "HTTP " + overHttp + ", socket " + overSocket);
        }
        if (events.size() >= 2) {
            long after = events.size() / 2;
            ApiResponse later = target.http.runEvents(token, target.goldenRunId, after);
            List<Received> tail = later.status() == 200 ? readEvents(later.json().path("events")) : List.of();
            List<Long> seqs = tail.stream().map(e -> e.hasSeq() ? e.raw().get("seq").asLong() : -1L).toList();
            List<Long> expected = new ArrayList<>();
            for (long seq = after + 1; seq <= events.size(); seq++) {
                expected.add(seq);
            }
            probe.expect(later.status() == 200 && seqs.equals(expected),
                    "?after_seq=" + after + " returns seq " + expected,
                    () -> later.status() == 200 ? "seq " + seqs : later.status() + " " + Frames.excerpt(later.body()));
        }
    }

    private static List<Received> readEvents(JsonNode array) {
        List<Received> events = new ArrayList<>();
        long now = System.nanoTime();
        for (JsonNode event : array) {
            events.add(ParleySocket.read(Json.write(event), now));
        }
        return events;
    }

    /**
     * {@code stop}: {@code stop_agent} sent as soon as {@code agent_started} arrives ends the run with
     * {@code agent_completed} whose status is {@code cancelled}, within {@link #STOP_LIMIT}. A run that finished
     * before the stop could land is reported as not exercised (a failure): the check only passes on a cancellation.
     */
    static void stop(Target target, Probe probe) {
        Account user = target.primary;
        try (ParleySocket socket = target.open(user)) {
            awaitWelcome(probe, socket, target.timeout);
            RunCapture run = RunCapture.start(probe, socket, STOP_REQUEST, null, PACED_STEP, target.timeout);
            int mark = socket.frameCount();
            String stopId = "validate-stop-" + UUID.randomUUID();
            long stopSent = System.nanoTime();
            socket.send(MessageType.STOP_AGENT.wireName(), Json.object().put("run_id", run.runId()), stopId);
            int eventsBeforeStop = (int) socket.frames().subList(0, mark).stream()
                    .filter(f -> run.runId().equals(f.event().runId())).count();
            probe.measure("events_before_stop", eventsBeforeStop);
            Received terminal = run.awaitTerminal(probe, target.timeout);
            run.barrier(probe, target.timeout);
            long stopToEnd = Math.max(0, Frames.millisBetween(stopSent, terminal.arrivedNanos()));
            probe.measure("stop_to_end_ms", stopToEnd);
            String status = terminal.event().data().path("status").asText("");
            probe.measure("terminal", terminal.type() + (status.isEmpty() ? "" : " " + status));
            List<Received> replies = socket.frames().subList(mark, socket.frameCount()).stream()
                    .filter(f -> f.type().equals(EventType.ERROR)).toList();
            if (!replies.isEmpty()) {
                probe.measure("stop_reply", replies.getFirst().type() + " "
                        + replies.getFirst().event().data().path("error").path("code").asText(""));
            }
            boolean cancelled = terminal.type().equals(EventType.AGENT_COMPLETED) && status.equals("cancelled");
            String expected = "agent_completed with status \"cancelled\" within " + STOP_LIMIT.toSeconds()
                    + " s of stop_agent";
            if (!cancelled) {
                String reply = replies.isEmpty() ? "" : "; stop_agent was answered with " + Frames.excerpt(replies.getFirst());
                boolean endedFirst = terminal.arrivedNanos() < stopSent || replies.stream().anyMatch(
                        f -> f.event().data().path("error").path("code").asText("").equals("run_finished"));
                if (endedFirst) {
                    probe.mismatch(expected, "not exercised: the run had ended before the stop arrived ("
                            + Frames.label(terminal) + " " + status + reply + "); a server without "
                            + "PARLEY_AGENT_STEP_DELAY can finish the offline agent's run this fast");
                } else {
                    long after = run.events().stream().filter(f -> f.arrivedNanos() > stopSent).count();
                    probe.mismatch(expected, "the run went on after stop_agent: " + after + " more events, ending with "
                            + Frames.excerpt(terminal) + reply);
                }
            } else {
                probe.expect(stopToEnd <= STOP_LIMIT.toMillis(), "the run ended within " + STOP_LIMIT.toSeconds()
                        + " s of stop_agent", () -> stopToEnd + " ms");
            }
            RunTranscript.violations(run.events(), run.runId()).forEach(v -> probe.mismatch(ORDER_RULES, v));
            ApiResponse stored = target.http.run(user.accessToken(), run.runId());
            String storedStatus = stored.json().path("status").asText("");
            probe.measure("run_status_over_http", storedStatus);
            if (cancelled) {
                probe.expect(stored.status() == 200 && storedStatus.equals("cancelled"),
                        "GET /api/runs/{id} answers status \"cancelled\"",
                        () -> stored.status() + " " + Frames.excerpt(stored.body()));
            }
        }
    }

    /**
     * {@code resume}: a socket dropped (without a close handshake) right after {@code agent_started}; a new socket
     * sends {@code resume {run_id, last_seq}} and must get {@code resumed}, with every later event, so that the
     * events of both sockets, duplicates dropped by {@code seq}, make the whole run.
     */
    static void resume(Target target, Probe probe) {
        Account user = target.primary;
        ParleySocket first = target.open(user);
        List<Received> before;
        RunCapture run;
        try {
            awaitWelcome(probe, first, target.timeout);
            run = RunCapture.start(probe, first, Target.GOLDEN_REQUEST, null, PACED_STEP, target.timeout);
        } finally {
            first.abort();
        }
        long dropped = System.nanoTime();
        before = run.events();
        long lastSeq = contiguousPrefix(before);
        boolean endedBeforeDrop = before.stream().anyMatch(e -> EventType.isTerminal(e.type()));
        probe.measure("events_before_drop", before.size());
        probe.measure("last_seq", lastSeq);
        probe.measure("run_finished_before_drop", endedBeforeDrop);

        try (ParleySocket second = target.open(user)) {
            probe.measure("reconnect_ms", Frames.millisBetween(dropped, second.connectedNanos()));
            awaitWelcome(probe, second, target.timeout);
            int mark = second.frameCount();
            long sent = System.nanoTime();
            second.send(MessageType.RESUME.wireName(), Json.object().put("run_id", run.runId()).put("last_seq", lastSeq),
                    "validate-resume-" + UUID.randomUUID());
            Received answer = Frames.await(probe, second, mark,
                    f -> (f.type().equals(EventType.RESUMED) || f.type().equals(EventType.RESUME_FAILED))
                            || f.type().equals(EventType.ERROR),
                    "resumed {run_id, replayed, complete} answering resume", target.timeout);
            if (!answer.type().equals(EventType.RESUMED)) {
                throw probe.fail("resumed {run_id, replayed, complete} answering resume", Frames.excerpt(answer));
            }
            probe.measure("resume_ms", Frames.millisBetween(sent, answer.arrivedNanos()));
            JsonNode data = answer.event().data();
            probe.expect(data.path("run_id").asText("").equals(run.runId()), "resumed names the run",
                    () -> Frames.excerpt(answer));
            probe.expect(data.path("replayed").isIntegralNumber() && data.path("complete").isBoolean(),
                    "resumed {run_id, replayed, complete}", () -> Frames.excerpt(answer));
            probe.measure("replayed", data.path("replayed").asLong());
            probe.measure("complete", data.path("complete").asBoolean());
            Frames.await(probe, second, 0, f -> run.runId().equals(f.event().runId()) && EventType.isTerminal(f.type()),
                    "the rest of the run, up to its terminal event, after resume", target.timeout);
            Frames.barrier(probe, second, target.timeout);
            probe.measure("resume_to_end_ms", Math.max(0, Frames.millisBetween(sent, System.nanoTime())));

            List<Received> after = second.frames().stream().filter(f -> run.runId().equals(f.event().runId())).toList();
            List<Received> all = new ArrayList<>(before);
            all.addAll(after);
            RunTranscript.Merged merged = RunTranscript.merge(all);
            merged.problems().forEach(p -> probe.mismatch("one event per seq across both sockets", p));
            probe.measure("events_total", merged.events().size());
            probe.measure("events_after_resume", after.size());
            RunTranscript.violations(merged.events(), run.runId())
                    .forEach(v -> probe.mismatch(ORDER_RULES + " (both sockets, duplicates dropped by seq)", v));
        }
    }

    /** The largest n such that seq 1..n all arrived. */
    static long contiguousPrefix(List<Received> events) {
        Map<Long, Boolean> seen = new TreeMap<>();
        for (Received event : events) {
            if (event.hasSeq()) {
                seen.put(event.raw().get("seq").asLong(), true);
            }
        }
        long n = 0;
        while (seen.containsKey(n + 1)) {
            n++;
        }
        return n;
    }

    static Received awaitWelcome(Probe probe, ParleySocket socket, Duration timeout) {
        Received first = Frames.await(probe, socket, 0, f -> true, "connection_established as the first frame", timeout);
        if (!first.type().equals(EventType.CONNECTION_ESTABLISHED)) {
            throw probe.fail("connection_established as the first frame", Frames.excerpt(first));
        }
        return first;
    }
}
