package dev.parley.server.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.Agent;
import dev.parley.server.agent.AgentRun;
import dev.parley.server.agent.Answer;
import dev.parley.server.budget.BudgetExceededException;
import dev.parley.server.budget.Budgets;
import dev.parley.server.budget.Charge;
import dev.parley.server.budget.Hold;
import dev.parley.server.config.Config;
import dev.parley.server.conversation.ConversationStore;
import dev.parley.server.db.Database;
import dev.parley.server.db.Sql;
import dev.parley.server.fanout.Envelope;
import dev.parley.server.fanout.LocalFanout;
import dev.parley.server.observe.Metrics;
import dev.parley.server.testing.Accounts;
import dev.parley.server.testing.Await;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.ScriptedAgent;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link RunService} and its store do on every database: seq-numbered logs, one running run per thread under
 * concurrent starts, stop, the end of runs whose instance vanished, and retention. Each subclass opens a fresh,
 * migrated database.
 */
abstract class RunServiceContract {
    private final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T00:00:00Z"));
    private final Config.Runs config = new Config.Runs(Duration.ofMinutes(2), Duration.ofMinutes(10), 10_000);
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private Database database;
    private final ScriptedAgent agent = new ScriptedAgent(Duration.ofMillis(5));
    private LocalFanout fanout;
    private ConversationStore conversations;
    private RunService runs;
    private String alice;
    private final List<Envelope> aliceSaw = new CopyOnWriteArrayList<>();
    private final List<Envelope> bobSaw = new CopyOnWriteArrayList<>();

    protected abstract Database open();

    @BeforeEach
    void setUp() {
        database = open();
        fanout = new LocalFanout();
        conversations = new ConversationStore(database.sql(), clock);
        runs = service();
        alice = Accounts.insertUser(database);
        String bob = Accounts.insertUser(database);
        fanout.subscribe(alice, aliceSaw::add);
        fanout.subscribe(bob, bobSaw::add);
    }

    private RunService service() {
        return service(clock);
    }

    private RunService service(java.time.Clock at) {
        return new RunService(database.sql(), database.eventLogSql(), new RunEventLog(database.sql()), conversations,
                agent, fanout, config, new Metrics(), at);
    }

    @AfterEach
    void tearDown() {
        if (runs != null) {
            runs.drain(Duration.ZERO);
            runs.close();
        }
        scheduler.shutdownNow();
        if (database != null) {
            database.close();
        }
    }

    private RunStatus awaitEnd(String runId) {
        Await.until("run " + runId + " ends", Duration.ofSeconds(10), () -> runs.find(alice, runId).status().ended());
        return runs.find(alice, runId).status();
    }

    /** Waits for a run's last event to be published: it goes out just after the run's end is committed. */
    private List<Envelope> awaitPublished(String runId, long lastSeq) {
        Await.until("run " + runId + " published up to seq " + lastSeq, Duration.ofSeconds(10),
                () -> aliceSaw.stream().anyMatch(e -> runId.equals(e.runId()) && e.seq() == lastSeq));
        return aliceSaw.stream().filter(e -> runId.equals(e.runId())).toList();
    }

    @Test
    void aRunsEventsAreLoggedAndPublishedInSeqOrderToItsUserOnly() {
        StartedRun started = runs.start(alice, new StartRequest(null, "deltas 3", null, null));
        assertThat(awaitEnd(started.runId())).isEqualTo(RunStatus.COMPLETED);
        RunLog log = runs.log(alice, started.runId(), 0);
        assertThat(log.complete()).isTrue();
        assertThat(log.events()).extracting(StoredEvent::seq).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
        assertThat(log.events().getFirst().type()).isEqualTo(EventType.AGENT_STARTED);
        assertThat(log.events().getLast().type()).isEqualTo(EventType.AGENT_COMPLETED);
        assertThat(awaitPublished(started.runId(), 8)).extracting(Envelope::wire).containsExactlyElementsOf(
                log.events().stream().map(StoredEvent::wire).toList());
        assertThat(bobSaw).isEmpty();
        assertThat(runs.log(alice, started.runId(), 6).events()).extracting(StoredEvent::seq).containsExactly(7L, 8L);
        RunRecord record = runs.find(alice, started.runId());
        assertThat(record.usage().outputTokens()).isEqualTo(34);
        assertThat(record.assistantMessageId()).isNotNull();
        assertThat(record.userMessageId()).isEqualTo(started.userMessageId());
    }

