package dev.parley.server.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Sql;
import dev.parley.server.db.Writes;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Approvals of tool calls, stored in {@code tool_approvals}: each row is bound to its run, user, call and arguments,
 * starts {@code pending}, and is settled once by a conditional {@code UPDATE} from {@code pending} (a person's
 * decision, the run's expiry, or its end), so the first settlement wins across sockets and instances. A decision is
 * taken only while the run is running and before the approval expires.
 *
 * <p>The run that waits polls its row every {@link #POLL_EVERY} (a decision made on another instance) and is woken at
 * once by a decision made here ({@link #waiters}). Thread-safe; the waiting run's database reads run on a thread of
 * their own, so that a stop interrupting the run never interrupts a JDBC call.
 */
public final class Approvals {
    static final Duration POLL_EVERY = Duration.ofMillis(500);
    static final String PENDING = "pending";
    static final String APPROVED = "approved";
    static final String REJECTED = "rejected";
    static final String EXPIRED = "expired";
    static final String CANCELLED = "cancelled";
    static final String INSERT = "INSERT INTO tool_approvals (id, run_id, user_id, tool_call_id, tool_name, arguments, "
            + "status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    private static final Logger LOG = LoggerFactory.getLogger(Approvals.class);

    private final Sql sql;
    private final Clock clock;
    private final Duration timeout;
    private final ConcurrentHashMap<String, CompletableFuture<Void>> waiters = new ConcurrentHashMap<>();

    Approvals(Sql sql, Clock clock, Duration timeout) {
        this.sql = sql;
        this.clock = clock;
        this.timeout = timeout;
    }

    Duration timeout() {
        return timeout;
    }

    /** What a decision answers: the approval and how it is now settled. */
    public record Decided(String approvalId, String decision) {
    }

    /**
     * A person's decision: {@code approve} or not. The first decision on a pending approval of a running run wins.
     *
     * @throws ProtocolException {@code approval_not_found} (also for another user's), {@code approval_resolved} when
     *                           it was decided, expired or cancelled before, or its run has ended
     */
    public Decided decide(String userId, String approvalId, boolean approve, String reason) {
        if (approvalId == null || approvalId.length() > 36) {
            throw notFound();
        }
        String decision = approve ? APPROVED : REJECTED;
        Instant now = clock.instant();
        int changed = sql.update("UPDATE tool_approvals SET status = ?, reason = ?, decided_at = ? WHERE id = ? "
                        + "AND user_id = ? AND status = ? AND expires_at > ? AND run_id IN "
                        + "(SELECT id FROM runs WHERE status = ?)",
                decision, reason, now, approvalId, userId, PENDING, now, RunStatus.RUNNING.wire());
        if (changed == 0) {
            Optional<String> status = sql.queryOne("SELECT status FROM tool_approvals WHERE id = ? AND user_id = ?",
                    row -> row.getString("status"), approvalId, userId);
            if (status.isEmpty()) {
                throw notFound();
            }
            throw new ProtocolException(ErrorCode.APPROVAL_RESOLVED, "This approval is already settled ("
                    + (PENDING.equals(status.get()) ? "its run has ended or it expired" : status.get()) + ").");
        }
        LOG.info("Approval {} {} by user {}", approvalId, decision, userId);
        CompletableFuture<Void> waiter = waiters.get(approvalId);
        if (waiter != null) {
            waiter.complete(null);
        }
        return new Decided(approvalId, decision);
    }

    /** Whether the run waits for a decision now (what {@code GET /api/runs/{id}} shows as awaiting_approval). */
    boolean awaiting(String runId) {
        return sql.queryOne("SELECT id FROM tool_approvals WHERE run_id = ? AND status = ?", row -> row.getString("id"),
                runId, PENDING).isPresent();
    }

    /** Queues the row of a new approval, in the transaction that also stores its {@code approval_required}. */
    void insert(Writes writes, String approvalId, ActiveRun run, String toolCallId, String toolName,
                JsonNode arguments, Instant createdAt, Instant expiresAt) {
        writes.add(INSERT, approvalId, run.runId, run.userId, toolCallId, toolName, Json.write(arguments), PENDING,
                createdAt, expiresAt);
    }

    /** Starts listening for a decision on this instance; {@link #forget} ends it. */
    CompletableFuture<Void> listen(String approvalId) {
        CompletableFuture<Void> signal = new CompletableFuture<>();
        waiters.put(approvalId, signal);
        return signal;
    }

    void forget(String approvalId) {
        waiters.remove(approvalId);
    }

    /**
     * Waits until the approval is settled and returns how: a decision, or {@code expired} once {@code expiresAt}
     * passes with none (the expiry is itself a settlement, so a decision racing it either wins or gets
     * {@code approval_resolved}).
     */
    String await(String approvalId, Instant expiresAt, CompletableFuture<Void> signal) throws InterruptedException {
        while (true) {
            String status = offThread(() -> status(approvalId));
            if (!PENDING.equals(status)) {
                return status;
            }
            Instant now = clock.instant();
            if (!now.isBefore(expiresAt)) {
                if (offThread(() -> settle(approvalId, EXPIRED))) {
                    return EXPIRED;
                }
                continue;
            }
            long waitMillis = Math.max(1, Math.min(POLL_EVERY.toMillis(), Duration.between(now, expiresAt).toMillis()));
            try {
                signal.get(waitMillis, TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                // poll again
            }
        }
    }

    /** Marks an approved call as run; false when it was run before (it must not run again) or is not approved. */
    boolean claim(String approvalId) throws InterruptedException {
        Instant now = clock.instant();
        return offThread(() -> sql.update("UPDATE tool_approvals SET executed_at = ? WHERE id = ? AND status = ? "
                + "AND executed_at IS NULL", now, approvalId, APPROVED) == 1);
    }

    /**
     * Settles a pending approval as {@code cancelled} (its run ended) and returns how it is settled now: {@code
     * cancelled}, or the decision that came first. Runs on the caller's thread.
     */
    String cancel(String approvalId) {
        return settle(approvalId, CANCELLED) ? CANCELLED : status(approvalId);
    }

    /**
     * Settles as {@code cancelled} every pending approval of a run that another instance ends (its own instance died),
     * in that end's transaction; returns the ids it settled. A decision that came first stays.
     */
    static List<String> cancelPending(Connection connection, String runId, Instant now) throws SQLException {
        List<String> settled = new ArrayList<>();
        for (String approvalId : Sql.query(connection, "SELECT id FROM tool_approvals WHERE run_id = ? AND status = ?",
                row -> row.getString("id"), runId, PENDING)) {
            if (Sql.update(connection, "UPDATE tool_approvals SET status = ?, decided_at = ? WHERE id = ? AND status = ?",
                    CANCELLED, now, approvalId, PENDING) == 1) {
                settled.add(approvalId);
            }
        }
        return settled;
    }

    /** The data of an {@code approval_resolved} event. */
    static ObjectNode resolvedData(String approvalId, String decision) {
        ObjectNode data = Json.object();
        data.put("approval_id", approvalId);
        data.put("decision", decision);
        return data;
    }

    private boolean settle(String approvalId, String status) {
        return sql.update("UPDATE tool_approvals SET status = ?, decided_at = ? WHERE id = ? AND status = ?", status,
                clock.instant(), approvalId, PENDING) == 1;
    }

    private String status(String approvalId) {
        return sql.queryOne("SELECT status FROM tool_approvals WHERE id = ?", row -> row.getString("status"),
                approvalId).orElse(CANCELLED);
    }

    /** Runs a database call on a thread of its own and waits for it; an interrupt leaves the call to finish alone. */
    private static <T> T offThread(Callable<T> work) throws InterruptedException {
        FutureTask<T> task = new FutureTask<>(work);
        Thread.ofVirtual().name("parley-approval").start(task);
        try {
            return task.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw new IllegalStateException("an approval query failed", e.getCause());
        }
    }

    private static ProtocolException notFound() {
        return new ProtocolException(ErrorCode.APPROVAL_NOT_FOUND, "There is no such approval.");
    }
}
