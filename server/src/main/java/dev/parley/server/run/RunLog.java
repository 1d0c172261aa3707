package dev.parley.server.run;

import java.util.List;

/**
 * Events of a run read from its log, in {@code seq} order; {@code complete} when the log holds the run's last event
 * ({@code agent_completed} or {@code agent_error}), so nothing follows.
 */
public record RunLog(RunRecord run, List<StoredEvent> events, boolean complete) {
}
