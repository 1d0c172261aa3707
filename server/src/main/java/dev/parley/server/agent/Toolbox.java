package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs tools for a run: emits {@code tool_executing}, runs the tool on a virtual thread of its own, emits
 * {@code tool_completed} with the same {@code tool_call_id}. The run's thread waits for the tool interruptibly: a
 * stopped run interrupts the tool's thread and returns at once, after a last {@code tool_completed} with status
 * {@code error} so that every call a client saw start also ends.
 */
final class Toolbox {
    private static final Logger LOG = LoggerFactory.getLogger(Toolbox.class);

    /** The result of a call made on a model's behalf: what to feed back to the model, and whether it failed. */
    record Outcome(JsonNode result, boolean success) {
    }

    private final Map<String, Tool<?, ?>> tools = new LinkedHashMap<>();
    private final List<ToolSpecification> builtinSpecifications;
    private final RemoteTools remote;
    private final ToolPolicy policy;

    Toolbox(List<Tool<?, ?>> tools) {
        this(tools, RemoteTools.NONE, ToolPolicy.DEFAULT);
    }

    Toolbox(List<Tool<?, ?>> tools, RemoteTools remote, ToolPolicy policy) {
        tools.forEach(tool -> this.tools.put(tool.name(), tool));
        this.builtinSpecifications = this.tools.values().stream().map(Tool::specification).toList();
        this.remote = remote;
        this.policy = policy;
    }

    /** The built-in tools and the remote tools known now, as the model sees them. */
    List<ToolSpecification> specifications() {
        List<RemoteTool> remoteTools = remote.tools();
        if (remoteTools.isEmpty()) {
            return builtinSpecifications;
        }
        List<ToolSpecification> all = new java.util.ArrayList<>(builtinSpecifications);
        for (RemoteTool tool : remoteTools) {
            if (!tools.containsKey(tool.name())) {
                all.add(tool.specification());
            }
        }
        return all;
    }

    @SuppressWarnings("unchecked")
    <T extends Tool<?, ?>> T tool(Class<T> type) {
        return (T) tools.values().stream().filter(type::isInstance).findFirst()
                .orElseThrow(() -> new IllegalStateException("no tool of type " + type.getSimpleName()));
    }

