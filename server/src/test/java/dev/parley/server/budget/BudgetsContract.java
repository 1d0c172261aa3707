package dev.parley.server.budget;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Database;
import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import dev.parley.server.testing.Accounts;
import dev.parley.server.testing.MutableClock;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the spend ledger does on every database it runs on; each subclass opens a fresh, migrated one. */
abstract class BudgetsContract {
    private static final long LIMIT = 1_000_000; // USD 1 in micro-dollars
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-31T23:00:00Z"));
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private Database database;
    private Budgets budgets;
    private String user;

    protected abstract Database open();

    @BeforeEach
    void setUp() {
        database = open();
        budgets = new Budgets(database.sql(), new Config.Budget(Optional.of(BigDecimal.ONE), Config.BudgetPeriod.MONTH,
                new BigDecimal("0.5"), Set.of(), Optional.empty()), new Metrics(), clock, scheduler);
        user = Accounts.insertUser(database);
    }

    @AfterEach
    void tearDown() {
        if (budgets != null) {
            budgets.close();
        }
        scheduler.shutdownNow();
        if (database != null) {
            database.close();
        }
    }

    private static BigDecimal usd(String amount) {
        return new BigDecimal(amount);
    }

    /** Takes a hold of {@code amount} for {@code run} under {@link #LIMIT}, in a transaction of its own. */
    private Hold reserve(String run, String amount) {
        return budgets.reserve(budgets.prepare(user, run, LIMIT, usd(amount)));
    }

    /** Gives a hold back whole: settled at no cost. */
    private void release(Hold hold) {
        budgets.settle(hold, BigDecimal.ZERO);
    }

    @Test
    void aReservationIsHeldThenCommittedAtItsCostAndTheRestGoesBack() {
        Hold hold = reserve("run-1", "0.3");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.3");
        assertThat(budgets.status(user).remainingUsd()).contains(usd("0.700000"));

        Charge charge = budgets.settle(hold, usd("0.1"));

        assertThat(charge.callCostUsd()).isEqualByComparingTo("0.1");
        assertThat(charge.remainingUsd()).isEqualByComparingTo("0.9");
        BudgetStatus status = budgets.status(user);
        assertThat(status.spentUsd()).isEqualByComparingTo("0.1");
        assertThat(status.reservedUsd()).isEqualByComparingTo("0");
        assertThat(status.limitUsd()).contains(usd("1.000000"));
    }

    @Test
    void aReservationPastTheLimitIsRefusedWithWhatIsLeftAndWhenItResets() {
        reserve("run-1", "0.8");

        assertThatThrownBy(() -> reserve("run-2", "0.2000001"))
                .isInstanceOfSatisfying(BudgetExceededException.class, e -> {
                    assertThat(e.remainingUsd()).isEqualByComparingTo("0.2");
                    assertThat(e.details().get("resets_at")).isEqualTo("2030-02-01T00:00:00Z");
                });
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.8");
        reserve("run-2", "0.2");
        assertThat(budgets.status(user).remainingUsd()).contains(usd("0.000000"));
    }

