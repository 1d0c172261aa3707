package dev.parley.server.conversation;

import java.util.List;

/** One page of a user's threads, most recently updated first, and how many threads the user has in all. */
public record ThreadPage(List<ChatThread> threads, long total) {
}
