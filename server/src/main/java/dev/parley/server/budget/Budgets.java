package dev.parley.server.budget;

import dev.parley.server.config.Config;
import dev.parley.server.db.Ids;
import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
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
 * shares (so it holds across instances and with Redis down). A hold is taken with one conditional write of the user's
 * ledger row ({@code spent + held + amount <= limit}) plus the hold's own row, in one transaction, and may ask for room
 * beyond its amount while the budget keeps much more than that free; a hold grows the same way; a commit turns a hold into
 * spending (the hold's row deleted, and one update of the ledger row that returns the position), a release gives it
 * back. The rows and statements are {@link LedgerRows}'s; this class decides when they run and on which writer, a
 * {@link LedgerWriter}: on the embedded database, the run journal's, so that they join its batched commits; on
 * PostgreSQL a {@link LedgerBatcher} of its own, which commits many units in one transaction (until another writer
 * is {@linkplain #writeThrough set}); without budgets, each on a pool connection of its own, on a thread apart from
 * the caller's. Holds belong to runs: a run's agent settles its own when the run ends ({@link #settle}), and
 * {@link HoldSweep} on every instance settles the holds of runs that ended without doing so (their instance died and
 * another instance ended them when their lease ran out), as the contract says.
 *
 * <p>Users without a limit (no default, no override) cost no ledger writes: their runs take no hold. When budgets
 * are not enabled at all ({@link Config.Budget#enabled()}), nothing here touches the database. Thread-safe.
 *
 * <p>It is one class of nearly 500 lines because taking, growing, charging and releasing a hold are the writes of one
 * ledger row whose transactions must run on the same writer, under the same limit and period rules; each has an
 * embedded and a PostgreSQL (one statement) form.
 */
public final class Budgets implements AutoCloseable {
    /** How often every instance releases the holds of runs that ended elsewhere. */
    static final Duration SWEEP_EVERY = Duration.ofSeconds(2);
    /** How old a hold of a run that was never stored (its start failed) must be before the sweep releases it. */
    static final Duration ORPHAN_AGE = Duration.ofMinutes(1);
    private static final Logger LOG = LoggerFactory.getLogger(Budgets.class);
    private final Sql sql;
    private final Config.Budget config;
    private final Metrics metrics;
    private final Clock clock;
    private final ScheduledFuture<?> sweep; // null when budgets are not enabled
    /** Where ledger writes run without a writer: never on a run's own thread, whose interrupt (a stop) would break
     *  the connection. */
    private final ExecutorService writers = Executors.newVirtualThreadPerTaskExecutor();
    private final LedgerBatcher batcher; // null: not PostgreSQL, or budgets not enabled
    private final HoldSweep holdSweep;
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
        this.holdSweep = new HoldSweep(sql, metrics, clock, this::write);
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
        return sql.withConnection(connection -> LedgerRows.ownLimitMicros(connection, userId)).map(Money::usd);
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
     * Takes a {@linkplain #prepare prepared} hold in a transaction of its own, with its room when that fits too.
     *
     * @throws BudgetExceededException when the period's spent, held and the hold's amount would pass its limit
     */
    public Hold reserve(Hold prepared) {
        LedgerRows.Taking taking = write(prepared.userId(), connection -> LedgerRows.takeHold(connection, prepared,
                oneStatement(), clock.instant()));
        if (taking.refusedAt() != null) {
            throw refused(exceeded(prepared, taking.refusedAt()), prepared.userId());
        }
        return taking.hold();
    }

    /**
     * Takes a run's first hold, {@linkplain #prepare prepared} under the default limit, as {@link #reserve} does, but
     * under the user's own limit when one is set, read in the reservation's own transaction (on PostgreSQL in its one
     * statement); the hold carries the limit it applied, which the run's later calls are reserved under.
     *
     * @throws BudgetExceededException when the period's spent, held and the hold's amount would pass that limit
     */
    public Hold reserveFirst(Hold prepared) {
        long fallback = prepared.limitMicros();
        String userId = prepared.userId();
        record Limited(Hold hold, LedgerRows.Taking taking) {
        }
        Limited taken = write(userId, connection -> {
            if (!oneStatement()) {
                Hold hold = prepared.withLimit(LedgerRows.ownLimitMicros(connection, userId).orElse(fallback));
                return new Limited(hold, LedgerRows.takeHold(connection, hold, oneStatement(), clock.instant()));
            }
            long amount = prepared.micros() + prepared.roomMicros();
            long[] row = Sql.query(connection, LedgerRows.RESERVE_FIRST_AT_ONCE, result -> new long[] {
                    result.getLong("limit_micros"), result.getLong("taken"), result.getLong("spent_micros"),
                    result.getLong("held_micros")}, userId, fallback, amount, userId, prepared.periodStart(), amount,
                    LedgerRows.ROOM_HEADROOM * prepared.roomMicros(), prepared.id(),
                    prepared.runId(), userId, prepared.periodStart(), amount, clock.instant())
                    .getFirst();
            Hold hold = prepared.withLimit(row[0]);
            if (row[1] == 1) {
                return new Limited(hold, new LedgerRows.Taking(hold.taken(amount, row[0] - row[2] - row[3]), null));
            }
            // Not taken at once (no room for the amount with its room, or the period's first reservation): the
            // statements below decide.
            return new Limited(hold, LedgerRows.takeHold(connection, hold, oneStatement(), clock.instant()));
        });
        if (taken.taking().refusedAt() != null) {
            throw refused(exceeded(taken.hold(), taken.taking().refusedAt()), userId);
        }
        return taken.taking().hold();
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
            LedgerRows.Taking taking = LedgerRows.takeHold(connection, hold, oneStatement(), clock.instant());
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
        return connection -> take(prepared.withLimit(LedgerRows.ownLimitMicros(connection, prepared.userId())
                .orElse(prepared.limitMicros())), taken).run(connection);
    }

    /** Whether the ledger's writer also stores runs' starts, so that a start can {@link #take} its first hold. */
    public boolean takesHoldsInStarts() {
        return holdsInStarts;
    }

    /**
     * What a run's hold keeps between two of its calls, after one that could cost {@code callMicros}: all of it while
     * the user's budget keeps {@link LedgerRows#ROOM_HEADROOM} times that free, so that the next call needs no write;
     * otherwise only {@code costsMicros}, what the run's calls cost so far, and the rest goes back to the user's other
     * runs at once (one write), as a charge after every call would give it back.
     */
    public Hold between(Hold hold, long costsMicros, long callMicros) {
        if (costsMicros >= hold.micros()
                || hold.remainingMicros() >= LedgerRows.ROOM_HEADROOM * callMicros) {
            return hold;
        }
        Hold kept = write(hold.userId(), connection -> {
            if (Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", costsMicros,
                    hold.id()) != 1) {
                return hold; // settled by whoever ended the run
            }
            List<long[]> row = Sql.query(connection, "UPDATE budget_ledger SET held_micros = held_micros - ? "
                    + "WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros",
                    LedgerRows::spentAndHeld, hold.micros() - costsMicros, hold.userId(), hold.periodStart());
            return row.isEmpty() ? hold.withMicros(costsMicros) : LedgerRows.taken(hold, costsMicros, row.getFirst());
        });
        return kept;
    }

    /**
     * Makes a hold cover {@code micros} at least, and {@code roomMicros} more when the budget has room for that too
     * (room for the run's later calls); the increase is admitted as a reservation is.
     *
     * @throws BudgetExceededException when the increase does not fit
     */
    public Hold growTo(Hold hold, long micros, long roomMicros) {
        if (micros <= hold.micros()) {
            return hold;
        }
        long[][] tries = LedgerRows.tries(micros, roomMicros, hold.limitMicros());
        Hold grown = write(hold.userId(), connection -> {
            for (long[] attempt : tries) {
                if (Sql.update(connection, "UPDATE budget_holds SET amount_micros = ? WHERE id = ?", attempt[0],
                        hold.id()) != 1) {
                    return null; // released by whoever ended the run
                }
                long[] position = LedgerRows.admit(connection, hold.userId(), hold.periodStart(),
                        attempt[0] - hold.micros(), attempt[1]);
                if (position != null) {
                    return LedgerRows.taken(hold, attempt[0], position);
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
     * Charges a run's hold what the run cost, {@code costUsd}, and releases the rest of it, waiting for that to commit.
     * When the hold is gone, the sweep has settled it already (the run was ended by another instance while this one
     * still ran it) and charged what the run's stored {@code cost_updated} events said: only what the run cost beyond
     * that is charged now, so that the run is charged once.
     *
     * @return the user's position afterwards
     */
    public Charge settle(Hold hold, BigDecimal costUsd) {
        return join(charge(hold, costUsd, true));
    }

    private CompletableFuture<Charge> charge(Hold hold, BigDecimal costUsd, boolean settlesRun) {
        long cost = Money.micros(costUsd);
        long limit = hold.limitMicros();
        long threshold = BigDecimal.valueOf(limit).multiply(config.warnAt()).setScale(0, RoundingMode.CEILING)
                .longValueExact();
        return writer.submit(hold.userId(), connection -> {
            List<long[]> rows;
            boolean found;
            if (oneStatement()) {
                rows = Sql.query(connection, LedgerRows.CHARGE_AT_ONCE, row -> new long[] {row.getLong("spent_micros"),
                        row.getLong("held_micros"), row.getLong("warned"), row.getLong("found")}, hold.id(), cost,
                        threshold, hold.userId(), hold.periodStart());
                found = !rows.isEmpty() && rows.getFirst()[3] == 1;
            } else {
                found = Sql.update(connection, "DELETE FROM budget_holds WHERE id = ?", hold.id()) == 1;
                long released = found ? hold.micros() : 0;
                rows = Sql.query(connection, LedgerRows.CHARGE, LedgerRows::position, released, cost, cost, threshold,
                        hold.userId(), hold.periodStart());
            }
            if (settlesRun && !found && !rows.isEmpty()) {
                long swept = Math.min(cost, LedgerRows.recordedCostMicros(connection, hold.runId()));
                if (swept > 0) {
                    rows = Sql.query(connection, "UPDATE budget_ledger SET spent_micros = spent_micros - ? "
                            + "WHERE user_id = ? AND period_start = ? RETURNING spent_micros, held_micros, warned",
                            LedgerRows::position, swept, hold.userId(), hold.periodStart());
                }
            }
            return charge(cost, limit, rows);
        });
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
            LedgerRows.ensureLedgerRow(connection, userId, hold.periodStart());
            return null;
        });
        return join(charge(hold, costUsd, false));
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
        return apart(() -> sql.withConnection(connection -> LedgerRows.ledger(connection, userId, period)));
    }

    /** The period a hold was taken in. */
    private Period periodOf(Hold hold) {
        return Period.containing(config.period(), LocalDate.parse(hold.periodStart()).atStartOfDay(ZoneOffset.UTC)
                .toInstant());
    }

    /**
     * Settles the holds of runs that have ended without settling them and releases those of starts never stored
     * ({@link HoldSweep}); what every instance runs every {@link #SWEEP_EVERY}.
     *
     * @return how many holds were settled or released
     */
    public int releaseHoldsOfEndedRuns() {
        return holdSweep.run();
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
