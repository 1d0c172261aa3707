package dev.parley.server.run;

import dev.parley.server.observe.Metrics;

/** The run counters on /metrics: runs started, refused for load, ended by status; events emitted by type. */
final class RunMetrics {
    private final Metrics metrics;

    RunMetrics(Metrics metrics) {
        this.metrics = metrics;
    }

    void started() {
        metrics.increment("parley_runs_started_total", "Agent runs started.");
    }

    void refusedOverloaded() {
        metrics.increment("parley_runs_refused_overloaded_total",
                "Runs refused with overloaded because run events waited too long to be stored.");
    }

    void ended(RunStatus status) {
        metrics.increment("parley_runs_finished_total", "Agent runs ended, by final status.", "status", status.wire());
        if (status == RunStatus.COMPLETED) {
            metrics.increment("parley_runs_completed_total", "Agent runs that completed.");
        } else if (status == RunStatus.FAILED) {
            metrics.increment("parley_runs_failed_total", "Agent runs that failed.");
        }
    }

    void eventEmitted(String type) {
        metrics.increment("parley_run_events_total", "Run events appended to run logs, by type.", "type", type);
    }
}
