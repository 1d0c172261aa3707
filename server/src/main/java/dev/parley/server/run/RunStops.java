package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.fanout.Fanout;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stopping runs: a run of this instance is stopped at once (its agent interrupted); a run of another instance is
 * asked to stop through the database's flag and the fan-out, and this instance stops its own runs when either brings
 * such a request.
 *
 * <p>Threads: {@link #stop} and {@link #stopRunOnThread} run on the caller's thread (a socket's reader or an HTTP
 * handler), the latter waiting for the run's end; {@link #stopLocally} on the thread the fan-out delivers a request
 * on (the requester's own, or the Redis subscriber's), and from {@link #quietlyPollStopRequests} on the runs'
 * scheduler, every {@link RunService#STOP_POLL_EVERY}.
 */
final class RunStops {
    /** Logs as {@link RunService}: the run machinery's lines keep one logger name whichever part writes them. */
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);
    /** How often a wait for a run of another instance reads the database, besides waking on the run's last event. */
    static final Duration END_CHECK_EVERY = Duration.ofSeconds(1);

    private final RunStore store;
    private final Fanout fanout;
    private final Clock clock;
    private final String instanceId;
    private final ConcurrentHashMap<String, ActiveRun> active;

    RunStops(RunStore store, Fanout fanout, Clock clock, String instanceId,
             ConcurrentHashMap<String, ActiveRun> active) {
        this.store = store;
        this.fanout = fanout;
        this.clock = clock;
        this.instanceId = instanceId;
        this.active = active;
    }

    void stop(String userId, String runId) {
        ActiveRun run = runId == null ? null : active.get(runId);
        if (run != null && run.userId.equals(userId)) {
            if (!run.requestEnd(ActiveRun.Ending.STOPPED)) {
                throw runFinished();
            }
            LOG.info("Run {} stopped by user {}", runId, userId);
            return;
        }
        RunRecord record = store.find(userId, runId).orElseThrow(RunService::runNotFound);
        if (record.status().ended()) {
            throw runFinished();
        }
        // The flag first: an instance that misses the fan-out's request (Redis down) still finds it.
        store.requestStop(runId, clock.instant());
        fanout.requestStop(runId);
        LOG.info("Run {} stop requested by user {} (running elsewhere)", runId, userId);
    }

    boolean stopRunOnThread(String userId, String threadId, Duration wait) {
        Optional<RunRecord> running = store.findRunningOnThread(userId, threadId);
        if (running.isEmpty()) {
            return true;
        }
        String runId = running.get().id();
        try {
            stop(userId, runId);
        } catch (ProtocolException e) {
            // It ended on its own meanwhile.
        }
        long deadline = System.nanoTime() + wait.toNanos();
        ActiveRun run = active.get(runId);
        if (run != null) {
            try {
                run.done.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return awaitEndElsewhere(userId, threadId, runId, deadline);
    }

    /**
     * Waits until a run of another instance has ended: its last event comes through the fan-out after its end is
     * stored, so that event wakes the wait; the database is read once after subscribing (the event may have come
     * before) and every {@link #END_CHECK_EVERY} (the fan-out may be down, or the run ended by a third instance).
     */
    private boolean awaitEndElsewhere(String userId, String threadId, String runId, long deadline) {
        CompletableFuture<Void> ended = new CompletableFuture<>();
        try (Fanout.Subscription ignored = fanout.subscribe(userId, event -> {
            if (runId.equals(event.runId()) && EventType.isTerminal(event.type())) {
                ended.complete(null);
            }
        })) {
            while (store.findRunningOnThread(userId, threadId).isPresent()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    ended.get(Math.min(left, END_CHECK_EVERY.toNanos()), TimeUnit.NANOSECONDS);
                    // Its end is stored: what runs on the thread now is a newer run, which this does not wait for.
                    return store.findRunningOnThread(userId, threadId).isEmpty();
                } catch (TimeoutException e) {
                    // read the database again
                } catch (ExecutionException e) {
                    throw new IllegalStateException(e); // never completed exceptionally
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
            return true;
        }
    }

    /** Stops a run of this instance that another instance was asked to stop (through the fan-out or the database). */
    void stopLocally(String runId) {
        ActiveRun run = active.get(runId);
        if (run != null && run.requestEnd(ActiveRun.Ending.STOPPED)) {
            LOG.info("Run {} stopped on request from another instance", runId);
        }
    }

    /** Stops the runs of this instance that were asked to stop through the database. */
    void quietlyPollStopRequests() {
        if (active.isEmpty()) {
            return;
        }
        try {
            for (String runId : store.stopRequested(instanceId)) {
                stopLocally(runId);
            }
        } catch (RuntimeException e) {
            LOG.debug("Polling stop requests failed: {}", e.toString());
        }
    }

    private static ProtocolException runFinished() {
        return new ProtocolException(ErrorCode.RUN_FINISHED, "The run has already finished.");
    }
}
