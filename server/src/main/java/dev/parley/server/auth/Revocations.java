package dev.parley.server.auth;

import java.util.function.Consumer;

/**
 * Tells whoever holds credentials of a token family that the family was revoked (sign-out, or a refresh token
 * presented twice), so that sockets opened with its access tokens close with 1008 {@code token_revoked} at once and
 * caches forget it. The database is the record of revocation; this is only the prompt to look.
 *
 * <p>The local implementation reaches the listeners of this instance; a shared one (Redis pub/sub) also reaches
 * every other instance, and delivers on its subscriber thread. Either way a listener may hear the same family more
 * than once (its own instance's announcement and the shared echo), so listeners must be idempotent, quick (hand slow
 * work to another thread) and must not throw.
 */
public interface Revocations {
    /** Announces a revocation that has already been stored. Never throws; delivery failures are logged. */
    void announce(String familyId);

    /** Registers a listener for revoked family ids until the returned subscription is closed. */
    Subscription onFamilyRevoked(Consumer<String> listener);

    /** A registered listener; closing it stops delivery. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
