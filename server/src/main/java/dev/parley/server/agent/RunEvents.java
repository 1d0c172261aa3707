package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;

/** Builds the data of the run events an agent emits, in the contract's field names. */
final class RunEvents {
    private RunEvents() {
    }

    static void thinking(AgentRun run, String agent, String reasoning, int step, Integer progressPercentage) {
        ObjectNode data = Json.object().put("reasoning", reasoning).put("step_number", step);
        if (progressPercentage != null) {
            data.put("progress_percentage", progressPercentage);
        }
        run.emit(agent, EventType.AGENT_THINKING, data);
    }

    /** The {@code source} of a built-in tool's events; shared, never changed. */
    static final JsonNode BUILTIN_SOURCE = Json.object().put("kind", "builtin");

    static JsonNode mcpSource(String server) {
        return Json.object().put("kind", "mcp").put("server", server);
    }

    static void toolExecuting(AgentRun run, String agent, String toolCallId, String toolName, JsonNode parameters) {
        toolExecuting(run, agent, toolCallId, toolName, BUILTIN_SOURCE, parameters);
    }

    static void toolExecuting(AgentRun run, String agent, String toolCallId, String toolName, JsonNode source,
                              JsonNode parameters) {
        ObjectNode data = Json.object().put("tool_call_id", toolCallId).put("tool_name", toolName);
        data.set("source", source);
        data.set("parameters", parameters);
        run.emit(agent, EventType.TOOL_EXECUTING, data);
    }

    static void toolCompleted(AgentRun run, String agent, String toolCallId, String toolName, JsonNode result,
                              long executionTimeMs, boolean success) {
        toolCompleted(run, agent, toolCallId, toolName, BUILTIN_SOURCE, result, executionTimeMs, success);
    }

    static void toolCompleted(AgentRun run, String agent, String toolCallId, String toolName, JsonNode source,
                              JsonNode result, long executionTimeMs, boolean success) {
        ObjectNode data = Json.object().put("tool_call_id", toolCallId).put("tool_name", toolName);
        data.set("source", source);
        data.set("result", result);
        data.put("execution_time_ms", executionTimeMs).put("status", success ? "success" : "error");
        run.emit(agent, EventType.TOOL_COMPLETED, data);
    }

    static void partial(AgentRun run, String agent, String delta) {
        run.emit(agent, EventType.PARTIAL_RESULT, Json.object().put("delta", delta));
    }
}
