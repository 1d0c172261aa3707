package dev.parley.server.conversation;

import java.time.Instant;

/** A conversation of one user: its title, when it began and last changed, and how many messages it holds. */
public record ChatThread(String id, String userId, String title, Instant createdAt, Instant updatedAt,
                         int messageCount) {
}
