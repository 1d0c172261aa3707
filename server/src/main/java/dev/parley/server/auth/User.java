package dev.parley.server.auth;

import java.time.Instant;

/** An account as the rest of the server sees it: never its password hash. {@code email} is normalised (lower case). */
public record User(String id, String email, String name, Instant createdAt) {
}
