package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PasswordHasherTest {
    /** Made by the reference implementation: {@code echo -n "correct horse battery staple" | argon2 saltsaltsaltsalt -id -t 2 -m 10 -p 1 -l 32 -e}. */
    private static final String REFERENCE_SMALL =
            "$argon2id$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ";
    /** {@code echo -n "password" | argon2 somesaltsomesalt -id -t 2 -k 19456 -p 1 -l 32 -e}: the production parameters. */
    private static final String REFERENCE_PRODUCTION =
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE";

    private final PasswordHasher hasher = PasswordHasher.standard();

    @Test
    void hashIsAnArgon2idPhcStringWithTheProductionParameters() {
        String hash = hasher.hash("correct horse battery staple");
        assertThat(hash).matches("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}");
        assertThat(hasher.hash("correct horse battery staple")).as("a fresh salt each time").isNotEqualTo(hash);
    }

    @Test
    void verifyAcceptsThePasswordAndNothingElse() {
        String hash = hasher.hash("correct horse battery staple");
        assertThat(hasher.verify("correct horse battery staple", hash)).isTrue();
        assertThat(hasher.verify("correct horse battery stapl", hash)).isFalse();
        assertThat(hasher.verify("Correct horse battery staple", hash)).isFalse();
        assertThat(hasher.verify("", hash)).isFalse();
    }

    @Test
    void verifyReadsHashesOfTheReferenceImplementation() {
        assertThat(hasher.verify("correct horse battery staple", REFERENCE_SMALL)).isTrue();
        assertThat(hasher.verify("correct horse battery staplE", REFERENCE_SMALL)).isFalse();
        assertThat(hasher.verify("password", REFERENCE_PRODUCTION)).isTrue();
        assertThat(hasher.verify("passw0rd", REFERENCE_PRODUCTION)).isFalse();
    }

    @Test
    void hashesWithOtherParametersNeedARehash() {
        assertThat(hasher.needsRehash(REFERENCE_SMALL)).isTrue();
        assertThat(hasher.needsRehash(REFERENCE_PRODUCTION)).isFalse();
        assertThat(hasher.needsRehash(hasher.hash("something long enough"))).isFalse();
    }

    @Test
    void passwordsAreComparedAfterUnicodeNormalisation() {
        String composed = "caf\u00e9 au lait";
        String decomposed = "cafe\u0301 au lait";
        String hash = hasher.hash(composed);
        assertThat(hasher.verify(decomposed, hash)).isTrue();
    }

    @Test
    void unreadableStoredHashIsOurBugNotTheUsers() {
        for (String stored : new String[] {"plaintext", "$argon2i$v=19$m=1024,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ",
                "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$RC5JY/00hXKlnXZ/+PCVcJg84nuCQwbjIQ3DVCTomOQ"}) {
            assertThatThrownBy(() -> hasher.verify("x", stored)).isInstanceOf(IllegalStateException.class)
                    .hasMessageNotContaining(stored);
        }
    }

    @Test
    void dummyVerificationDoesTheSameWork() {
        hasher.verifyDummy("warm up");
        long started = System.nanoTime();
        hasher.verifyDummy("anything");
        long dummy = System.nanoTime() - started;
        assertThat(dummy).as("a dummy verification runs Argon2id, it does not return at once").isGreaterThan(1_000_000L);
    }
}
