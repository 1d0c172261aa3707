package dev.parley.server.conversation;

import java.time.Instant;

/**
 * One message of a thread. {@code role} is {@code user} or {@code assistant}; {@code runId} names the run the message
 * started (user) or answered (assistant), and is null for messages written outside a run.
 */
public record ChatMessage(String id, String threadId, String role, String content, String runId, Instant createdAt) {
    public static final String USER = "user";
    public static final String ASSISTANT = "assistant";
}
