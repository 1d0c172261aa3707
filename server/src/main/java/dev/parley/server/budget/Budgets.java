package dev.parley.server.budget;

import dev.parley.server.config.Config;
import dev.parley.server.db.Ids;
import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The spend ledger: per user and period, the limit, what is spent and what is held, in the database every instance
 * shares (so it holds across instances and with Redis down). A reservation is one conditional write of the user's
 * ledger row ({@code spent + held + most <= limit}) plus the hold's own row, in one transaction; a commit turns the
 * hold into spending (the hold's row deleted, and one update of the ledger row that returns the position), a release
 * gives it back. A commit can be queued without waiting for it ({@link #commitAsync}): its hold stays counted until
 * it commits. The transactions run through a {@link LedgerWriter}: on the embedded database, the run journal's, so
 * that they join its batched commits; on PostgreSQL a {@link LedgerBatcher} of its own, which commits many units in
 * one transaction (until another writer is {@linkplain #writeThrough set}); without budgets, each on a pool connection
 * of its own, on a thread apart from the caller's. Holds belong to runs: a run's agent commits or releases
 * its own, and a sweep on every instance releases the holds of runs that ended without doing so (their instance
 * died and another instance ended them when their lease ran out), as the contract says.
 *
 * <p>Users without a limit (no default, no override) cost no ledger writes: their holds are untracked. When budgets
 * are not enabled at all ({@link Config.Budget#enabled()}), nothing here touches the database. Thread-safe.
 *
 * <p>It is one class of over 500 lines because admission, charge, release and the sweep are the four writes of one
 * ledger row and must agree on its arithmetic; each has an embedded (journal) and a PostgreSQL (one statement) form.
 */
public final class Budgets implements AutoCloseable {
    /** How often every instance releases the holds of runs that ended elsewhere. */
    static final Duration SWEEP_EVERY = Duration.ofSeconds(2);
    /** How old a hold of a run that was never stored (its start failed) must be before the sweep releases it. */
    static final Duration ORPHAN_AGE = Duration.ofMinutes(1);
    private static final Logger LOG = LoggerFactory.getLogger(Budgets.class);
    private static final String ADMIT = "UPDATE budget_ledger SET held_micros = held_micros + ? "
            + "WHERE user_id = ? AND period_start = ? AND spent_micros + held_micros + ? <= ?";
    /**
     * A commit's one write of the ledger row: the hold's part released, the cost spent, and {@code warned} counted
     * from 0 to 1 by the first commit that finds the period at or past the warning share (2 for every later one), so
     * that the row it returns says whether this commit is the one that warns.
     */
    private static final String CHARGE = "UPDATE budget_ledger SET held_micros = held_micros - ?, "
            + "spent_micros = spent_micros + ?, warned = CASE WHEN spent_micros + ? >= ? "
            + "THEN (CASE WHEN warned = 0 THEN 1 ELSE 2 END) ELSE warned END "
            + "WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros, warned";

    /**
     * A reservation in one statement, for PostgreSQL: the conditional write of the user's ledger row and, when it
     * admitted the amount, the hold's row; one round trip where the two take two. Inserts nothing (and updates
     * nothing) when the amount does not fit or the period has no row yet.
     */
    private static final String RESERVE_AT_ONCE = "WITH admitted AS (" + ADMIT + " RETURNING user_id) "
            + "INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted";
    /**
     * A run's first reservation in one statement, for PostgreSQL, under the user's own limit or else the default
     * (the last parameter of {@code lim}): {@link #RESERVE_AT_ONCE} with the limit read in the same statement, which
     * returns the limit it applied and whether the hold was taken. The query before it that reads the limit is one
     * round trip less per run.
     */
    private static final String RESERVE_FIRST_AT_ONCE = "WITH lim AS (SELECT COALESCE((SELECT limit_micros "
            + "FROM budget_limits WHERE user_id = ?), ?) AS micros), admitted AS (UPDATE budget_ledger "
            + "SET held_micros = held_micros + ? WHERE user_id = ? AND period_start = ? "
            + "AND spent_micros + held_micros + ? <= (SELECT micros FROM lim) RETURNING user_id), "
            + "held AS (INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted RETURNING id) "
            + "SELECT (SELECT micros FROM lim) AS limit_micros, (SELECT COUNT(*) FROM held) AS taken";
    /**
     * A charge in one statement, for PostgreSQL: the hold's row deleted and the ledger row updated as {@link #CHARGE}
     * does, with what the deleted row held released; the call's whole cost is spent either way (a hold already
     * released by the sweep frees nothing).
     */
    private static final String CHARGE_AT_ONCE = "WITH released AS (DELETE FROM budget_holds WHERE id = ? "
            + "RETURNING amount_micros), charge AS (SELECT COALESCE((SELECT amount_micros FROM released), 0) AS freed, "
            + "CAST(? AS BIGINT) AS cost) "
            + "UPDATE budget_ledger SET held_micros = held_micros - charge.freed, "
            + "spent_micros = spent_micros + charge.cost, warned = CASE WHEN spent_micros + charge.cost >= ? "
            + "THEN (CASE WHEN warned = 0 THEN 1 ELSE 2 END) ELSE warned END "
            + "FROM charge WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros, warned";

    private final Sql sql;
    private final Config.Budget config;
    private final Metrics metrics;
    private final Clock clock;
    private final ScheduledFuture<?> sweep; // null when budgets are not enabled
    /** Where ledger writes run without a writer: never on a run's own thread, whose interrupt (a stop) would break
     *  the connection. */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
    private final LedgerBatcher batcher; // null: not PostgreSQL, or budgets not enabled
    private volatile LedgerWriter writer;
    private volatile boolean holdsInStarts;

    /** The sweep runs every {@link #SWEEP_EVERY} on {@code scheduler}, the process's housekeeping scheduler. */
    public Budgets(Sql sql, Config.Budget config, Metrics metrics, Clock clock, ScheduledExecutorService scheduler) {
        this.sql = sql;
        this.config = config;
        this.metrics = metrics;
        this.clock = clock;
        this.batcher = config.enabled() && !sql.sqlite() ? new LedgerBatcher(sql) : null;
        this.writer = batcher != null ? batcher : this::ownTransaction;
        if (config.enabled()) {
            metrics.gauge("parley_budget_spent_usd", "What users spent in the current budget period, all users.",
                    () -> quietlyTotal("spent_micros"));
            metrics.gauge("parley_budget_held_usd", "What LLM calls in flight hold in the current budget period.",
                    () -> quietlyTotal("held_micros"));
            this.sweep = scheduler.scheduleWithFixedDelay(this::quietlySweep, SWEEP_EVERY.toMillis(),
                    SWEEP_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        } else {
            this.sweep = null;
        }
    }

    public Config.Budget config() {
        return config;
    }

    /** Runs the ledger's transactions through {@code writer} from now on (the server's: the run journal's). */
    public void writeThrough(LedgerWriter writer) {
        this.writer = writer;
    }

    /**
     * As {@link #writeThrough}, for the writer that also stores runs' starts (the run journal's): a start then takes
     * its first call's hold in its own transaction ({@link #takesHoldsInStarts}).
     */
    public void writeThroughStarts(LedgerWriter writer) {
        this.writer = writer;
        this.holdsInStarts = true;
    }

    /** The ledger's transactions without a writer: each on a pool connection of its own, apart from the caller. */
    private <T> CompletableFuture<T> ownTransaction(Sql.Work<T> work) {
        return CompletableFuture.supplyAsync(() -> sql.inTransaction(work), writers);
    }

    /**
     * Whether reservations and charges are each one statement (a data-modifying {@code WITH}): on PostgreSQL. SQLite
     * cannot modify rows in a {@code WITH} clause.
     */
    private boolean oneStatement() {
        return !sql.sqlite();
    }

    /** Runs a ledger transaction on the row of {@code userId} through the writer and waits for its commit, not
     *  interruptibly. */
    private <T> T write(String userId, Sql.Work<T> work) {
        return join(writer.submit(userId, work));
    }

    /** Whether any user can have a limit; when not, the agent loop does no budget work at all. */
    public boolean enabled() {
        return config.enabled();
    }

    /** The period that contains the present. */
    public Period currentPeriod() {
        return Period.containing(config.period(), clock.instant());
    }

    /** The user's limit in micro-dollars: their own, or the default; empty when they have none. */
    public Optional<Long> limitMicros(String userId) {
        if (!config.enabled()) {
            return Optional.empty();
        }
        return override(userId).map(Money::micros).or(() -> config.limitUsd().map(Money::micros));
    }

    /**
     * Whether a run's first reservation reads the user's limit itself ({@link #reserveFirst}, or {@link #takeFirst}
     * when starts take their holds) instead of a query before it ({@link #limitMicros}): with a default limit, since
     * every user then has a limit and no run needs the query to know whether its user has one.
     */
    public boolean readsLimitsInReservations() {
        return config.enabled() && config.limitUsd().isPresent();
    }

    /**
     * The user's limit as a run is admitted: empty when they have none; when the run's first reservation reads it
     * ({@link #readsLimitsInReservations}), the default, which {@link #reserveFirst} replaces with their own.
     */
    public Optional<Long> admissionLimitMicros(String userId) {
        return readsLimitsInReservations() ? config.limitUsd().map(Money::micros) : limitMicros(userId);
    }

    /** The limit an admin set for this user, if any. */
    public Optional<BigDecimal> override(String userId) {
        return sql.withConnection(connection -> ownLimitMicros(connection, userId)).map(Money::usd);
    }

    /** The limit an admin set for this user, in micro-dollars, read on {@code connection}. */
    private static Optional<Long> ownLimitMicros(Connection connection, String userId) throws SQLException {
        return Sql.query(connection, "SELECT limit_micros FROM budget_limits WHERE user_id = ?",
                row -> row.getLong("limit_micros"), userId).stream().findFirst();
    }

    /** Sets the user's own limit, or with {@code null} puts them back on the default. */
    public void setOverride(String userId, BigDecimal limitUsd) {
        if (limitUsd == null) {
            sql.update("DELETE FROM budget_limits WHERE user_id = ?", userId);
            return;
        }
        sql.update("INSERT INTO budget_limits (user_id, limit_micros, updated_at) VALUES (?, ?, ?) "
                        + "ON CONFLICT (user_id) DO UPDATE SET limit_micros = excluded.limit_micros, "
                        + "updated_at = excluded.updated_at", userId, Money.micros(limitUsd), clock.instant());
    }

    /**
     * Reserves {@code mostUsd} for one call of a run against the limit {@code limitMicros} (null: none, and nothing is
     * written), charged to the current period.
     *
     * @throws BudgetExceededException when the period's spent, held and this amount would pass the limit
     */
    public Hold reserve(String userId, String runId, Long limitMicros, BigDecimal mostUsd) {
        if (limitMicros == null) {
            return Hold.untracked(userId, runId);
        }
        Hold hold = prepare(userId, runId, limitMicros, mostUsd);
        long[] position = write(userId, connection -> takeHold(connection, hold));
        if (position != null) {
            throw refused(exceeded(hold, position), userId);
        }
        return hold;
    }

    /**
     * Reserves a run's first call as {@link #reserve} does, under the user's own limit or else the default, read in
     * the reservation's own transaction (on PostgreSQL in its one statement); the hold carries the limit it applied,
     * which the run's later calls are reserved under.
     *
     * @throws BudgetExceededException when the period's spent, held and this amount would pass that limit
     */
    public Hold reserveFirst(String userId, String runId, BigDecimal mostUsd) {
        long fallback = config.limitUsd().map(Money::micros).orElseThrow(() ->
                new IllegalStateException("No default limit to read a user's limit against"));
        Hold prepared = prepare(userId, runId, fallback, mostUsd);
        record Taken(Hold hold, long[] refusedAt) {
        }
        Taken taken = write(userId, connection -> {
            if (!oneStatement()) {
                Hold hold = prepared.withLimit(ownLimitMicros(connection, userId).orElse(fallback));
                return new Taken(hold, takeHold(connection, hold));
            }
            long[] row = Sql.query(connection, RESERVE_FIRST_AT_ONCE, result -> new long[] {
                    result.getLong("limit_micros"), result.getLong("taken")}, userId, fallback, prepared.micros(),
                    userId, prepared.periodStart(), prepared.micros(), prepared.id(), runId, userId,
                    prepared.periodStart(), prepared.micros(), clock.instant()).getFirst();
            Hold hold = prepared.withLimit(row[0]);
            // Not taken at once (no room, or the period's first reservation): the statements below decide.
            return new Taken(hold, row[1] == 1 ? null : admitHold(connection, hold));
        });
        if (taken.refusedAt() != null) {
            throw refused(exceeded(taken.hold(), taken.refusedAt()), userId);
        }
        return taken.hold();
    }

    /**
     * A reservation of {@code mostUsd} in the current period whose admission a caller decides inside a transaction
     * of its own ({@link #take}): a run's start, when the ledger's writer is the one that stores starts, so that the
     * start and its first call's reservation are one commit.
     */
    public Hold prepare(String userId, String runId, long limitMicros, BigDecimal mostUsd) {
        return new Hold(Ids.timeOrdered(), userId, runId, currentPeriod().key(), Money.microsCeiling(mostUsd),
                limitMicros);
    }

    /**
     * The work that takes a {@linkplain #prepare prepared} hold inside the caller's transaction: the conditional
     * write of admission and the hold's row, as {@link #reserve} does. It returns null when the hold was taken;
     * when it does not fit, nothing is written but the period's (empty) ledger row, and it returns the refusal, to be
     * counted with {@link #refused} once the caller's transaction is over. It leaves the same result when run again
     * after a rollback.
     */
    public Sql.Work<BudgetExceededException> take(Hold hold) {
        return connection -> {
            long[] position = takeHold(connection, hold);
            return position == null ? null : exceeded(hold, position);
        };
    }

    /**
     * As {@link #take}, for a run's first hold when {@linkplain #readsLimitsInReservations reservations read the
     * limit}: the hold was prepared under the default, and the work reads the user's own limit in the caller's
     * transaction and takes the hold under it. {@code taken} receives the hold with the limit it was taken under
     * (each time the work runs), which the run's later calls are reserved under.
     */
    public Sql.Work<BudgetExceededException> takeFirst(Hold prepared, Consumer<Hold> taken) {
        return connection -> {
            Hold hold = prepared.withLimit(ownLimitMicros(connection, prepared.userId())
                    .orElse(prepared.limitMicros()));
            taken.accept(hold);
            return take(hold).run(connection);
        };
    }

    /** Whether the ledger's writer also stores runs' starts, so that a start can {@link #take} its first hold. */
    public boolean takesHoldsInStarts() {
        return holdsInStarts;
    }

    /**
     * Takes a hold in the caller's transaction: null when taken, otherwise the position (spent, held) that refused.
     * On PostgreSQL a hold that fits in an existing row takes one statement.
     */
    private long[] takeHold(Connection connection, Hold hold) throws SQLException {
        if (oneStatement() && Sql.update(connection, RESERVE_AT_ONCE, hold.micros(), hold.userId(),
                hold.periodStart(), hold.micros(), hold.limitMicros(), hold.id(), hold.runId(), hold.userId(),
                hold.periodStart(), hold.micros(), clock.instant()) == 1) {
            return null;
        }
        // Not admitted at once (no room, or the period's first reservation): the statements below decide, and say why.
        return admitHold(connection, hold);
    }

    /** The conditional write and the hold's row: null when taken, otherwise the position (spent, held) that refused. */
    private long[] admitHold(Connection connection, Hold hold) throws SQLException {
        if (!admit(connection, hold.userId(), hold.periodStart(), hold.micros(), hold.limitMicros())) {
            return ledger(connection, hold.userId(), hold.periodStart());
        }
        Sql.update(connection, "INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, "
                + "created_at) VALUES (?, ?, ?, ?, ?, ?)", hold.id(), hold.runId(), hold.userId(), hold.periodStart(),
                hold.micros(), clock.instant());
        return null;
    }

    /**
     * Makes a hold cover {@code mostUsd} at least (a call that turned out larger than reserved for it, such as the
     * first call of a run that continues a thread); the increase is admitted as a reservation is.
     *
     * @throws BudgetExceededException when the increase does not fit
     */
    public Hold grow(Hold hold, BigDecimal mostUsd) {
        long amount = Money.microsCeiling(mostUsd);
        if (!hold.tracked() || amount <= hold.micros()) {
            return hold;
        }
        long increase = amount - hold.micros();
        boolean grown = write(hold.userId(), connection -> {
            if (Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", amount,
                    hold.id()) != 1) {
                return false; // released by whoever ended the run
            }
            if (admit(connection, hold.userId(), hold.periodStart(), increase, hold.limitMicros())) {
                return true;
            }
            Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", hold.micros(),
                    hold.id());
            return false;
        });
        if (!grown) {
            // Rolled back: the hold is as it was, and still the run's to release.
            throw refused(exceeded(hold, ledger(hold.userId(), hold.periodStart())), hold.userId());
        }
        return hold.withMicros(amount);
    }

    /**
     * Runs ledger work on a thread of its own and waits for it without being interruptible: the caller may be a run's
     * thread, and a stop must not cut a statement off mid-way (an interrupted virtual thread closes its socket).
     * A stop still ends the run right after, since the caller's interrupt stays set.
     */
    private <T> T apart(Supplier<T> work) {
        return join(CompletableFuture.supplyAsync(work, writers));
    }

    /** Waits for ledger work, not interruptibly; a failure comes out as what the work threw. */
    private static <T> T join(CompletableFuture<T> done) {
        try {
            return done.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw e;
        }
    }

    /** The conditional write of admission; creates the period's row on first use. */
    private static boolean admit(Connection connection, String userId, String period, long amount, long limit)
            throws SQLException {
        if (Sql.update(connection, ADMIT, amount, userId, period, amount, limit) == 1) {
            return true;
        }
        // No row yet, or no room. The insert waits for a concurrent one of the same row and then does nothing, and
        // the second try sees that row committed.
        Sql.update(connection, "INSERT INTO budget_ledger (user_id, period_start, spent_micros, held_micros, warned) "
                + "VALUES (?, ?, 0, 0, 0) ON CONFLICT DO NOTHING", userId, period);
        return Sql.update(connection, ADMIT, amount, userId, period, amount, limit) == 1;
    }

    /** The refusal of a hold that does not fit beside {@code position} (spent, held). */
    private BudgetExceededException exceeded(Hold hold, long[] position) {
        long remaining = Math.max(0, hold.limitMicros() - position[0] - position[1]);
        return new BudgetExceededException(Money.usd(remaining), periodOf(hold).endInstant());
    }

    /** Counts a refusal on /metrics and logs it; returns it. */
    public BudgetExceededException refused(BudgetExceededException refusal, String userId) {
        metrics.increment("parley_budget_refusals_total", "Reservations refused because a user's budget could not "
                + "cover them (starts refused and runs ended budget_exhausted).");
        LOG.info("Budget of user {} cannot cover a call: {} USD left in the period that ends at {}", userId,
                refusal.remainingUsd(), refusal.details().get("resets_at"));
        return refusal;
    }

    /**
     * Turns a hold into spending, and waits for it: see {@link #commitAsync}.
     *
     * @return the user's position afterwards, or null for an untracked hold
     */
    public Charge commit(Hold hold, BigDecimal costUsd) {
        return join(commitAsync(hold, costUsd));
    }

    /**
     * Queues the charge of a finished call: the call cost {@code costUsd}, and in the same transaction its hold is
     * deleted and the rest of it released. Until that transaction commits the hold stays counted in full, so that
     * reservations admitted meanwhile (the run's next call among them) still see it: the charge may commit after
     * them, and admission stays conservative. A hold already gone was released by the sweep (its run was ended
     * elsewhere, {@link #releaseHoldsOfEndedRuns}); the call's whole cost is spent all the same.
     *
     * @return the user's position once the charge has committed (null for an untracked hold)
     */
    public CompletableFuture<Charge> commitAsync(Hold hold, BigDecimal costUsd) {
        if (!hold.tracked()) {
            return CompletableFuture.completedFuture(null);
        }
        long cost = Money.micros(costUsd);
        long limit = hold.limitMicros();
        long threshold = BigDecimal.valueOf(limit).multiply(config.warnAt()).setScale(0, RoundingMode.CEILING)
                .longValueExact();
        return writer.submit(hold.userId(), connection -> {
            if (oneStatement()) {
                return charge(cost, limit, Sql.query(connection, CHARGE_AT_ONCE, Budgets::position, hold.id(), cost,
                        threshold, hold.userId(), hold.periodStart()));
            }
            boolean held = Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", hold.id()) == 1;
            long released = held ? hold.micros() : 0;
            long spent = cost;
            return charge(cost, limit, Sql.query(connection, CHARGE, Budgets::position, released, spent, spent,
                    threshold, hold.userId(), hold.periodStart()));
        });
    }

    /** A ledger row as a charge returns it: spent, held, warned. */
    private static long[] position(ResultSet row) throws SQLException {
        return new long[] {row.getLong("spent_micros"), row.getLong("held_micros"), row.getLong("warned")};
    }

    /** What a charge of {@code cost} left, from the ledger row it returned (spent, held, warned). */
    private static Charge charge(long cost, long limit, List<long[]> rows) {
        long[] row = rows.isEmpty() ? new long[] {0, 0, 0} : rows.getFirst();
        return new Charge(Money.usd(cost), Money.usd(row[0]), Money.usd(limit),
                Money.usd(Math.max(0, limit - row[0] - row[1])), row[2] == 1);
    }

    /**
     * Charges a call that was made without a hold (which the agent loop never does: every call it sends is reserved
     * first); what the provider billed is recorded all the same, past the limit if need be.
     */
    public Charge chargeUnreserved(String userId, String runId, long limitMicros, BigDecimal costUsd) {
        LOG.error("A call of run {} of user {} was made without a reservation; charging its cost {} USD anyway", runId,
                userId, costUsd);
        Hold hold = new Hold(Ids.timeOrdered(), userId, runId, currentPeriod().key(), 0, limitMicros);
        write(userId, connection -> Sql.update(connection, "INSERT INTO budget_ledger (user_id, period_start, "
                + "spent_micros, held_micros, warned) VALUES (?, ?, 0, 0, 0) ON CONFLICT DO NOTHING", userId,
                hold.periodStart()));
        return commit(hold, costUsd);
    }

    /**
     * Gives a hold back (a call that was stopped or failed); a failure is logged, and the sweep releases the hold
     * once the run has ended.
     */
    public void quietlyRelease(Hold hold) {
        if (hold == null || !hold.tracked()) {
            return;
        }
        try {
            write(hold.userId(), connection -> release(connection, hold.id(), hold.userId(), hold.periodStart(),
                    hold.micros()));
        } catch (RuntimeException e) {
            LOG.warn("Releasing hold {} of run {} failed; it is released once the run has ended: {}", hold.id(),
                    hold.runId(), e.toString());
        }
    }

    private static boolean release(Connection connection, String holdId, String userId, String period, long micros)
            throws SQLException {
        if (Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", holdId) != 1) {
            return false; // someone else released it
        }
        Sql.update(connection, "UPDATE budget_ledger SET held_micros = held_micros - ? WHERE user_id = ? "
                + "AND period_start = ?", micros, userId, period);
        return true;
    }

    /** The user's position in the current period. */
    public BudgetStatus status(String userId) {
        Period period = currentPeriod();
        Optional<Long> limit = limitMicros(userId);
        long[] row = config.enabled() ? ledger(userId, period.key()) : new long[] {0, 0};
        return new BudgetStatus(limit.map(Money::usd), Money.usd(row[0]), Money.usd(row[1]),
                limit.map(l -> Money.usd(Math.max(0, l - row[0] - row[1]))), period);
    }

    private long[] ledger(String userId, String period) {
        return apart(() -> sql.withConnection(connection -> ledger(connection, userId, period)));
    }

    /** The period a hold was taken in. */
    private Period periodOf(Hold hold) {
        return Period.containing(config.period(), LocalDate.parse(hold.periodStart()).atStartOfDay(ZoneOffset.UTC)
                .toInstant());
    }

    private static long[] ledger(Connection connection, String userId, String period) throws SQLException {
        List<long[]> rows = Sql.query(connection, "SELECT spent_micros, held_micros FROM budget_ledger "
                        + "WHERE user_id = ? AND period_start = ?",
                row -> new long[] {row.getLong("spent_micros"), row.getLong("held_micros")}, userId, period);
        return rows.isEmpty() ? new long[] {0, 0} : rows.getFirst();
    }

    /**
     * Releases the holds of runs that have ended (their agent could neither charge nor release them: its instance
     * died, or a release failed) and of runs that were never stored (their instance died between admission and storing
     * the start) once they are {@link #ORPHAN_AGE} old. A call of a live instance never loses its hold this way: a run
     * ends only after its charges have committed.
     *
     * @return how many holds were released
     */
    public int releaseHoldsOfEndedRuns() {
        Instant orphanedBefore = clock.instant().minus(ORPHAN_AGE);
        record Left(String id, String userId, String period, long micros) {
        }
        List<Left> left = sql.query("SELECT h.id, h.user_id, h.period_start, h.amount_micros FROM budget_holds h "
                        + "LEFT JOIN runs r ON r.id = h.run_id "
                        + "WHERE (r.id IS NULL AND h.created_at < ?) OR (r.id IS NOT NULL AND r.status <> ?)",
                row -> new Left(row.getString("id"), row.getString("user_id"), row.getString("period_start"),
                        row.getLong("amount_micros")), orphanedBefore, "running");
        int released = 0;
        for (Left hold : left) {
            if (write(hold.userId(), connection -> release(connection, hold.id(), hold.userId(), hold.period(),
                    hold.micros()))) {
                released++;
            }
        }
        if (released > 0) {
            metrics.add("parley_budget_holds_swept_total", "Holds released after their run ended without releasing "
                    + "or charging them (its instance stopped).", released);
            LOG.info("Released {} hold(s) of runs that ended elsewhere", released);
        }
        return released;
    }

    private void quietlySweep() {
        try {
            releaseHoldsOfEndedRuns();
        } catch (RuntimeException e) {
            LOG.debug("Releasing the holds of ended runs failed: {}", e.toString());
        }
    }

    private double quietlyTotal(String column) {
        try {
            String period = currentPeriod().key();
            return sql.queryOne("SELECT COALESCE(SUM(" + column + "), 0) AS total FROM budget_ledger "
                    + "WHERE period_start = ?", row -> row.getLong("total"), period)
                    .map(micros -> micros / 1e6).orElse(0.0);
        } catch (RuntimeException e) {
            return Double.NaN;
        }
    }

    @Override
    public void close() {
        if (sweep != null) {
            sweep.cancel(true);
        }
        if (batcher != null) {
            batcher.close();
        }
        writers.shutdown();
    }
}