    @Test
    void concurrentReservationsNeverHoldMoreThanTheLimit() throws Exception {
        List<Callable<Boolean>> attempts = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            String run = "run-" + i;
            attempts.add(() -> {
                try {
                    reserve(run, "0.05");
                    return true;
                } catch (BudgetExceededException e) {
                    return false;
                }
            });
        }
        int taken = 0;
        try (ExecutorService threads = Executors.newFixedThreadPool(12)) {
            for (Future<Boolean> attempt : threads.invokeAll(attempts)) {
                taken += attempt.get() ? 1 : 0;
            }
        }
        assertThat(taken).isEqualTo(20);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("1");
    }

    @Test
    void growingAHoldIsAdmittedLikeAReservationAndARefusalLeavesItAsItWas() {
        Hold first = reserve("run-1", "0.3");
        reserve("run-2", "0.5");

        Hold grown = budgets.growTo(first, 400_000, 0);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.9");
        assertThatThrownBy(() -> budgets.growTo(grown, 600_000, 0)).isInstanceOf(BudgetExceededException.class);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.9");

        release(grown);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.5");
    }

    @Test
    void theWarningIsGivenOncePerPeriodWhenSpendingCrossesItsShare() {
        assertThat(budgets.settle(reserve("run-1", "0.3"), usd("0.3")).warn()).isFalse();
        assertThat(budgets.settle(reserve("run-1", "0.3"), usd("0.25")).warn()).isTrue();
        assertThat(budgets.settle(reserve("run-1", "0.3"), usd("0.1")).warn()).isFalse();

        clock.advance(Duration.ofHours(2)); // February
        assertThat(budgets.settle(reserve("run-2", "0.6"), usd("0.6")).warn()).isTrue();
    }

    @Test
    void aHoldIsChargedToThePeriodItWasTakenIn() {
        Hold january = reserve("run-1", "0.5");
        clock.advance(Duration.ofHours(2)); // 2030-02-01T01:00Z
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0");
        assertThat(budgets.status(user).remainingUsd()).contains(usd("1.000000"));

        budgets.settle(january, usd("0.4"));

        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0");
        assertThat(budgets.status(user).period().start()).isEqualTo(LocalDate.parse("2030-02-01"));
        assertThat(database.sql().queryOne("SELECT spent_micros, held_micros FROM budget_ledger WHERE user_id = ? "
                + "AND period_start = ?", row -> row.getLong("spent_micros") + "/" + row.getLong("held_micros"),
                user, "2030-01-01")).contains("400000/0");
    }

    @Test
    void holdsOfEndedRunsAndOfStartsNeverStoredAreReleasedByTheSweep() {
        String threadId = new ConversationStore(database.sql(), clock).createThread(user, "t").id();
        String ended = UUID.randomUUID().toString();
        String running = UUID.randomUUID().toString();
        insertRun(ended, threadId, "failed");
        insertRun(running, threadId, "running");
        reserve(ended, "0.1");
        reserve(running, "0.2");
        reserve("never-stored", "0.3");

        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(1);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.5");
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0");

        clock.advance(Budgets.ORPHAN_AGE.plusSeconds(1));
        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(1);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.2");
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0");
        assertThat(budgets.releaseHoldsOfEndedRuns()).isZero();
    }

    @Test
    void theSweepChargesAnEndedRunsHoldWhatItsStoredCostEventsSay() {
        String threadId = new ConversationStore(database.sql(), clock).createThread(user, "t").id();
        String ended = UUID.randomUUID().toString();
        insertRun(ended, threadId, "failed");
        budgets.reserve(budgets.prepare(user, ended, LIMIT, usd("0.1"), usd("0.1")));
        insertEvent(ended, 3, "{\"type\":\"cost_updated\",\"data\":{\"call_cost_usd\":0.02,\"run_cost_usd\":0.02}}");
        insertEvent(ended, 6, "{\"type\":\"cost_updated\",\"data\":{\"call_cost_usd\":0.035,\"run_cost_usd\":0.055}}");

        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(1);

        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.055");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0");
        assertThat(budgets.releaseHoldsOfEndedRuns()).isZero();
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.055");
    }

    @Test
    void aRunSettledByTheSweepWhileItStillRanIsChargedOnce() {
        String threadId = new ConversationStore(database.sql(), clock).createThread(user, "t").id();
        String endedElsewhere = UUID.randomUUID().toString();
        insertRun(endedElsewhere, threadId, "failed");
        Hold hold = budgets.reserve(budgets.prepare(user, endedElsewhere, LIMIT, usd("0.1"), usd("0.1")));
        insertEvent(endedElsewhere, 4,
                "{\"type\":\"cost_updated\",\"data\":{\"call_cost_usd\":0.055,\"run_cost_usd\":0.055}}");
        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(1);
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.055");

        budgets.settle(hold, usd("0.08")); // the instance that still ran it: its calls cost 0.08 in all

        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.08");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0");
        Hold alone = reserve("never-stored", "0.2");
        clock.advance(Budgets.ORPHAN_AGE.plusSeconds(1));
        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(1);
        budgets.settle(alone, usd("0.01"));
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.09");
    }

    @Test
    void aHoldTakesItsRoomOnlyWhileTwentyTimesTheRoomStaysFree() {
        Hold roomy = budgets.reserve(budgets.prepare(user, "run-1", LIMIT, usd("0.02"), usd("0.02")));
        assertThat(roomy.micros()).isEqualTo(40_000);
        assertThat(roomy.remainingMicros()).isEqualTo(960_000);
        Hold filler = reserve("run-2", "0.55");

        // 0.59 held: 0.04 more leaves 0.37 free, less than twenty times the room (0.4).
        Hold tight = budgets.reserve(budgets.prepare(user, "run-3", LIMIT, usd("0.02"), usd("0.02")));
        assertThat(tight.micros()).isEqualTo(20_000);
        assertThat(tight.remainingMicros()).isEqualTo(390_000);
        Hold grown = budgets.growTo(tight, 30_000, 20_000);
        assertThat(grown.micros()).isEqualTo(30_000);
        assertThat(grown.remainingMicros()).isEqualTo(380_000);
        assertThatThrownBy(() -> budgets.growTo(grown, 500_000, 0)).isInstanceOf(BudgetExceededException.class);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.62");

        budgets.settle(roomy, usd("0.015"));
        budgets.settle(grown, usd("0.025"));
        release(filler);
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.04");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0");
        Hold first = budgets.reserveFirst(budgets.prepare(user, "run-4", LIMIT, usd("0.02"), usd("0.02")));
        assertThat(first.micros()).isEqualTo(40_000);
        assertThat(first.remainingMicros()).isEqualTo(920_000);
        reserve("run-5", "0.5");
        Hold near = budgets.reserveFirst(budgets.prepare(user, "run-6", LIMIT, usd("0.02"), usd("0.02")));
        assertThat(near.micros()).isEqualTo(20_000);
    }

    @Test
    void betweenCallsAHoldGivesBackWhatItHoldsBeyondTheRunsCostsOnlyNearTheLimit() {
        Hold far = budgets.reserve(budgets.prepare(user, "run-1", LIMIT, usd("0.01"), usd("0.01")));
        assertThat(budgets.between(far, 4_000, 10_000)).isEqualTo(far);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.02");

        reserve("run-2", "0.85");
        Hold near = budgets.reserve(budgets.prepare(user, "run-3", LIMIT, usd("0.03"), usd("0.03")));
        assertThat(near.micros()).isEqualTo(30_000);
        Hold kept = budgets.between(near, 10_000, 30_000);

        assertThat(kept.micros()).isEqualTo(10_000);
        assertThat(kept.remainingMicros()).isEqualTo(120_000);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.88");
        budgets.settle(kept, usd("0.012"));
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.012");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.87");
    }

    @Test
    void aChargeAfterTheSweepReleasedItsHoldSpendsTheCallsWholeCost() {
        Hold cheaper = reserve("gone", "0.3");
        Hold dearer = reserve("gone", "0.2");
        clock.advance(Budgets.ORPHAN_AGE.plusSeconds(1));
        assertThat(budgets.releaseHoldsOfEndedRuns()).isEqualTo(2);

        budgets.settle(cheaper, usd("0.2"));
        budgets.settle(dearer, usd("0.25"));

        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0");
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.45");
    }

    @Test
    void aRunsFirstReservationReadsTheUsersOwnLimitOrElseTheDefault() {
        Hold byDefault = budgets.reserveFirst(budgets.prepare(user, "run-1", LIMIT, usd("0.3")));
        assertThat(byDefault.limitMicros()).isEqualTo(LIMIT);

        budgets.setOverride(user, usd("0.5"));
        assertThatThrownBy(() -> budgets.reserveFirst(budgets.prepare(user, "run-2", LIMIT, usd("0.3"))))
                .isInstanceOfSatisfying(BudgetExceededException.class,
                        refusal -> assertThat(refusal.remainingUsd()).isEqualByComparingTo("0.2"));
        Hold own = budgets.reserveFirst(budgets.prepare(user, "run-3", LIMIT, usd("0.2")));

        assertThat(own.limitMicros()).isEqualTo(500_000);
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.5");
        assertThat(budgets.status(user).remainingUsd()).contains(usd("0.000000"));
    }

    @Test
    void aQueuedSettlementKeepsItsHoldCountedUntilItCommits() throws Exception {
        Hold first = reserve("run-1", "0.6");
        CompletableFuture<Void> gate = new CompletableFuture<>();
        CompletableFuture<Void> queued = new CompletableFuture<>();
        budgets.writeThrough(new LedgerWriter() {
            @Override
            public <T> CompletableFuture<T> submit(Sql.Work<T> work) {
                queued.complete(null);
                return gate.thenApplyAsync(open -> database.sql().inTransaction(work));
            }
        });
        CompletableFuture<Charge> charge = CompletableFuture.supplyAsync(() -> budgets.settle(first, usd("0.1")));
        queued.get(5, TimeUnit.SECONDS);
        budgets.writeThrough(new LedgerWriter() {
            @Override
            public <T> CompletableFuture<T> submit(Sql.Work<T> work) {
                return CompletableFuture.supplyAsync(() -> database.sql().inTransaction(work));
            }
        });

        assertThatThrownBy(() -> reserve("run-1", "0.5"))
                .isInstanceOf(BudgetExceededException.class);
        reserve("run-1", "0.4");
        assertThat(charge).isNotDone();
        gate.complete(null);

        assertThat(charge.join().remainingUsd()).isEqualByComparingTo("0.5");
        assertThat(budgets.status(user).spentUsd()).isEqualByComparingTo("0.1");
        assertThat(budgets.status(user).reservedUsd()).isEqualByComparingTo("0.4");
        reserve("run-1", "0.5");
    }

    @Test
    void aUsersOwnLimitReplacesTheDefaultUntilItIsCleared() {
        assertThat(budgets.limitMicros(user)).contains(LIMIT);
        budgets.setOverride(user, usd("2.5"));
        budgets.setOverride(user, usd("3"));
        assertThat(budgets.limitMicros(user)).contains(3_000_000L);
        assertThat(budgets.override(user)).contains(usd("3.000000"));
        budgets.setOverride(user, null);
        assertThat(budgets.override(user)).isEmpty();
        assertThat(budgets.limitMicros(user)).contains(LIMIT);
    }

    @Test
    void periodsAreUtcCalendarDaysWeeksFromMondayAndMonths() {
        Instant wednesday = Instant.parse("2030-01-16T23:59:59Z");
        assertThat(Period.containing(Config.BudgetPeriod.DAY, wednesday))
                .isEqualTo(new Period(LocalDate.parse("2030-01-16"), LocalDate.parse("2030-01-17")));
        assertThat(Period.containing(Config.BudgetPeriod.WEEK, wednesday))
                .isEqualTo(new Period(LocalDate.parse("2030-01-14"), LocalDate.parse("2030-01-21")));
        assertThat(Period.containing(Config.BudgetPeriod.MONTH, wednesday))
                .isEqualTo(new Period(LocalDate.parse("2030-01-01"), LocalDate.parse("2030-02-01")));
        assertThat(Period.containing(Config.BudgetPeriod.WEEK, Instant.parse("2030-01-14T00:00:00Z")).start())
                .isEqualTo(LocalDate.parse("2030-01-14"));
    }

    private void insertEvent(String runId, long seq, String body) {
        database.sql().update("INSERT INTO run_events (run_id, seq, type, body, created_at) VALUES (?, ?, ?, ?, ?)",
                runId, seq, "cost_updated", body, clock.instant());
    }

    private void insertRun(String runId, String threadId, String status) {
        database.sql().update("INSERT INTO runs (id, thread_id, user_id, status, started_at) VALUES (?, ?, ?, ?, ?)",
                runId, threadId, user, status, clock.instant());
    }
}
