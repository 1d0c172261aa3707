package dev.parley.server.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.agent.Agent;
import dev.parley.server.agent.AgentException;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.Answer;
import dev.parley.server.agent.Usage;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test agent whose behaviour the request text picks, so that socket tests can drive every kind of run:
 * <ul>
 *   <li>anything else: {@code agent_thinking}, a {@code tool_executing}/{@code tool_completed} pair, then
 *       {@link #DEFAULT_DELTAS} {@code partial_result} deltas, and the answer they add up to;</li>
 *   <li>{@code deltas N}: the same with N deltas;</li>
 *   <li>{@code slow N}: N deltas with {@code pause} between them (interruptible);</li>
 *   <li>{@code hang}: thinks, streams two deltas, then waits until interrupted;</li>
 *   <li>{@code endless}: streams deltas with {@code pause} between them until interrupted;</li>
 *   <li>{@code big N SIZE}: N deltas of SIZE characters each, with no pause; {@code paced N SIZE}: the same with
 *       {@code pause} between them;</li>
 *   <li>{@code fail}: throws {@code tool_failed}; {@code crash}: throws an unexpected exception.</li>
 * </ul>
 * Every run records a usage of 12 input and 34 output tokens costing 0.0005 USD.
 */
public final class ScriptedAgent implements Agent {
    public static final int DEFAULT_DELTAS = 3;
    public static final String NAME = "scripted";

    private final Duration pause;
    private final AtomicInteger runs = new AtomicInteger();

    public ScriptedAgent(Duration pause) {
        this.pause = pause;
    }

    public ScriptedAgent() {
        this(Duration.ofMillis(20));
    }

    public int runs() {
        return runs.get();
    }

    @Override
    public Answer run(AgentRun run) throws InterruptedException {
        runs.incrementAndGet();
        String[] words = run.request().strip().split("\\s+");
        String command = words[0];
        run.addUsage(new Usage(12, 34, new BigDecimal("0.0005")));
        think(run, "Reading the request");
        switch (command) {
            case "fail" -> throw new AgentException(ErrorCode.TOOL_FAILED, "The scripted tool failed.", false, null);
            case "crash" -> throw new IllegalStateException("scripted crash");
            case "hang" -> {
                StringBuilder answer = new StringBuilder();
                delta(run, "partial ", answer);
                delta(run, "answer ", answer);
                Thread.sleep(Duration.ofHours(1));
                return new Answer(answer.toString());
            }
            case "endless" -> {
                StringBuilder answer = new StringBuilder();
                for (int i = 0; ; i++) {
                    delta(run, "d" + i + " ", answer);
                    Thread.sleep(pause);
                }
            }
            default -> {
            }
        }
        tool(run);
        int count = DEFAULT_DELTAS;
        int size = 0;
        boolean slow = false;
        if (List.of("deltas", "slow", "big", "paced").contains(command) && words.length > 1) {
            count = Integer.parseInt(words[1]);
            slow = command.equals("slow") || command.equals("paced");
            if ((command.equals("big") || command.equals("paced")) && words.length > 2) {
                size = Integer.parseInt(words[2]);
            }
        }
        StringBuilder answer = new StringBuilder();
        for (int i = 0; i < count; i++) {
            delta(run, size > 0 ? "x".repeat(size) : "w" + i + " ", answer);
            if (slow) {
                Thread.sleep(pause);
            }
        }
        return new Answer(answer.toString());
    }

    private static void think(AgentRun run, String reasoning) {
        ObjectNode data = Json.object();
        data.put("reasoning", reasoning);
        data.put("step_number", 1);
        data.put("progress_percentage", 10);
        run.emit(NAME, EventType.AGENT_THINKING, data);
    }

    private static void tool(AgentRun run) {
        ObjectNode executing = Json.object();
        executing.put("tool_call_id", "call-1");
        executing.put("tool_name", "lookup");
        executing.putObject("parameters").put("query", run.request());
        run.emit(NAME, EventType.TOOL_EXECUTING, executing);
        ObjectNode completed = Json.object();
        completed.put("tool_call_id", "call-1");
        completed.put("tool_name", "lookup");
        completed.putObject("result").put("found", true);
        completed.put("execution_time_ms", 1);
        completed.put("status", "success");
        run.emit(NAME, EventType.TOOL_COMPLETED, completed);
    }

    private static void delta(AgentRun run, String text, StringBuilder answer) {
        ObjectNode data = Json.object();
        data.put("delta", text);
        run.emit(NAME, EventType.PARTIAL_RESULT, data);
        answer.append(text);
    }
}
