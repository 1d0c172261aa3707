package dev.parley.server.fanout;

import java.time.Instant;
import java.util.Collection;
import java.util.List;

/**
 * What a shared fan-out reads from the run event logs, which the runs store before they publish: the events to fill a
 * gap, and the runs to catch up on after the bus was unreachable. The run event log implements it; the fan-out sees
 * only this.
 */
public interface EventLogReader {
    /** The most events one read returns. */
    int MAX_EVENTS_PER_READ = 10_000;

    /** A run of a user that logged events since some moment, and the first of those events. */
    record Recent(String userId, String runId, long firstSeq) {
    }

    /** The run's events after {@code afterSeq}, in order, as envelopes ready for sockets (at most {@link #MAX_EVENTS_PER_READ}). */
    List<Envelope> after(String runId, long afterSeq);

    /** The runs of these users that logged an event at or after {@code since}, with the first such event's seq. */
    List<Recent> since(Collection<String> userIds, Instant since);
}
