package dev.parley.server.testing;

import dev.parley.server.db.Database;
import java.time.Instant;
import java.util.UUID;

/** Users inserted straight into a database, for store tests that run without the HTTP edge. */
public final class Accounts {
    private Accounts() {
    }

    /** Inserts a user row and returns its id. */
    public static String insertUser(Database database) {
        String id = UUID.randomUUID().toString();
        database.sql().update("INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)",
                id, id + "@example.org", "Test", Instant.now());
        return id;
    }
}
