package dev.parley.server.run;

import dev.parley.protocol.EventType;
import dev.parley.server.db.Sql;
import dev.parley.server.fanout.Envelope;
import dev.parley.server.fanout.EventLogReader;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * The run event logs: the one place that reads and writes {@code run_events}. The {@link RunJournal} appends through
 * it (every event of every run, in one numbering), and resume, {@code GET /api/runs/{id}/events} and the shared
 * fan-out ({@link EventLogReader}) read through it. Stateless and thread-safe.
 */
public final class RunEventLog implements EventLogReader {
    private static final String INSERT =
            "INSERT INTO run_events (run_id, seq, type, body, created_at) VALUES (?, ?, ?, ?, ?)";
    private static final int USERS_PER_QUERY = 200;

    private final Sql sql;

    public RunEventLog(Sql sql) {
        this.sql = sql;
    }

    /** Events waiting to be inserted together, in the transaction of the connection they were prepared on. */
    static final class Inserts implements AutoCloseable {
        private final PreparedStatement statement;
        private int pending;
        private boolean failed;

        Inserts(Connection connection) throws SQLException {
            this.statement = Sql.prepare(connection, INSERT);
        }

        void add(Envelope event, Instant createdAt) throws SQLException {
            statement.setString(1, event.runId());
            statement.setLong(2, event.seq());
            statement.setString(3, event.type());
            statement.setString(4, event.wire());
            Sql.setInstant(statement, 5, createdAt);
            statement.addBatch();
            pending++;
        }

        /** Inserts what was added; a statement that reads the log must come after this. */
        void flush() throws SQLException {
            if (pending > 0) {
                pending = 0;
                failed = true;
                statement.executeBatch();
                failed = false;
            }
        }

        @Override
        public void close() throws SQLException {
            if (failed || pending > 0) {
                Sql.discard(statement);
            } else {
                Sql.release(statement);
            }
        }
    }

    /** The highest {@code seq} in the run's log as the caller's transaction sees it, 0 when it is empty. */
    static long lastSeq(Connection connection, String runId) throws SQLException {
        List<Long> max = Sql.query(connection, "SELECT MAX(seq) FROM run_events WHERE run_id = ?", row -> row.getLong(1),
                runId);
        return max.isEmpty() ? 0 : max.getFirst();
    }

    /** The run's events after {@code afterSeq}, in order. */
    List<StoredEvent> read(String runId, long afterSeq) {
        return sql.query("SELECT seq, type, body FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq",
                row -> new StoredEvent(row.getLong("seq"), row.getString("type"),
                        row.getString("body")),
                runId, afterSeq);
    }

    boolean hasTerminalEvent(String runId) {
        return sql.queryOne("SELECT COUNT(*) FROM run_events WHERE run_id = ? AND type IN (?, ?)",
                row -> row.getLong(1), runId, EventType.AGENT_COMPLETED, EventType.AGENT_ERROR).orElse(0L) > 0;
    }

    /** Deletes the event logs of runs that ended before {@code endedBefore}; returns how many events went. */
    int purge(Instant endedBefore) {
        return sql.update("DELETE FROM run_events WHERE run_id IN (SELECT id FROM runs WHERE finished_at < ?)",
                endedBefore);
    }

    @Override
    public List<Envelope> after(String runId, long afterSeq) {
        return sql.query("SELECT seq, type, body FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT "
                        + MAX_EVENTS_PER_READ,
                row -> new Envelope(row.getString("type"), runId, row.getLong("seq"),
                        row.getString("body")),
                runId, afterSeq);
    }

    @Override
    public List<Recent> since(Collection<String> userIds, Instant since) {
        List<String> ids = List.copyOf(userIds);
        List<Recent> found = new ArrayList<>();
        for (int from = 0; from < ids.size(); from += USERS_PER_QUERY) {
            List<String> chunk = ids.subList(from, Math.min(ids.size(), from + USERS_PER_QUERY));
            Object[] params = new Object[chunk.size() + 1];
            params[0] = since;
            for (int i = 0; i < chunk.size(); i++) {
                params[i + 1] = chunk.get(i);
            }
            found.addAll(sql.query("SELECT r.user_id, e.run_id, MIN(e.seq) AS first_seq FROM run_events e "
                            + "JOIN runs r ON r.id = e.run_id WHERE e.created_at >= ? AND r.user_id IN ("
                            + String.join(", ", Collections.nCopies(chunk.size(), "?")) + ") GROUP BY r.user_id, e.run_id",
                    row -> new Recent(row.getString("user_id"), row.getString("run_id"), row.getLong("first_seq")),
                    params));
        }
        return found;
    }
}
