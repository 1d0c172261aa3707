package dev.parley.server.budget;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.db.Database;
import dev.parley.server.db.Sql;
import dev.parley.server.testing.TestDatabases;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The ledger's PostgreSQL writer over a real database, in a fresh schema per test: units queued together commit in
 * one transaction, in their users' order, and one that fails fails alone. Skipped without
 * {@code PARLEY_TEST_DATABASE_URL}, failing instead when {@code PARLEY_TEST_REQUIRE_SERVICES=true}.
 */
class LedgerBatcherTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private Database database;
    private LedgerBatcher batcher;

    @BeforeEach
    void setUp() {
        database = Database.open(TestDatabases.freshPostgresSchema(), 4);
        database.sql().update("CREATE TABLE probe (id TEXT PRIMARY KEY, tx BIGINT NOT NULL)");
        batcher = new LedgerBatcher(database.sql());
    }

    @AfterEach
    void tearDown() {
        if (batcher != null) {
            batcher.close();
        }
        if (database != null) {
            database.close();
        }
    }

    /** A unit that stores {@code id} with its transaction's id, and returns that transaction id. */
    private static Sql.Work<Long> insert(String id) {
        return connection -> {
            long tx = Sql.query(connection, "SELECT txid_current() AS tx", row -> row.getLong("tx")).getFirst();
            Sql.update(connection, "INSERT INTO probe (id, tx) VALUES (?, ?)", id, tx);
            return tx;
        };
    }

    /** Queues a unit that holds the writer until the returned latch is counted down. */
    private CountDownLatch occupyWriter() throws InterruptedException {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        batcher.submit("a", connection -> {
            started.countDown();
            try {
                return release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        });
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return release;
    }

    private long rows(String where) {
        return database.sql().queryOne("SELECT COUNT(*) AS n FROM probe WHERE " + where, row -> row.getLong("n"))
                .orElseThrow();
    }

    @Test
    void unitsQueuedWhileTheWriterIsBusyCommitInOneTransaction() throws Exception {
        CountDownLatch release = occupyWriter();
        List<CompletableFuture<Long>> done = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            done.add(batcher.submit("user-" + (i % 7), insert("row-" + i)));
        }
        assertThat(rows("TRUE")).isZero();
        release.countDown();

        List<Long> transactions = done.stream().map(CompletableFuture::join).distinct().toList();
        assertThat(transactions).hasSize(1);
        assertThat(rows("tx = " + transactions.getFirst())).isEqualTo(50);
    }

    @Test
    void aBatchRunsItsUnitsInTheOrderOfTheirUsersAndEachUsersInQueueOrder() throws Exception {
        CountDownLatch release = occupyWriter();
        List<String> ran = new CopyOnWriteArrayList<>();
        List<CompletableFuture<Object>> done = new ArrayList<>();
        for (String unit : List.of("c1", "a1", "b1", "c2", "a2", "b2")) {
            done.add(batcher.submit(unit.substring(0, 1), connection -> ran.add(unit)));
        }
        release.countDown();
        done.forEach(CompletableFuture::join);

        assertThat(ran).containsExactly("a1", "a2", "b1", "b2", "c1", "c2");
    }

    @Test
    void aUnitThatFailsFailsAloneAndTheOthersOfItsBatchCommit() throws Exception {
        database.sql().update("INSERT INTO probe (id, tx) VALUES ('taken', 0)");
        CountDownLatch release = occupyWriter();
        CompletableFuture<Long> before = batcher.submit("a", insert("before"));
        CompletableFuture<Long> failing = batcher.submit("b", insert("taken"));
        CompletableFuture<Long> after = batcher.submit("c", insert("after"));
        release.countDown();

        assertThat(before.join()).isPositive();
        assertThat(after.join()).isPositive();
        assertThat(failing).failsWithin(WAIT).withThrowableThat().havingRootCause()
                .isInstanceOf(SQLException.class);
        assertThat(rows("id IN ('before', 'after')")).isEqualTo(2);
        assertThat(rows("id = 'taken' AND tx = 0")).isEqualTo(1);
    }

    @Test
    void aUnitThatThrowsAnErrorFailsAloneAndTheWriterGoesOn() throws Exception {
        CountDownLatch release = occupyWriter();
        CompletableFuture<Long> before = batcher.submit("a", insert("before"));
        CompletableFuture<Long> broken = batcher.submit("b", connection -> {
            throw new AssertionError("broken unit");
        });
        release.countDown();

        assertThat(before.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isPositive();
        assertThat(broken).failsWithin(WAIT).withThrowableThat().havingRootCause().isInstanceOf(AssertionError.class);
        assertThat(batcher.submit("c", insert("after")).get(WAIT.toSeconds(), TimeUnit.SECONDS)).isPositive();
        assertThat(rows("id IN ('before', 'after')")).isEqualTo(2);
    }

    @Test
    void closeRunsWhatIsQueuedAndLaterUnitsStillRun() throws Exception {
        CountDownLatch release = occupyWriter();
        CompletableFuture<Long> queued = batcher.submit("a", insert("queued"));
        CompletableFuture<Void> closing = CompletableFuture.runAsync(batcher::close);
        release.countDown();
        closing.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(queued).isDone();
        assertThat(queued.join()).isPositive();
        assertThat(batcher.submit("a", insert("late")).join()).isPositive();
        assertThat(rows("id IN ('queued', 'late')")).isEqualTo(2);
    }
}
