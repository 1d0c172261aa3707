package dev.parley.server.run;

/** A run that has begun: its id, its thread (new or given), and the stored user message that started it. */
public record StartedRun(String runId, String threadId, String userMessageId) {
}