    @Test
    void theSpendLedgerWrittenThroughTheJournalAdmitsExactlyWhatFitsAmidRunsBeingStored() throws Exception {
        try (Budgets budgets = new Budgets(database.sql(), new Config.Budget(Optional.of(BigDecimal.ONE),
                Config.BudgetPeriod.MONTH, new BigDecimal("0.5"), Set.of(), Optional.empty()), new Metrics(), clock, scheduler)) {
            budgets.writeThrough(runs::writeLedger);
            List<Callable<Object>> work = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                String runId = "run-" + i;
                work.add(() -> {
                    try {
                        return budgets.reserve(budgets.prepare(alice, runId, 1_000_000L, new BigDecimal("0.05")));
                    } catch (BudgetExceededException e) {
                        return e;
                    }
                });
                if (i % 6 == 0) { // the ledger's units share batches with what runs store
                    work.add(() -> runs.start(alice, new StartRequest(null, "deltas 2", null, null)));
                }
            }
            List<Object> outcomes = new ArrayList<>();
            try (ExecutorService pool = Executors.newFixedThreadPool(12)) {
                for (Future<Object> outcome : pool.invokeAll(work)) {
                    outcomes.add(outcome.get());
                }
            }
            List<Hold> holds = outcomes.stream().filter(Hold.class::isInstance).map(Hold.class::cast).toList();
            assertThat(holds).hasSize(20);
            assertThat(outcomes.stream().filter(BudgetExceededException.class::isInstance)).hasSize(40);
            assertThat(budgets.status(alice).reservedUsd()).isEqualByComparingTo("1");
            for (Object outcome : outcomes) {
                if (outcome instanceof StartedRun started) {
                    assertThat(awaitEnd(started.runId())).isEqualTo(RunStatus.COMPLETED);
                }
            }

            Charge charge = budgets.settle(holds.getFirst(), new BigDecimal("0.01"));
            assertThat(charge.spentUsd()).isEqualByComparingTo("0.01");
            assertThat(charge.remainingUsd()).isEqualByComparingTo("0.04"); // 1 - 0.01 spent - 19 × 0.05 held
            budgets.settle(holds.get(1), BigDecimal.ZERO);
            assertThat(budgets.status(alice).reservedUsd()).isEqualByComparingTo("0.9");
        }
    }

    @Test
    void concurrentStartsOnOneThreadLetExactlyOneRun() throws Exception {
        String threadId = conversations.createThread(alice, "busy").id();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Object>> attempts = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) {
                attempts.add(pool.submit(() -> {
                    try {
                        return runs.start(alice, new StartRequest(threadId, "hang", null, null));
                    } catch (ProtocolException e) {
                        return e.code();
                    }
                }));
            }
            List<Object> outcomes = new java.util.ArrayList<>();
            for (Future<Object> attempt : attempts) {
                outcomes.add(attempt.get());
            }
            assertThat(outcomes.stream().filter(StartedRun.class::isInstance)).hasSize(1);
            assertThat(outcomes.stream().filter(ErrorCode.RUN_IN_PROGRESS::equals)).hasSize(7);
            // Refused starts stored nothing: one user message on the thread.
            assertThat(conversations.requireThread(alice, threadId).messageCount()).isEqualTo(1);
            StartedRun winner = (StartedRun) outcomes.stream().filter(StartedRun.class::isInstance).findFirst().orElseThrow();
            runs.stop(alice, winner.runId());
            assertThat(awaitEnd(winner.runId())).isEqualTo(RunStatus.CANCELLED);
            // A start on a thread busy with a run here is refused before its agent starts, and stores nothing.
            assertThat(agent.runs()).isEqualTo(1);
            assertThat(database.sql().query("SELECT id FROM runs WHERE thread_id = ?", row -> row.getString(1),
                    threadId)).containsExactly(winner.runId());
            assertThat(database.sql().query("SELECT DISTINCT run_id FROM run_events", row -> row.getString(1)))
                    .containsExactly(winner.runId());
            assertThat(aliceSaw).extracting(Envelope::runId).containsOnly(winner.runId());
            assertThat(runs.start(alice, new StartRequest(threadId, "deltas 1", null, null))).isNotNull();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void stopEndsTheRunCancelledWithThePartialAnswerAndOthersCannotStopIt() {
        StartedRun started = runs.start(alice, new StartRequest(null, "hang", null, null));
        Await.until("two deltas are out", Duration.ofSeconds(5),
                () -> aliceSaw.stream().filter(e -> e.type().equals(EventType.PARTIAL_RESULT)).count() == 2);
        String bob = Accounts.insertUser(database);
        assertThatThrownBy(() -> runs.stop(bob, started.runId())).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RUN_NOT_FOUND));
        runs.stop(alice, started.runId());
        assertThat(awaitEnd(started.runId())).isEqualTo(RunStatus.CANCELLED);
        assertThat(conversations.messages(alice, started.threadId(), 10, null).getLast().content())
                .isEqualTo("partial answer ");
        assertThatThrownBy(() -> runs.stop(alice, started.runId())).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RUN_FINISHED));
    }

    @Test
    void runsOfAVanishedInstanceEndFailedOnceWithTheirLastEvent() {
        String threadId = conversations.createThread(alice, "orphan").id();
        String runId = "orphan-run";
        Instant longAgo = clock.instant().minus(Duration.ofMinutes(5));
        database.sql().update("INSERT INTO runs (id, thread_id, user_id, status, started_at, instance_id, lease_until, "
                + "active_thread_id) VALUES (?, ?, ?, 'running', ?, 'gone', ?, ?)", runId, threadId, alice, longAgo,
                longAgo.plus(RunService.LEASE), threadId);
        database.sql().update("INSERT INTO run_events (run_id, seq, type, body, created_at) VALUES (?, 1, ?, ?, ?)",
                runId, EventType.AGENT_STARTED, "{\"type\":\"agent_started\"}", longAgo);

        RunService otherInstance = service();
        try {
            runs.maintain();
            otherInstance.maintain();
        } finally {
            otherInstance.close();
        }
        RunRecord run = runs.find(alice, runId);
        assertThat(run.status()).isEqualTo(RunStatus.FAILED);
        assertThat(run.errorCode()).isEqualTo(ErrorCode.SERVICE_RESTART.code());
        RunLog log = runs.log(alice, runId, 0);
        assertThat(log.events()).extracting(StoredEvent::seq).containsExactly(1L, 2L);
        assertThat(log.complete()).isTrue();
        var last = Json.parse(log.events().getLast().wire());
        assertThat(last.path("data").path("retryable").asBoolean()).isTrue();
        // Whichever instance's maintenance ended the run (the test's calls or a scheduled pass) published it.
        Await.until("the ending is published", Duration.ofSeconds(5), () -> !aliceSaw.isEmpty());
        assertThat(aliceSaw).extracting(Envelope::type).containsExactly(EventType.AGENT_ERROR);
        // The thread is free again.
        assertThat(runs.start(alice, new StartRequest(threadId, "deltas 1", null, null))).isNotNull();
    }

    @Test
    void logsPastRetentionAreExpiredAndPurged() {
        StartedRun started = runs.start(alice, new StartRequest(null, "deltas 1", null, null));
        awaitEnd(started.runId());
        clock.advance(Duration.ofMinutes(11));
        assertThatThrownBy(() -> runs.log(alice, started.runId(), 0)).isInstanceOfSatisfying(ProtocolException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.EVENTS_EXPIRED));
        runs.maintain();
        long left = database.sql().queryOne("SELECT COUNT(*) FROM run_events WHERE run_id = ?", row -> row.getLong(1),
                started.runId()).orElseThrow();
        assertThat(left).isZero();
        assertThat(runs.find(alice, started.runId()).status()).isEqualTo(RunStatus.COMPLETED);
    }

    @Test
    void runsAtOnceLogEveryEventOnceInOrderAndPublishEachAfterItIsStored() throws Exception {
        List<String> runIds = new java.util.ArrayList<>();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            List<Future<StartedRun>> starts = new java.util.ArrayList<>();
            for (int i = 0; i < 40; i++) {
                starts.add(pool.submit(() -> runs.start(alice, new StartRequest(null, "deltas 12", null, null))));
            }
            for (Future<StartedRun> start : starts) {
                runIds.add(start.get().runId());
            }
        } finally {
            pool.shutdown();
        }
        for (String runId : runIds) {
            assertThat(awaitEnd(runId)).isEqualTo(RunStatus.COMPLETED);
            List<StoredEvent> logged = runs.log(alice, runId, 0).events();
            assertThat(logged).extracting(StoredEvent::seq)
                    .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, 17).boxed().toList());
            assertThat(awaitPublished(runId, 17)).extracting(Envelope::wire)
                    .containsExactlyElementsOf(logged.stream().map(StoredEvent::wire).toList());
        }
        // An ended run's timeout leaves the scheduler's queue at once, not when it would have been due: only the
        // periodic tasks (maintenance, the stop poll) are left.
        Await.until("the ended runs' timeouts leave the scheduler", Duration.ofSeconds(5),
                () -> runs.pendingTimers() <= 2);
    }

    @Test
    void aRunEndedByAnotherInstanceStoresAndPublishesNothingMoreAndOtherRunsGoOn() throws Exception {
        StartedRun endless = runs.start(alice, new StartRequest(null, "endless", null, null));
        Await.until("the endless run has published a few deltas", Duration.ofSeconds(5),
                () -> aliceSaw.stream().filter(e -> endless.runId().equals(e.runId())).count() >= 4);
        // Another instance whose clock is past this one's lease takes the run for abandoned and ends it.
        RunService other = service(new MutableClock(clock.instant().plus(Duration.ofMinutes(5))));
        try {
            other.maintain();
        } finally {
            other.close();
        }
        StartedRun alongside = runs.start(alice, new StartRequest(null, "deltas 12", null, null));
        assertThat(awaitEnd(alongside.runId())).isEqualTo(RunStatus.COMPLETED);
        assertThat(awaitPublished(alongside.runId(), 17)).hasSize(17);

        RunRecord ended = runs.find(alice, endless.runId());
        assertThat(ended.status()).isEqualTo(RunStatus.FAILED);
        assertThat(ended.errorCode()).isEqualTo(ErrorCode.SERVICE_RESTART.code());
        List<StoredEvent> logged = runs.log(alice, endless.runId(), 0).events();
        long last = logged.getLast().seq();
        assertThat(logged).extracting(StoredEvent::seq)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, last).boxed().toList());
        assertThat(logged.getLast().type()).isEqualTo(EventType.AGENT_ERROR);
        Await.until("this instance's run has given up", Duration.ofSeconds(5), () -> runs.activeRuns() == 0);
        // Every seq a socket saw names the event the log holds under it: nothing of this instance's after the end.
        List<Envelope> seen = aliceSaw.stream().filter(e -> endless.runId().equals(e.runId())).toList();
        assertThat(seen).allSatisfy(e -> assertThat(e.seq()).isLessThanOrEqualTo(last));
        for (Envelope event : seen) {
            assertThat(event.wire()).isEqualTo(logged.get((int) event.seq() - 1).wire());
        }
    }

    @Test
    void aStartWhoseOwnTransactionRefusesItsAdmissionStoresNothingNotEvenWhatItsAgentEmittedMeanwhile()
            throws Exception {
        List<Boolean> settled = new CopyOnWriteArrayList<>();
        try (Budgets budgets = new Budgets(database.sql(), new Config.Budget(Optional.of(BigDecimal.ONE),
                Config.BudgetPeriod.MONTH, new BigDecimal("0.5"), Set.of(), Optional.empty()), new Metrics(), clock, scheduler)) {
            Agent spender = new Agent() {
                @Override
                public Answer run(AgentRun run) throws InterruptedException {
                    return agent.run(run);
                }

                @Override
                public Admission admit(String userId, String runId, String request) {
                    // "deltas 1" fits in the limit of 1 USD; "deltas 2" comes after it and does not.
                    BigDecimal most = new BigDecimal(request.endsWith("1") ? "0.6" : "0.5");
                    Sql.Work<BudgetExceededException> take = budgets.take(budgets.prepare(userId, runId, 1_000_000L,
                            most), hold -> { });
                    return new Admission() {
                        @Override
                        public Sql.Work<BudgetExceededException> decision() {
                            return take;
                        }

                        @Override
                        public void settled(boolean admitted, RuntimeException refusal) {
                            settled.add(admitted);
                            assertThat(refusal == null).isEqualTo(admitted);
                        }
                    };
                }
            };
            // The journal's writer waits until both starts and the refused run's first events are queued, so that
            // they are written in one batch.
            RunService held = new RunService(database.sql(), database.eventLogSql(), new RunEventLog(database.sql()),
                    conversations, spender, fanout, config, new Metrics(), clock, false);
            try {
                budgets.writeThroughStarts(held::writeLedger);
                CompletableFuture<StartedRun> admitted = held.startAsync(alice, new StartRequest(null, "deltas 1",
                        null, null));
                CompletableFuture<StartedRun> refused = held.startAsync(alice, new StartRequest(null, "deltas 2",
                        null, null));
                Await.until("both agents have emitted", Duration.ofSeconds(10), () -> held.eventLogDelay()
                        .toMillis() > 50 && agent.runs() == 2);
                held.startEventWriter();

                String runId = admitted.join().runId();
                assertThatThrownBy(refused::join).hasCauseInstanceOf(BudgetExceededException.class);
                Await.until("run " + runId + " ends", Duration.ofSeconds(10),
                        () -> held.find(alice, runId).status().ended());
                assertThat(settled).containsExactlyInAnyOrder(true, false);
                assertThat(database.sql().query("SELECT id FROM runs", row -> row.getString(1)))
                        .containsExactly(runId);
                assertThat(database.sql().query("SELECT DISTINCT run_id FROM run_events", row -> row.getString(1)))
                        .containsExactly(runId);
                assertThat(database.sql().query("SELECT id FROM threads", row -> row.getString(1))).hasSize(1);
                Await.until("the admitted run is published", Duration.ofSeconds(10),
                        () -> aliceSaw.stream().anyMatch(e -> e.type().equals(EventType.AGENT_COMPLETED)));
                assertThat(aliceSaw).extracting(Envelope::runId).containsOnly(runId);
                assertThat(budgets.status(alice).reservedUsd()).isEqualByComparingTo("0.6");
            } finally {
                held.drain(Duration.ZERO);
                held.close();
            }
        }
    }

    @Test
    void newRunsAreRefusedOverloadedWhileWritesWaitTooLongToBeStoredAndTheRunsGoingOnFinish() throws Exception {
        Config.Runs tight = new Config.Runs(Duration.ofMinutes(2), Duration.ofMinutes(10), 10_000, RunService.LEASE,
                Duration.ofMillis(50));
        RunService behind = new RunService(database.sql(), database.eventLogSql(), new RunEventLog(database.sql()),
                conversations, new ScriptedAgent(Duration.ofMillis(5)), fanout, tight, new Metrics(), clock, false);
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try {
            Future<StartedRun> going = pool.submit(() -> behind.start(alice, new StartRequest(null, "deltas 3", null,
                    null)));
            Await.until("the first start has waited 50 ms to be stored", Duration.ofSeconds(10),
                    () -> behind.eventLogDelay().toMillis() > 50);
            assertThatThrownBy(() -> behind.start(alice, new StartRequest(null, "deltas 3", null, null)))
                    .isInstanceOfSatisfying(ProtocolException.class, e -> {
                        assertThat(e.code()).isEqualTo(ErrorCode.OVERLOADED);
                        assertThat(e.details()).containsEntry("retry_after_ms", 1000L);
                    });

            behind.startEventWriter();
            String runId = going.get(10, java.util.concurrent.TimeUnit.SECONDS).runId();
            Await.until("the run going on finishes", Duration.ofSeconds(10),
                    () -> behind.find(alice, runId).status() == RunStatus.COMPLETED);
            long threads = database.sql().queryOne("SELECT COUNT(*) FROM threads WHERE user_id = ?",
                    row -> row.getLong(1), alice).orElseThrow();
            assertThat(threads).as("the refused start stored nothing").isEqualTo(1);
            assertThat(behind.eventLogDelay()).isZero();
            assertThat(behind.start(alice, new StartRequest(null, "deltas 1", null, null))).isNotNull();
        } finally {
            pool.shutdown();
            behind.drain(Duration.ofSeconds(5));
            behind.close();
        }
    }
}
