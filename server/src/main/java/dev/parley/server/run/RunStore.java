package dev.parley.server.run;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.Usage;
import dev.parley.server.db.Sql;
import dev.parley.server.db.Writes;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Runs in the relational database (the same SQL on SQLite and PostgreSQL). A running run holds
 * its thread in {@code active_thread_id}, which a unique index keeps to one run per thread on every instance; it
 * also names the instance that runs it and a lease that instance renews, so that the runs of a vanished instance can
 * be told apart and ended. Stateless and thread-safe.
 */
final class RunStore {
    private static final String RUN_COLUMNS = "id, thread_id, user_id, status, user_message_id, assistant_message_id, "
            + "started_at, finished_at, input_tokens, output_tokens, cost_usd, error_code";

    private final Sql sql;

    RunStore(Sql sql) {
        this.sql = sql;
    }

    /** A run's writes, for a {@link Writes} that runs them in batches: the insert after its thread's. */
    static final String INSERT_RUN = "INSERT INTO runs (id, thread_id, user_id, status, user_message_id, started_at, "
            + "instance_id, lease_until, active_thread_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    static final String FINISH_RUN = "UPDATE runs SET status = ?, finished_at = ?, input_tokens = ?, output_tokens = ?, "
            + "cost_usd = ?, assistant_message_id = ?, error_code = ?, active_thread_id = NULL, "
            + "lease_until = NULL WHERE id = ? AND status = ?";

    /**
     * Queues a running run; the flush throws {@code run_in_progress} when the thread already has a running run.
     */
    void insertRunning(Writes writes, String runId, String threadId, String userId, String userMessageId,
                       Instant startedAt, String instanceId, Instant leaseUntil) {
        writes.add(INSERT_RUN, failure -> Sql.isUniqueViolation(failure) ? runInProgress() : null,
                runId, threadId, userId, RunStatus.RUNNING.wire(), userMessageId, startedAt, instanceId, leaseUntil,
                threadId);
    }

    static ProtocolException runInProgress() {
        return new ProtocolException(ErrorCode.RUN_IN_PROGRESS,
                "A run is already in progress on this thread; stop it or wait for it to finish.");
    }

    /** Records how a run ended and frees its thread for the next run; false when it had already ended. */
    boolean finish(Connection connection, String runId, RunStatus status, Instant finishedAt, Usage usage,
                   String assistantMessageId, String errorCode) throws SQLException {
        return Sql.update(connection, FINISH_RUN, finishParams(runId, status, finishedAt, usage, assistantMessageId,
                errorCode)) > 0;
    }

    /** Queues the end of a run; the flush throws what {@code alreadyEnded} supplies when it had already ended. */
    void finish(Writes writes, String runId, RunStatus status, Instant finishedAt, Usage usage,
                String assistantMessageId, String errorCode, Supplier<? extends RuntimeException> alreadyEnded) {
        writes.expectOneRow(FINISH_RUN, alreadyEnded, finishParams(runId, status, finishedAt, usage,
                assistantMessageId, errorCode));
    }

    private Object[] finishParams(String runId, RunStatus status, Instant finishedAt, Usage usage,
                                  String assistantMessageId, String errorCode) {
        return new Object[] {status.wire(), finishedAt, usage.inputTokens(), usage.outputTokens(),
                sql.money(usage.costUsd()), assistantMessageId, errorCode, runId, RunStatus.RUNNING.wire()};
    }

    boolean finish(String runId, RunStatus status, Instant finishedAt, Usage usage, String errorCode) {
        return sql.withConnection(connection -> finish(connection, runId, status, finishedAt, usage, null, errorCode));
    }

    /** The run if it exists and belongs to the user. */
    Optional<RunRecord> find(String userId, String runId) {
        if (runId == null) {
            return Optional.empty();
        }
        return sql.queryOne("SELECT " + RUN_COLUMNS + " FROM runs WHERE id = ? AND user_id = ?", this::run,
                runId, userId);
    }

    Optional<RunRecord> findRunningOnThread(String userId, String threadId) {
        return sql.queryOne("SELECT " + RUN_COLUMNS + " FROM runs WHERE active_thread_id = ? AND user_id = ?",
                this::run, threadId, userId);
    }

    /** Extends the leases of the given running runs (the ones this instance is running). */
    void renewLeases(List<String> runIds, Instant leaseUntil) {
        for (int from = 0; from < runIds.size(); from += 100) {
            List<String> chunk = runIds.subList(from, Math.min(runIds.size(), from + 100));
            Object[] params = new Object[chunk.size() + 2];
            params[0] = leaseUntil;
            params[1] = RunStatus.RUNNING.wire();
            for (int i = 0; i < chunk.size(); i++) {
                params[i + 2] = chunk.get(i);
            }
            sql.update("UPDATE runs SET lease_until = ? WHERE status = ? AND id IN ("
                    + String.join(", ", java.util.Collections.nCopies(chunk.size(), "?")) + ")", params);
        }
    }

    /** Asks, through the database, for a running run to be stopped by whichever instance runs it. */
    boolean requestStop(String runId, Instant at) {
        return sql.update("UPDATE runs SET stop_requested_at = ? WHERE id = ? AND status = ?", at, runId,
                RunStatus.RUNNING.wire()) > 0;
    }

    /** The running runs of an instance that someone asked to stop. */
    List<String> stopRequested(String instanceId) {
        return sql.query("SELECT id FROM runs WHERE status = ? AND instance_id = ? AND stop_requested_at IS NOT NULL",
                row -> row.getString("id"), RunStatus.RUNNING.wire(), instanceId);
    }

    /** Running runs whose lease ran out: their instance stopped renewing it. */
    List<RunRecord> abandoned(Instant now) {
        return sql.query("SELECT " + RUN_COLUMNS + " FROM runs WHERE status = ? AND lease_until < ?", this::run,
                RunStatus.RUNNING.wire(), now);
    }

    private RunRecord run(ResultSet row) throws SQLException {
        Usage usage = new Usage(row.getLong("input_tokens"), row.getLong("output_tokens"), sql.money(row, "cost_usd"));
        return new RunRecord(row.getString("id"), row.getString("thread_id"), row.getString("user_id"),
                RunStatus.fromWire(row.getString("status")), row.getString("user_message_id"),
                row.getString("assistant_message_id"), Sql.instant(row, "started_at"), Sql.instant(row, "finished_at"),
                usage, row.getString("error_code"));
    }
}
