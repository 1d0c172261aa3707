package dev.parley.server.fanout;

import dev.parley.server.db.Sql;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

/**
 * Reads the run event logs in the shared database, which the runs write before they publish: what a shared fan-out
 * fetches to fill a gap or to catch up after the bus was unreachable. Stateless and thread-safe.
 */
public final class StoredEvents {
    static final int MAX_EVENTS_PER_READ = 10_000;
    private static final int USERS_PER_QUERY = 200;

    /** A run of a user that logged events since some moment, and the first of those events. */
    record Recent(String userId, String runId, long firstSeq) {
    }

    private final Sql sql;

    public StoredEvents(Sql sql) {
        this.sql = sql;
    }

    /** The run's events after {@code afterSeq}, in order, as envelopes ready for sockets. */
    List<Envelope> after(String runId, long afterSeq) {
        return sql.query("SELECT seq, type, body FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT "
                        + MAX_EVENTS_PER_READ,
                row -> new Envelope(row.getString("type"), runId, row.getLong("seq"), row.getString("body")),
                runId, afterSeq);
    }

    /** The runs of these users that logged an event at or after {@code since}, with the first such event's seq. */
    List<Recent> since(Collection<String> userIds, Instant since) {
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
