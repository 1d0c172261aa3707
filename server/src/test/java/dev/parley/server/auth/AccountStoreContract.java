package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.db.Database;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link AccountStore} does on every database it runs on. Each subclass opens a fresh, migrated database of
 * one kind (the embedded SQLite, PostgreSQL), and the same cases run against it.
 */
abstract class AccountStoreContract {
    private static final Instant NOW = Instant.parse("2030-01-01T12:00:00.123Z");
    private static final Instant WEEK_LATER = NOW.plus(Duration.ofDays(7));

    private Database database;
    private AccountStore store;

    protected abstract Database open();

    @BeforeEach
    void setUp() {
        database = open();
        store = new AccountStore(database.sql());
    }

    @AfterEach
    void tearDown() {
        if (database != null) {
            database.close();
        }
    }

    private static String email() {
        return "u-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
    }

    private static String id() {
        return UUID.randomUUID().toString();
    }

    @Test
    void createdUserIsFoundByIdAndEmailWithItsHash() {
        String email = email();
        User created = store.createUser(email, "Ada", "$argon2id$hash", NOW);

        assertThat(store.findUser(created.id())).contains(created);
        assertThat(store.findUserByEmail(email)).contains(created);
        assertThat(created.createdAt()).isEqualTo(NOW.truncatedTo(ChronoUnit.MILLIS));
        AccountStore.Credentials credentials = store.findCredentials(email).orElseThrow();
        assertThat(credentials.user()).isEqualTo(created);
        assertThat(credentials.passwordHash()).isEqualTo("$argon2id$hash");
        assertThat(store.findUser("missing")).isEmpty();
        assertThat(store.findUserByEmail("missing@example.org")).isEmpty();
    }

    @Test
    void userWithoutPasswordHasANullHashAndCanGetOneLater() {
        String email = email();
        User user = store.createUser(email, "Dev", null, NOW);
        assertThat(store.findCredentials(email).orElseThrow().passwordHash()).isNull();
        store.updatePasswordHash(user.id(), "$argon2id$new");
        assertThat(store.findCredentials(email).orElseThrow().passwordHash()).isEqualTo("$argon2id$new");
    }

