package dev.parley.server.auth.oidc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.db.Database;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What {@link OidcStore} does on every database it runs on: single-use sign-ins and codes, even under concurrent
 * presentation, identity links, and the purge. Each subclass opens a fresh, migrated database of one kind.
 */
abstract class OidcStoreContract {
    private static final Instant NOW = Instant.parse("2030-01-01T12:00:00.123Z");
    private static final Instant LATER = NOW.plus(Duration.ofMinutes(10));

    private Database database;
    private OidcStore store;

    protected abstract Database open();

    @BeforeEach
    void setUp() {
        database = open();
        store = new OidcStore(database.sql());
    }

    @AfterEach
    void tearDown() {
        if (database != null) {
            database.close();
        }
    }

    @Test
    void aSignInIsClaimedOnceThenReadsUsed() {
        String state = UUID.randomUUID().toString();
        OidcStore.PendingLogin login = login(LATER);
        store.saveLogin(state, login, NOW);

        assertThat(store.claimLogin(state, NOW.plusSeconds(5))).isEqualTo(new OidcStore.LoginClaim.Claimed(login));
        assertThat(store.claimLogin(state, NOW.plusSeconds(6))).isInstanceOf(OidcStore.LoginClaim.Used.class);
        assertThat(store.claimLogin("never-issued", NOW)).isInstanceOf(OidcStore.LoginClaim.Unknown.class);
    }

    @Test
    void aSignInPastItsExpiryReadsExpiredAndStaysUnclaimed() {
        String state = UUID.randomUUID().toString();
        store.saveLogin(state, login(LATER), NOW);

        assertThat(store.claimLogin(state, LATER)).isInstanceOf(OidcStore.LoginClaim.Expired.class);
        assertThat(store.claimLogin(state, LATER.plusSeconds(1))).isInstanceOf(OidcStore.LoginClaim.Expired.class);
    }

    @Test
    void concurrentPresentationsOfOneStateHaveOneWinner() throws Exception {
        String state = UUID.randomUUID().toString();
        store.saveLogin(state, login(LATER), NOW);
        List<Callable<OidcStore.LoginClaim>> claims = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            claims.add(() -> store.claimLogin(state, NOW));
        }

        List<OidcStore.LoginClaim> results = all(claims);

        assertThat(results).filteredOn(OidcStore.LoginClaim.Claimed.class::isInstance).hasSize(1);
        assertThat(results).filteredOn(OidcStore.LoginClaim.Used.class::isInstance).hasSize(7);
    }

    @Test
    void aCodeIsSpentOnceAndThenReadsReplayedWithItsSignIn() throws Exception {
        String userId = user();
        String familyId = UUID.randomUUID().toString();
        store.saveCode("code-1", userId, familyId, "corp", NOW, NOW.plusSeconds(60));
        List<Callable<OidcStore.CodeClaim>> claims = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            claims.add(() -> store.claimCode("code-1", NOW.plusSeconds(1)));
        }

        List<OidcStore.CodeClaim> results = all(claims);

        assertThat(results).filteredOn(OidcStore.CodeClaim.Claimed.class::isInstance).singleElement()
                .isEqualTo(new OidcStore.CodeClaim.Claimed(userId, familyId, "corp"));
        assertThat(results).filteredOn(OidcStore.CodeClaim.Replayed.class::isInstance).hasSize(7)
                .allSatisfy(claim -> assertThat(claim).isEqualTo(new OidcStore.CodeClaim.Replayed(familyId, "corp")));
    }

    @Test
    void aCodePastItsExpiryIsInvalidAndAnUnknownCodeToo() {
        store.saveCode("code-2", user(), UUID.randomUUID().toString(), "corp", NOW, NOW.plusSeconds(60));

        assertThat(store.claimCode("code-2", NOW.plusSeconds(60))).isInstanceOf(OidcStore.CodeClaim.Invalid.class);
        assertThat(store.claimCode("code-3", NOW)).isInstanceOf(OidcStore.CodeClaim.Invalid.class);
    }

    @Test
    void aProviderUserLinksToOneAccountOnly() {
        String first = user();
        String second = user();

        assertThat(store.link("https://issuer", "sub-1", first, "corp", "a@example.org", NOW)).isTrue();
        assertThat(store.link("https://issuer", "sub-1", second, "corp", "a@example.org", NOW)).isFalse();
        assertThat(store.link("https://other-issuer", "sub-1", second, "other", null, NOW)).isTrue();
        assertThat(store.findLinkedUser("https://issuer", "sub-1", "new@example.org", LATER)).contains(first);
        assertThat(store.findLinkedUser("https://other-issuer", "sub-1", null, LATER)).contains(second);
        assertThat(store.findLinkedUser("https://issuer", "sub-2", null, LATER)).isEmpty();
    }

    @Test
    void purgeDeletesExpiredSignInsAndOnlyCodesPastTheirKeepingTime() {
        store.saveLogin("old", login(NOW.minusSeconds(1)), NOW.minus(Duration.ofMinutes(11)));
        store.saveLogin("live", login(LATER), NOW);
        String userId = user();
        store.saveCode("old-code", userId, UUID.randomUUID().toString(), "corp", NOW.minus(Duration.ofHours(2)),
                NOW.minus(Duration.ofHours(2)).plusSeconds(60));
        store.saveCode("recent-code", userId, UUID.randomUUID().toString(), "corp", NOW.minusSeconds(120),
                NOW.minusSeconds(60));

        assertThat(store.purgeExpired(NOW, NOW.minus(Duration.ofHours(1)))).isEqualTo(2);

        assertThat(store.claimLogin("old", NOW)).isInstanceOf(OidcStore.LoginClaim.Unknown.class);
        assertThat(store.claimLogin("live", NOW)).isInstanceOf(OidcStore.LoginClaim.Claimed.class);
        assertThat(store.purgeExpired(NOW, NOW)).isEqualTo(1);
    }

    @Test
    void statesAndCodesAreStoredOnlyAsHashes() {
        store.saveLogin("plain-state-value", login(LATER), NOW);
        store.saveCode("plain-code-value", user(), UUID.randomUUID().toString(), "corp", NOW, LATER);

        List<String> keys = database.sql().query("SELECT state_hash AS k FROM oidc_logins UNION ALL "
                + "SELECT code_hash AS k FROM oidc_codes", row -> row.getString("k"));

        assertThat(keys).hasSize(2).allSatisfy(key -> assertThat(key).matches("[0-9a-f]{64}"))
                .doesNotContain("plain-state-value", "plain-code-value");
    }

    private String user() {
        String id = UUID.randomUUID().toString();
        database.sql().update("INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)",
                id, id + "@example.org", "U", NOW);
        return id;
    }

    private static OidcStore.PendingLogin login(Instant expiresAt) {
        return new OidcStore.PendingLogin("corp", OidcStore.sha256("browser"), "nonce-" + UUID.randomUUID(),
                "verifier-" + UUID.randomUUID(), expiresAt);
    }

    private static <T> List<T> all(List<Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        try {
            List<T> results = new ArrayList<>();
            for (Future<T> future : pool.invokeAll(tasks, 30, TimeUnit.SECONDS)) {
                results.add(future.get());
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }
}
