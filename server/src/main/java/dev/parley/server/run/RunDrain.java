package dev.parley.server.run;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shutdown's first half for runs: refuses new starts, waits a grace for the runs in progress, then ends the rest
 * ({@code service_restart}) and waits up to {@link #FINAL_WRITES_WAIT} for their ends to be stored.
 *
 * <p>Threads: runs on the thread that shuts the process down, waiting on the runs' own threads.
 */
final class RunDrain {
    private static final Duration FINAL_WRITES_WAIT = Duration.ofSeconds(5);
    /** Logs as {@link RunService}: the run machinery's lines keep one logger name whichever part writes them. */
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);

    private final RunStarts starts;
    private final ConcurrentHashMap<String, ActiveRun> active;

    RunDrain(RunStarts starts, ConcurrentHashMap<String, ActiveRun> active) {
        this.starts = starts;
        this.active = active;
    }

    void drain(Duration grace) {
        starts.refuseNew();
        List<ActiveRun> running = List.copyOf(active.values());
        if (running.isEmpty()) {
            return;
        }
        LOG.info("Waiting up to {} ms for {} run(s) to finish", grace.toMillis(), running.size());
        awaitAll(running, grace);
        // A run that has settled its ending (done) may still be in `active` for a moment: it is not left over.
        List<ActiveRun> left = active.values().stream().filter(run -> !run.done.isDone()).toList();
        for (ActiveRun run : left) {
            run.requestEnd(ActiveRun.Ending.SHUTDOWN);
        }
        if (!left.isEmpty()) {
            LOG.warn("Ended {} run(s) still in progress at shutdown", left.size());
            awaitAll(left, FINAL_WRITES_WAIT);
        }
    }

    private static void awaitAll(List<ActiveRun> runs, Duration wait) {
        CompletableFuture<?>[] futures = runs.stream().map(run -> run.done).toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(futures).get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // what is left is handled by the caller
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
