package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.config.Config;
import dev.parley.server.db.Sql;
import dev.parley.server.failure.Failure;
import dev.parley.server.fanout.Envelope;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runs' upkeep in the database, one pass every third of the lease (at most {@link #MAX_MAINTENANCE_EVERY}):
 * renews the leases of this instance's runs, stores the ends of its runs that ended while the database was down
 * ({@code upstream_unavailable}), ends the runs of instances that stopped renewing theirs ({@code service_restart},
 * once the database has answered for a whole lease), and deletes event logs past retention.
 *
 * <p>Threads: {@link #quietlyMaintain} runs on the runs' scheduler; {@link #maintain} also on a caller's thread (tests
 * run a pass at once). The end of another instance's run is one journal unit, on the journal's writer.
 */
final class RunMaintenance {
    static final Duration MAX_MAINTENANCE_EVERY = Duration.ofSeconds(10);
    /** Logs as {@link RunService}: the run machinery's lines keep one logger name whichever part writes them. */
    private static final Logger LOG = LoggerFactory.getLogger(RunService.class);

    private final Sql sql;
    private final RunStore store;
    private final RunEventLog log;
    private final RunJournal journal;
    private final Config.Runs config;
    private final RunMetrics metrics;
    private final Clock clock;
    private final ConcurrentHashMap<String, ActiveRun> active;
    private final ConcurrentHashMap<String, String> unrecordedEnds;
    private final Duration lease;
    private final Duration maintenanceEvery;

    RunMaintenance(Sql sql, RunStore store, RunEventLog log, RunJournal journal, Config.Runs config,
                   RunMetrics metrics, Clock clock, ConcurrentHashMap<String, ActiveRun> active,
                   ConcurrentHashMap<String, String> unrecordedEnds) {
        this.sql = sql;
        this.store = store;
        this.log = log;
        this.journal = journal;
        this.config = config;
        this.metrics = metrics;
        this.clock = clock;
        this.active = active;
        this.unrecordedEnds = unrecordedEnds;
        this.lease = config.lease();
        Duration third = lease.dividedBy(3);
        this.maintenanceEvery = third.compareTo(MAX_MAINTENANCE_EVERY) < 0 ? third : MAX_MAINTENANCE_EVERY;
    }

    /** How often a pass runs. */
    Duration every() {
        return maintenanceEvery;
    }

    void maintain() {
        Instant now = clock.instant();
        List<String> ours = new ArrayList<>(active.keySet());
        ours.addAll(unrecordedEnds.keySet());
        if (!ours.isEmpty()) {
            store.renewLeases(ours, now.plus(lease));
        }
        for (Map.Entry<String, String> unrecorded : List.copyOf(unrecordedEnds.entrySet())) {
            store.find(unrecorded.getValue(), unrecorded.getKey()).ifPresent(run -> end(run, Failure.of(
                    ErrorCode.UPSTREAM_UNAVAILABLE, "The database was unavailable while this request ran; send the"
                    + " message again.")));
            unrecordedEnds.remove(unrecorded.getKey());
        }
        // A lease that ran out while the database was down says nothing of its instance, which could not renew it:
        // every live instance renews its runs' leases within a lease of the database's return, so only then is a
        // run whose lease ran out taken for one whose instance is gone.
        if (sql.health().answeringFor().compareTo(lease) >= 0) {
            for (RunRecord abandoned : store.abandoned(now)) {
                if (!active.containsKey(abandoned.id()) && !unrecordedEnds.containsKey(abandoned.id())) {
                    end(abandoned, Failure.of(ErrorCode.SERVICE_RESTART,
                            "The server that ran this request stopped; send the message again."));
                }
            }
        }
        int purged = log.purge(now.minus(config.eventRetention()));
        if (purged > 0) {
            LOG.info("Purged {} run events past retention", purged);
        }
    }

    /**
     * Ends a run that no agent is running any more (its instance is gone, or it ended while the database was down):
     * marks it failed and appends its {@code agent_error} after its last stored event in one transaction, so that
     * nobody sees the run failed without its last event, and only one instance ends it.
     */
    private void end(RunRecord run, Failure why) {
        // The end and the last event together, as a run of this instance stores them.
        boolean ended = journal.submit((connection, log) -> {
            Instant now = clock.instant();
            if (!store.finish(connection, run.id(), RunStatus.FAILED, now, run.usage(), null, why.code().code())) {
                return false; // another instance ended it first
            }
            // A call that waited for a person never runs now: its approval is settled with the run's end.
            for (String approvalId : Approvals.cancelPending(connection, run.id(), now)) {
                ServerEvent resolved = new ServerEvent(EventType.APPROVAL_RESOLVED, now,
                        Approvals.resolvedData(approvalId, Approvals.CANCELLED), run.threadId(), run.id(),
                        log.nextSeq(run.id()), RunService.RUN_AGENT_NAME);
                log.append(run.userId(), Envelope.of(resolved), now);
            }
            ServerEvent event = new ServerEvent(EventType.AGENT_ERROR, now, RunEnds.errorData(why, 0), run.threadId(),
                    run.id(), log.nextSeq(run.id()), RunService.RUN_AGENT_NAME);
            log.append(run.userId(), Envelope.of(event), now);
            return true;
        });
        if (!ended) {
            return;
        }
        metrics.ended(RunStatus.FAILED);
        LOG.warn("Run {} of user {} is now failed: {}", run.id(), run.userId(), why.code().code());
    }

    void quietlyMaintain() {
        try {
            maintain();
        } catch (RuntimeException e) {
            LOG.warn("Run maintenance failed; will retry in {} ms", maintenanceEvery.toMillis(), e);
        }
    }
}
