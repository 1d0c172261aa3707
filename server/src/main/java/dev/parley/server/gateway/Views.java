package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.conversation.ChatMessage;
import dev.parley.server.conversation.ChatThread;
import dev.parley.server.run.RunRecord;
import java.time.Instant;

/** The JSON shapes of threads, messages and runs, shared by the HTTP routes and the socket. */
final class Views {
    private Views() {
    }

    static ObjectNode thread(ChatThread thread) {
        ObjectNode node = Json.object();
        node.put("id", thread.id());
        node.put("title", thread.title());
        node.put("created_at", time(thread.createdAt()));
        node.put("updated_at", time(thread.updatedAt()));
        node.put("message_count", thread.messageCount());
        return node;
    }

    static ObjectNode message(ChatMessage message) {
        ObjectNode node = Json.object();
        node.put("id", message.id());
        node.put("thread_id", message.threadId());
        node.put("role", message.role());
        node.put("content", message.content());
        node.put("run_id", message.runId());
        node.put("created_at", time(message.createdAt()));
        return node;
    }

    static ObjectNode run(RunRecord run) {
        ObjectNode node = Json.object();
        node.put("id", run.id());
        node.put("thread_id", run.threadId());
        node.put("status", run.status().wire());
        node.put("started_at", time(run.startedAt()));
        node.put("finished_at", time(run.finishedAt()));
        ObjectNode usage = node.putObject("usage");
        usage.put("input_tokens", run.usage().inputTokens());
        usage.put("output_tokens", run.usage().outputTokens());
        usage.put("cost_usd", run.usage().costUsd());
        node.put("user_message_id", run.userMessageId());
        node.put("assistant_message_id", run.assistantMessageId());
        if (run.errorCode() != null) {
            node.put("error_code", run.errorCode());
        }
        return node;
    }

    static String time(Instant instant) {
        return instant == null ? null : ServerEvent.formatTimestamp(instant);
    }
}
