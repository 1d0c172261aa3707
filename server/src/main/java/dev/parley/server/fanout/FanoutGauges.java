package dev.parley.server.fanout;

import dev.parley.server.observe.Metrics;

/** The fan-out's gauges on /metrics: what the shared bus recovered or could not publish (none for a local one). */
public final class FanoutGauges {
    private FanoutGauges() {
    }

    public static void register(Fanout fanout, Metrics metrics) {
        if (fanout instanceof RedisFanout shared) {
            metrics.gauge("parley_fanout_recovered_events",
                    "Events this instance read from the run logs because the bus did not bring them, since start.",
                    shared::recoveredEvents);
            metrics.gauge("parley_fanout_unpublished_events",
                    "Events this instance could not put on the bus (Redis was down), since start.",
                    shared::unpublishedEvents);
        }
    }
}