    @Test
    void secondAccountWithTheSameEmailIsRefusedAsTaken() {
        String email = email();
        store.createUser(email, "First", "h", NOW);
        assertThatThrownBy(() -> store.createUser(email, "Second", "h", NOW))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.EMAIL_TAKEN));
    }

    @Test
    void concurrentRegistrationsOfOneEmailCreateExactlyOneAccount() throws Exception {
        String email = email();
        List<Object> outcomes = race(8, () -> {
            try {
                return store.createUser(email, "Racer", "h", NOW);
            } catch (ProtocolException e) {
                return e.code();
            }
        });
        assertThat(outcomes.stream().filter(User.class::isInstance)).hasSize(1);
        assertThat(outcomes.stream().filter(ErrorCode.EMAIL_TAKEN::equals)).hasSize(7);
    }

    @Test
    void openFamilyIsActiveUntilRevoked() {
        User user = store.createUser(email(), "Ada", "h", NOW);
        String family = id();
        store.openFamily(family, user.id(), id(), NOW, WEEK_LATER);
        assertThat(store.isFamilyActive(family)).isTrue();

        assertThat(store.revokeFamily(family, AccountStore.RevokeReason.LOGOUT, NOW)).isTrue();
        assertThat(store.isFamilyActive(family)).isFalse();
        assertThat(store.revokeFamily(family, AccountStore.RevokeReason.LOGOUT, NOW)).isFalse();
        assertThat(store.isFamilyActive("unknown-family")).isFalse();
        assertThat(store.revokeFamily("unknown-family", AccountStore.RevokeReason.LOGOUT, NOW)).isFalse();
    }

    @Test
    void rotationSpendsTheTokenOnceAndReuseRevokesTheFamily() {
        User user = store.createUser(email(), "Ada", "h", NOW);
        String family = id();
        String first = id();
        store.openFamily(family, user.id(), first, NOW, WEEK_LATER);

        String second = id();
        assertThat(store.rotate(family, user.id(), first, second, NOW, WEEK_LATER))
                .isEqualTo(new AccountStore.Rotation.Rotated(user));
        String third = id();
        assertThat(store.rotate(family, user.id(), second, third, NOW, WEEK_LATER))
                .isEqualTo(new AccountStore.Rotation.Rotated(user));
        assertThat(store.isFamilyActive(family)).isTrue();

        assertThat(store.rotate(family, user.id(), first, id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.Reused.class);
        assertThat(store.isFamilyActive(family)).isFalse();
        assertThat(store.rotate(family, user.id(), third, id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.FamilyRevoked.class);
    }

    @Test
    void rotationOfUnknownTokensOrFamiliesChangesNothing() {
        User user = store.createUser(email(), "Ada", "h", NOW);
        User other = store.createUser(email(), "Bob", "h", NOW);
        String family = id();
        String token = id();
        store.openFamily(family, user.id(), token, NOW, WEEK_LATER);

        assertThat(store.rotate(family, user.id(), id(), id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.Unknown.class);
        assertThat(store.rotate("no-family", user.id(), token, id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.Unknown.class);
        assertThat(store.rotate(family, other.id(), token, id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.Unknown.class);
        assertThat(store.isFamilyActive(family)).isTrue();
        assertThat(store.rotate(family, user.id(), token, id(), NOW, WEEK_LATER))
                .isInstanceOf(AccountStore.Rotation.Rotated.class);
    }

    @Test
    void concurrentRotationsOfOneTokenLetExactlyOneThroughAndRevokeTheFamily() throws Exception {
        User user = store.createUser(email(), "Ada", "h", NOW);
        String family = id();
        String token = id();
        store.openFamily(family, user.id(), token, NOW, WEEK_LATER);

        List<Object> outcomes = race(6, () -> store.rotate(family, user.id(), token, id(), NOW, WEEK_LATER));
        assertThat(outcomes.stream().filter(AccountStore.Rotation.Rotated.class::isInstance)).hasSize(1);
        assertThat(outcomes.stream().filter(AccountStore.Rotation.Rotated.class::isInstance).count()
                + outcomes.stream().filter(AccountStore.Rotation.Reused.class::isInstance).count()
                + outcomes.stream().filter(AccountStore.Rotation.FamilyRevoked.class::isInstance).count()).isEqualTo(6);
        assertThat(store.isFamilyActive(family)).isFalse();
    }

    @Test
    void purgeDeletesEndedFamiliesAndExpiredTokensOnly() {
        User user = store.createUser(email(), "Ada", "h", NOW);
        String ended = id();
        store.openFamily(ended, user.id(), id(), NOW.minus(Duration.ofDays(8)), NOW.minus(Duration.ofDays(1)));
        String live = id();
        String liveToken = id();
        store.openFamily(live, user.id(), liveToken, NOW, WEEK_LATER);
        String nextToken = id();
        store.rotate(live, user.id(), liveToken, nextToken, NOW, WEEK_LATER);

        int purged = store.purgeExpired(NOW, NOW);
        assertThat(purged).isEqualTo(2);
        assertThat(store.isFamilyActive(ended)).isFalse();
        assertThat(store.isFamilyActive(live)).isTrue();
        assertThat(store.rotate(live, user.id(), liveToken, id(), NOW, WEEK_LATER))
                .as("a spent but unexpired token is kept for reuse detection")
                .isInstanceOf(AccountStore.Rotation.Reused.class);
    }

    private static List<Object> race(int racers, Supplier<Object> action) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Object>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(racers)) {
            for (int i = 0; i < racers; i++) {
                results.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        if (!go.await(10, TimeUnit.SECONDS)) {
                            throw new IllegalStateException("the race did not start");
                        }
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return action.get();
                }, pool));
            }
            go.countDown();
            List<Object> outcomes = new ArrayList<>();
            for (CompletableFuture<Object> result : results) {
                outcomes.add(result.get(30, TimeUnit.SECONDS));
            }
            return outcomes;
        }
    }
}
