package dev.parley.server.budget;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
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
    /**
     * A hold asks for room beyond its own amount only while the share 1/{@value} of the limit stays free after it, so
     * that the room of some runs does not refuse the starts of others while the budget is far from spent; closer to
     * the limit, every hold is its call's amount alone.
     */
    static final long ROOM_ONLY_WHILE_FREE = 2;
    private static final Logger LOG = LoggerFactory.getLogger(Budgets.class);
    /** Admission's conditional write of the ledger row; returns the row's spent and held after it. */
    private static final String ADMIT = "UPDATE budget_ledger SET held_micros = held_micros + ? "
            + "WHERE user_id = ? AND period_start = ? AND spent_micros + held_micros + ? <= ? "
            + "RETURNING spent_micros, held_micros";
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
     * admitted the amount, the hold's row; one round trip where the two take two. Returns the row's spent and held
     * after it, and no row (inserting and updating nothing) when the amount does not fit or the period has no row yet.
     */
    private static final String RESERVE_AT_ONCE = "WITH admitted AS (" + ADMIT + "), "
            + "held AS (INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted) SELECT spent_micros, held_micros FROM admitted";
    /**
     * A run's first reservation in one statement, for PostgreSQL, under the user's own limit or else the default
     * (the second parameter): {@link #RESERVE_AT_ONCE} with the limit read in the same statement, which returns the
     * limit it applied, whether the hold was taken, and the ledger row's spent and held after it. The query before it
     * that reads the limit is one round trip less per run.
     */
    private static final String RESERVE_FIRST_AT_ONCE = "WITH lim AS (SELECT COALESCE((SELECT limit_micros "
            + "FROM budget_limits WHERE user_id = ?), ?) AS micros), admitted AS (UPDATE budget_ledger "
            + "SET held_micros = held_micros + ? WHERE user_id = ? AND period_start = ? "
            + "AND spent_micros + held_micros + ? <= (SELECT micros FROM lim) - (SELECT micros FROM lim) / ? "
            + "RETURNING spent_micros, held_micros), "
            + "held AS (INSERT INTO budget_holds (id, run_id, user_id, period_start, amount_micros, created_at) "
            + "SELECT ?, ?, ?, ?, ?, ? FROM admitted RETURNING id) "
            + "SELECT (SELECT micros FROM lim) AS limit_micros, (SELECT COUNT(*) FROM held) AS taken, "
            + "(SELECT spent_micros FROM admitted) AS spent_micros, (SELECT held_micros FROM admitted) AS held_micros";
    /**
     * A charge in one statement, for PostgreSQL: the hold's row deleted and the ledger row updated as {@link #CHARGE}
     * does, with what the deleted row held released; the call's whole cost is spent either way (a hold already
     * released by the sweep frees nothing).
     */
    private static final String CHARGE_AT_ONCE = "WITH released AS (DELETE FROM budget_holds WHERE id = ? "
            + "RETURNING amount_micros), charge AS (SELECT COALESCE((SELECT amount_micros FROM released), 0) AS freed, "
            + "(SELECT COUNT(*) FROM released) AS found, CAST(? AS BIGINT) AS cost) "
            + "UPDATE budget_ledger SET held_micros = held_micros - charge.freed, "
            + "spent_micros = spent_micros + charge.cost, warned = CASE WHEN spent_micros + charge.cost >= ? "
            + "THEN (CASE WHEN warned = 0 THEN 1 ELSE 2 END) ELSE warned END "
            + "FROM charge WHERE user_id = ? AND period_start = ? "
            + "RETURNING spent_micros, held_micros, warned, charge.found AS found";

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
        return reserve(prepare(userId, runId, limitMicros, mostUsd));
    }

    /**
     * Takes a {@linkplain #prepare prepared} hold in a transaction of its own, with its room when that fits too.
     *
     * @throws BudgetExceededException when the period's spent, held and the hold's amount would pass its limit
     */
    public Hold reserve(Hold prepared) {
        Taking taking = write(prepared.userId(), connection -> takeHold(connection, prepared));
        if (taking.refusedAt() != null) {
            throw refused(exceeded(prepared, taking.refusedAt()), prepared.userId());
        }
        return taking.hold();
    }

    /**
     * Reserves a run's first call as {@link #reserve} does, under the user's own limit or else the default, read in
     * the reservation's own transaction (on PostgreSQL in its one statement); the hold carries the limit it applied,
     * which the run's later calls are reserved under.
     *
     * @throws BudgetExceededException when the period's spent, held and this amount would pass that limit
     */
    public Hold reserveFirst(String userId, String runId, BigDecimal mostUsd) {
        return reserveFirst(prepare(userId, runId, defaultLimitMicros(), mostUsd));
    }

    /**
     * As {@link #reserveFirst(String, String, BigDecimal)}, for a hold {@linkplain #prepare prepared} under the default
     * limit, with its room when that fits too.
     */
    public Hold reserveFirst(Hold prepared) {
        long fallback = prepared.limitMicros();
        String userId = prepared.userId();
        record Limited(Hold hold, Taking taking) {
        }
        Limited taken = write(userId, connection -> {
            if (!oneStatement()) {
                Hold hold = prepared.withLimit(ownLimitMicros(connection, userId).orElse(fallback));
                return new Limited(hold, takeHold(connection, hold));
            }
            long amount = prepared.micros() + prepared.roomMicros();
            long[] row = Sql.query(connection, RESERVE_FIRST_AT_ONCE, result -> new long[] {
                    result.getLong("limit_micros"), result.getLong("taken"), result.getLong("spent_micros"),
                    result.getLong("held_micros")}, userId, fallback, amount, userId, prepared.periodStart(), amount,
                    prepared.roomMicros() > 0 ? ROOM_ONLY_WHILE_FREE : Long.MAX_VALUE, prepared.id(), prepared.runId(), userId, prepared.periodStart(), amount, clock.instant())
                    .getFirst();
            Hold hold = prepared.withLimit(row[0]);
            if (row[1] == 1) {
                return new Limited(hold, new Taking(hold.taken(amount, row[0] - row[2] - row[3]), null));
            }
            // Not taken at once (no room for the amount with its room, or the period's first reservation): the
            // statements below decide.
            return new Limited(hold, takeHold(connection, hold));
        });
        if (taken.taking().refusedAt() != null) {
            throw refused(exceeded(taken.hold(), taken.taking().refusedAt()), userId);
        }
        return taken.taking().hold();
    }

    private long defaultLimitMicros() {
        return config.limitUsd().map(Money::micros).orElseThrow(() ->
                new IllegalStateException("No default limit to read a user's limit against"));
    }

    /**
     * A reservation of {@code mostUsd} in the current period whose admission a caller decides inside a transaction
     * of its own ({@link #take}): a run's start, when the ledger's writer is the one that stores starts, so that the
     * start and its first call's reservation are one commit.
     */
    public Hold prepare(String userId, String runId, long limitMicros, BigDecimal mostUsd) {
        return prepare(userId, runId, limitMicros, mostUsd, BigDecimal.ZERO);
    }

    /**
     * As {@link #prepare(String, String, long, BigDecimal)}, for a hold that asks for {@code roomUsd} more when the
     * budget has room for it too, and for {@code mostUsd} alone when it has room for that only.
     */
    public Hold prepare(String userId, String runId, long limitMicros, BigDecimal mostUsd, BigDecimal roomUsd) {
        return new Hold(Ids.timeOrdered(), userId, runId, currentPeriod().key(), Money.microsCeiling(mostUsd),
                limitMicros, Money.microsCeiling(roomUsd), -1);
    }

    /**
     * The work that takes a {@linkplain #prepare prepared} hold inside the caller's transaction: the conditional
     * write of admission and the hold's row, as {@link #reserve} does; {@code taken} receives the hold as taken. It
     * returns null when the hold was taken; when it does not fit, nothing is written but the period's (empty) ledger
     * row, and it returns the refusal, to be counted with {@link #refused} once the caller's transaction is over. It
     * leaves the same result when run again after a rollback.
     */
    public Sql.Work<BudgetExceededException> take(Hold hold, Consumer<Hold> taken) {
        return connection -> {
            Taking taking = takeHold(connection, hold);
            if (taking.refusedAt() != null) {
                return exceeded(hold, taking.refusedAt());
            }
            taken.accept(taking.hold());
            return null;
        };
    }

    /**
     * As {@link #take}, for a run's first hold when {@linkplain #readsLimitsInReservations reservations read the
     * limit}: the hold was prepared under the default, and the work reads the user's own limit in the caller's
     * transaction and takes the hold under it. {@code taken} receives the hold as taken, with the limit it was taken
     * under, which the run's later calls are reserved under.
     */
    public Sql.Work<BudgetExceededException> takeFirst(Hold prepared, Consumer<Hold> taken) {
        return connection -> take(prepared.withLimit(ownLimitMicros(connection, prepared.userId())
                .orElse(prepared.limitMicros())), taken).run(connection);
    }

    /** Whether the ledger's writer also stores runs' starts, so that a start can {@link #take} its first hold. */
    public boolean takesHoldsInStarts() {
        return holdsInStarts;
    }

    /** What taking a hold came to: the hold as taken, or else the position (spent, held) that refused it. */
    private record Taking(Hold hold, long[] refusedAt) {
    }

    /**
     * Takes a hold in the caller's transaction, with its room when that fits, else its amount alone. On PostgreSQL a
     * hold that fits in an existing row takes one statement.
     */
    private Taking takeHold(Connection connection, Hold hold) throws SQLException {
        long[][] tries = tries(hold.micros(), hold.roomMicros(), hold.limitMicros());
        if (oneStatement()) {
            for (long[] attempt : tries) {
                List<long[]> row = Sql.query(connection, RESERVE_AT_ONCE, Budgets::spentAndHeld, attempt[0],
                        hold.userId(), hold.periodStart(), attempt[0], attempt[1], hold.id(), hold.runId(),
                        hold.userId(), hold.periodStart(), attempt[0], clock.instant());
                if (!row.isEmpty()) {
                    return new Taking(taken(hold, attempt[0], row.getFirst()), null);
                }
            }
        }
        // Not admitted at once (no room, or the period's first reservation): the statements below decide, and say why.
        for (int round = 0; round < 2; round++) {
            for (long[] attempt : tries) {
                List<long[]> row = Sql.query(connection, ADMIT, Budgets::spentAndHeld, attempt[0], hold.userId(),
                        hold.periodStart(), attempt[0], attempt[1]);
                if (!row.isEmpty()) {
                    Sql.update(connection, "INSERT INTO budget_holds (id, run_id, user_id, period_start, "
                            + "amount_micros, created_at) VALUES (?, ?, ?, ?, ?, ?)", hold.id(), hold.runId(),
                            hold.userId(), hold.periodStart(), attempt[0], clock.instant());
                    return new Taking(taken(hold, attempt[0], row.getFirst()), null);
                }
            }
            if (round == 0) {
                ensureLedgerRow(connection, hold.userId(), hold.periodStart());
            }
        }
        return new Taking(null, ledger(connection, hold.userId(), hold.periodStart()));
    }

    /**
     * The amounts a hold of {@code micros} tries, each with the ceiling that spent, held and it must stay under: with
     * {@code roomMicros} more while {@link #ROOM_ONLY_WHILE_FREE} of the limit stays free after it, then alone under
     * the limit.
     */
    private static long[][] tries(long micros, long roomMicros, long limit) {
        return roomMicros > 0 ? new long[][] {{micros + roomMicros, limit - limit / ROOM_ONLY_WHILE_FREE},
                {micros, limit}} : new long[][] {{micros, limit}};
    }

    /** The hold taken as {@code amount}, beside the ledger row's (spent, held) after it. */
    private static Hold taken(Hold hold, long amount, long[] position) {
        return hold.taken(amount, hold.limitMicros() - position[0] - position[1]);
    }

    private static long[] spentAndHeld(ResultSet row) throws SQLException {
        return new long[] {row.getLong("spent_micros"), row.getLong("held_micros")};
    }

    /**
     * Makes a hold cover {@code mostUsd} at least (a call that turned out larger than reserved for it, such as the
     * first call of a run that continues a thread); the increase is admitted as a reservation is.
     *
     * @throws BudgetExceededException when the increase does not fit
     */
    public Hold grow(Hold hold, BigDecimal mostUsd) {
        return growTo(hold, Money.microsCeiling(mostUsd), 0);
    }

    /**
     * Makes a hold cover {@code micros} at least, and {@code roomMicros} more when the budget has room for that too
     * (room for the run's later calls); the increase is admitted as a reservation is.
     *
     * @throws BudgetExceededException when the increase does not fit
     */
    public Hold growTo(Hold hold, long micros, long roomMicros) {
        if (!hold.tracked() || micros <= hold.micros()) {
            return hold;
        }
        long[][] tries = tries(micros, roomMicros, hold.limitMicros());
        Hold grown = write(hold.userId(), connection -> {
            for (long[] attempt : tries) {
                if (Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", attempt[0],
                        hold.id()) != 1) {
                    return null; // released by whoever ended the run
                }
                long[] position = admit(connection, hold.userId(), hold.periodStart(), attempt[0] - hold.micros(),
                        attempt[1]);
                if (position != null) {
                    return taken(hold, attempt[0], position);
                }
            }
            Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", hold.micros(),
                    hold.id());
            return null;
        });
        if (grown == null) {
            // Rolled back: the hold is as it was, and still the run's to release.
            throw refused(exceeded(hold, ledger(hold.userId(), hold.periodStart())), hold.userId());
        }
        return grown;
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

    /**
     * The conditional write of admission, creating the period's row on first use: the row's (spent, held) after it,
     * or null when the amount does not fit.
     */
    private static long[] admit(Connection connection, String userId, String period, long amount, long limit)
            throws SQLException {
        List<long[]> row = Sql.query(connection, ADMIT, Budgets::spentAndHeld, amount, userId, period, amount, limit);
        if (row.isEmpty()) {
            ensureLedgerRow(connection, userId, period);
            row = Sql.query(connection, ADMIT, Budgets::spentAndHeld, amount, userId, period, amount, limit);
        }
        return row.isEmpty() ? null : row.getFirst();
    }

    /**
     * Creates the period's ledger row if it is not there. The insert waits for a concurrent one of the same row and
     * then does nothing, and a statement after it sees that row committed.
     */
    private static void ensureLedgerRow(Connection connection, String userId, String period) throws SQLException {
        Sql.update(connection, "INSERT INTO budget_ledger (user_id, period_start, spent_micros, held_micros, "
                + "warned) VALUES (?, ?, 0, 0, 0) ON CONFLICT DO NOTHING", userId, period);
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
        return charge(hold, costUsd, false);
    }

    /**
     * Charges a run's hold what the run cost, {@code costUsd}, and releases the rest of it, waiting for that to commit.
     * When the hold is gone, the sweep has settled it already (the run was ended by another instance while this one
     * still ran it) and charged what the run's stored {@code cost_updated} events said: only what the run cost beyond
     * that is charged now, so that the run is charged once.
     *
     * @return the user's position afterwards, or null for an untracked hold
     */
    public Charge settle(Hold hold, BigDecimal costUsd) {
        return join(charge(hold, costUsd, true));
    }

    private CompletableFuture<Charge> charge(Hold hold, BigDecimal costUsd, boolean settlesRun) {
        if (!hold.tracked()) {
            return CompletableFuture.completedFuture(null);
        }
        long cost = Money.micros(costUsd);
        long limit = hold.limitMicros();
        long threshold = BigDecimal.valueOf(limit).multiply(config.warnAt()).setScale(0, RoundingMode.CEILING)
                .longValueExact();
        return writer.submit(hold.userId(), connection -> {
            List<long[]> rows;
            boolean found;
            if (oneStatement()) {
                rows = Sql.query(connection, CHARGE_AT_ONCE, row -> new long[] {row.getLong("spent_micros"),
                        row.getLong("held_micros"), row.getLong("warned"), row.getLong("found")}, hold.id(), cost,
                        threshold, hold.userId(), hold.periodStart());
                found = !rows.isEmpty() && rows.getFirst()[3] == 1;
            } else {
                found = Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", hold.id()) == 1;
                long released = found ? hold.micros() : 0;
                rows = Sql.query(connection, CHARGE, Budgets::position, released, cost, cost, threshold,
                        hold.userId(), hold.periodStart());
            }
            if (settlesRun && !found && !rows.isEmpty()) {
                long swept = Math.min(cost, recordedCostMicros(connection, hold.runId()));
                if (swept > 0) {
                    rows = Sql.query(connection, "UPDATE budget_ledger SET spent_micros = spent_micros - ? "
                            + "WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros, warned",
                            Budgets::position, swept, hold.userId(), hold.periodStart());
                }
            }
            return charge(cost, limit, rows);
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
        Hold hold = new Hold(Ids.timeOrdered(), userId, runId, currentPeriod().key(), 0, limitMicros, 0, -1);
        write(userId, connection -> {
            ensureLedgerRow(connection, userId, hold.periodStart());
            return null;
        });
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
     * Settles the holds of runs that have ended (their agent could neither charge nor release them: its instance
     * died, or the charge failed) and releases those of runs that were never stored (their instance died between
     * admission and storing the start) once they are {@link #ORPHAN_AGE} old. An ended run's hold is charged what its
     * stored {@code cost_updated} events say its calls cost (the last one's {@code run_cost_usd}: a run's costs are
     * committed to the ledger once, when it ends), and the rest of it released. A live instance's run never loses its
     * hold this way: a run ends only after its hold has been settled.
     *
     * @return how many holds were settled or released
     */
    public int releaseHoldsOfEndedRuns() {
        Instant orphanedBefore = clock.instant().minus(ORPHAN_AGE);
        record Left(String id, String runId, String userId, String period, long micros, boolean stored) {
        }
        List<Left> left = sql.query("SELECT h.id, h.run_id, h.user_id, h.period_start, h.amount_micros, "
                        + "r.id AS stored FROM budget_holds h LEFT JOIN runs r ON r.id = h.run_id "
                        + "WHERE (r.id IS NULL AND h.created_at < ?) OR (r.id IS NOT NULL AND r.status <> ?)",
                row -> new Left(row.getString("id"), row.getString("run_id"), row.getString("user_id"),
                        row.getString("period_start"), row.getLong("amount_micros"), row.getString("stored") != null),
                orphanedBefore, "running");
        int released = 0;
        for (Left hold : left) {
            long cost = hold.stored() ? sql.withConnection(connection -> recordedCostMicros(connection,
                    hold.runId())) : 0;
            if (write(hold.userId(), connection -> settleLeft(connection, hold.id(), hold.userId(), hold.period(),
                    hold.micros(), cost))) {
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

    /** What a run's stored {@code cost_updated} events say its calls cost, in micro-dollars (0 without any). */
    private static long recordedCostMicros(Connection connection, String runId) throws SQLException {
        return Sql.query(connection, "SELECT body FROM run_events WHERE run_id = ? AND type = ? ORDER BY seq DESC "
                        + "LIMIT 1", row -> row.getString("body"), runId, EventType.COST_UPDATED).stream().findFirst()
                .map(body -> Json.parse(body).path("data").path("run_cost_usd"))
                .filter(JsonNode::isNumber)
                .map(cost -> Money.micros(cost.decimalValue()))
                .orElse(0L);
    }

    /**
     * Charges {@code cost} to a hold left by a run that ended without settling it and releases the rest; nothing when
     * someone else settled or released it first.
     */
    private static boolean settleLeft(Connection connection, String holdId, String userId, String period, long micros,
                                      long cost) throws SQLException {
        if (Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", holdId) != 1) {
            return false;
        }
        Sql.update(connection, "UPDATE budget_ledger SET held_micros = held_micros - ?, spent_micros = spent_micros "
                + "+ ? WHERE user_id = ? AND period_start = ?", micros, cost, userId, period);
        return true;
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