    static String newCallId() {
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    /**
     * Calls a tool for the offline team and returns its typed result.
     *
     * @throws AgentException with {@code tool_failed} when the tool fails
     */
    <A, R> R call(AgentRun run, String agent, Tool<A, R> tool, ObjectNode arguments) throws InterruptedException {
        String callId = newCallId();
        JsonNode refused = permission(run, agent, callId, tool.name(), policy.forBuiltin(tool.name()),
                RunEvents.BUILTIN_SOURCE, arguments);
        if (refused != null) {
            throw new AgentException(ErrorCode.TOOL_FAILED, "The " + tool.name() + " tool did not run: "
                    + refused.path("error").asText() + ".", false, null);
        }
        RunEvents.toolExecuting(run, agent, callId, tool.name(), arguments);
        long started = System.nanoTime();
        try {
            A parsed = tool.parse(arguments);
            R result = runInterruptibly(tool.name(), () -> tool.execute(run.userId(), parsed));
            RunEvents.toolCompleted(run, agent, callId, tool.name(), tool.render(result), elapsedMs(started), true);
            return result;
        } catch (InterruptedException e) {
            RunEvents.toolCompleted(run, agent, callId, tool.name(), error("cancelled"), elapsedMs(started), false);
            throw e;
        } catch (RuntimeException e) {
            RunEvents.toolCompleted(run, agent, callId, tool.name(), error(publicMessage(e)), elapsedMs(started), false);
            // The tool's failure passes when what it met does (a database that is down), as the error table says.
            boolean transientCause = e instanceof ProtocolException coded && coded.retryable();
            throw new AgentException(ErrorCode.TOOL_FAILED, "The " + tool.name() + " tool failed: " + publicMessage(e),
                    transientCause, e);
        }
    }

    /** Calls a tool on a model's behalf; a failure becomes an error result for the model, never an exception. */
    Outcome callForModel(AgentRun run, String agent, String callId, String name, String argumentsJson)
            throws InterruptedException {
        JsonNode arguments;
        try {
            arguments = argumentsJson == null || argumentsJson.isBlank() ? Json.object() : Json.parse(argumentsJson);
        } catch (ProtocolException e) {
            arguments = Json.object().put("unparsed", argumentsJson);
        }
        Tool<?, ?> tool = tools.get(name);
        RemoteTool remoteTool = tool == null ? remote.find(name).orElse(null) : null;
        JsonNode source = remoteTool == null ? RunEvents.BUILTIN_SOURCE : remoteTool.source();
        if (remoteTool != null) {
            java.util.Optional<JsonNode> refusal = remote.refusal(remoteTool, run.userId());
            if (refusal.isPresent()) {
                RunEvents.toolCompleted(run, agent, callId, name, source, refusal.get(), 0, false);
                return new Outcome(refusal.get(), false);
            }
        }
        if ((tool != null || remoteTool != null) && !arguments.has("unparsed")) { // a call that cannot run asks nobody
            JsonNode refused = permission(run, agent, callId, name,
                    tool != null ? policy.forBuiltin(name) : policy.forRemote(remoteTool), source, arguments);
            if (refused != null) {
                return new Outcome(refused, false);
            }
        }
        RunEvents.toolExecuting(run, agent, callId, name, source, arguments);
        long started = System.nanoTime();
        JsonNode result;
        boolean success;
        try {
            if (tool == null && remoteTool == null) {
                throw new ToolInputException("there is no tool named '" + name + "'; the tools are "
                        + String.join(", ", toolNames()));
            }
            if (arguments.has("unparsed")) {
                throw new ToolInputException("the arguments are not valid JSON");
            }
            result = tool != null ? execute(run, tool, arguments) : callRemote(run, remoteTool, arguments);
            success = true;
        } catch (InterruptedException e) {
            RunEvents.toolCompleted(run, agent, callId, name, source, error("cancelled"), elapsedMs(started), false);
            throw e;
        } catch (RemoteToolException e) {
            result = Json.object().put("error", e.reason()).put("message", e.getMessage());
            success = false;
        } catch (RuntimeException e) {
            result = error(publicMessage(e));
            success = false;
        }
        RunEvents.toolCompleted(run, agent, callId, name, source, result, elapsedMs(started), success);
        return new Outcome(result, success);
    }

    private List<String> toolNames() {
        List<String> names = new java.util.ArrayList<>(tools.keySet());
        remote.tools().forEach(tool -> names.add(tool.name()));
        return names;
    }

    /**
     * Applies the policy to a call before it runs: null when it may run; otherwise the call is completed here, with
     * {@code tool_completed} status {@code error}, and the returned result says why ({@code denied}, {@code rejected},
     * {@code approval_expired}).
     */
    private static JsonNode permission(AgentRun run, String agent, String callId, String name,
                                       dev.parley.server.config.Config.PolicyAction action, JsonNode source,
                                       JsonNode arguments) throws InterruptedException {
        String refusal = switch (action) {
            case AUTO -> null;
            case DENY -> "denied";
            case ASK -> switch (run.awaitApproval(agent, callId, name, source, arguments)) {
                case APPROVED -> null;
                case REJECTED -> "rejected";
                case EXPIRED -> "approval_expired";
            };
        };
        if (refusal == null) {
            return null;
        }
        ObjectNode result = error(refusal);
        RunEvents.toolCompleted(run, agent, callId, name, source, result, 0, false);
        return result;
    }

    private JsonNode callRemote(AgentRun run, RemoteTool tool, JsonNode arguments) throws InterruptedException {
        return runInterruptibly(tool.name(), () -> remote.call(tool, run.userId(), arguments));
    }

    private static <A, R> JsonNode execute(AgentRun run, Tool<A, R> tool, JsonNode arguments) throws InterruptedException {
        A parsed = tool.parse(arguments);
        return tool.render(runInterruptibly(tool.name(), () -> tool.execute(run.userId(), parsed)));
    }

    private static <R> R runInterruptibly(String name, java.util.concurrent.Callable<R> work) throws InterruptedException {
        FutureTask<R> task = new FutureTask<>(work);
        Thread.ofVirtual().name("tool-" + name).start(task);
        try {
            return task.get();
        } catch (InterruptedException e) {
            task.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof InterruptedException interrupted) {
                throw interrupted;
            }
            throw new IllegalStateException("tool " + name + " failed", cause);
        }
    }

    private static String publicMessage(RuntimeException e) {
        if (e instanceof ToolInputException || e instanceof ProtocolException) {
            return e.getMessage();
        }
        LOG.error("tool failed unexpectedly", e);
        return "an internal error occurred";
    }

    private static ObjectNode error(String message) {
        return Json.object().put("error", message);
    }

    private static long elapsedMs(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1_000_000;
    }
}
