package dev.parley.server.run;

import dev.parley.server.agent.Usage;
import java.time.Instant;

/**
 * A run as stored: whose it is, on which thread, where it stands, the messages it started from and ended with, and
 * what it cost. {@code finishedAt}, {@code assistantMessageId} and {@code errorCode} are null until they apply.
 */
public record RunRecord(String id, String threadId, String userId, RunStatus status, String userMessageId,
                        String assistantMessageId, Instant startedAt, Instant finishedAt, Usage usage,
                        String errorCode) {
}
