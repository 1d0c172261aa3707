package dev.parley.server.fanout;

import dev.parley.protocol.EventType;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.run.RunEventLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/**
 * Users, runs and run event logs in a real (embedded) database, written the way the run service writes them: an
 * event is logged before anyone publishes it. What a shared fan-out reads to fill gaps and catch up.
 */
final class RunLogFixture implements AutoCloseable {
    private final Database database;
    private final Clock clock;

    private RunLogFixture(Database database, Clock clock) {
        this.database = database;
        this.clock = clock;
    }

    static RunLogFixture embedded() {
        try {
            return new RunLogFixture(Database.open(new Config.Storage(Files.createTempDirectory("parley-fanout"),
                    Optional.empty(), 8, Optional.empty())), Clock.systemUTC());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    EventLogReader eventLog() {
        return new RunEventLog(database.sql());
    }

    String user() {
        String id = UUID.randomUUID().toString();
        database.sql().update("INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)", id,
                id + "@example.org", "u", clock.instant());
        return id;
    }

    String run(String userId) {
        String threadId = UUID.randomUUID().toString();
        Instant now = clock.instant();
        database.sql().update("INSERT INTO threads (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                threadId, userId, "t", now, now);
        String runId = UUID.randomUUID().toString();
        database.sql().update("INSERT INTO runs (id, thread_id, user_id, status, started_at) VALUES (?, ?, ?, ?, ?)",
                runId, threadId, userId, "running", now);
        return runId;
    }

    /** Logs event {@code seq} of the run (the last one when {@code last}) and returns it, ready to publish. */
    Envelope log(String runId, long seq, boolean last) {
        String type = seq == 1 ? EventType.AGENT_STARTED : last ? EventType.AGENT_COMPLETED : EventType.PARTIAL_RESULT;
        String wire = "{\"type\":\"" + type + "\",\"run_id\":\"" + runId + "\",\"seq\":" + seq + "}";
        database.sql().update("INSERT INTO run_events (run_id, seq, type, body, created_at) VALUES (?, ?, ?, ?, ?)",
                runId, seq, type, wire, clock.instant());
        return new Envelope(type, runId, seq, wire);
    }

    @Override
    public void close() {
        database.close();
    }
}
