package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Verifies access tokens: the token's own checks ({@link JwtTokens#verify}), then whether its family was revoked,
 * which is one primary-key lookup in {@code token_families}.
 *
 * <p>A "still active" answer may be kept for {@code cacheTtl} (zero: never kept) to spare the database on busy
 * sockets. The cache can never outlive a revocation that this instance hears of: a revocation removes the family's
 * entry, and bumps an epoch that keeps a lookup which was already in flight from storing its older answer. A
 * revocation on another instance without a shared {@link Revocations} is seen here once the entry ages out.
 * Thread-safe.
 */
final class JwtTokenVerifier implements TokenVerifier, AutoCloseable {
    private static final int MAX_CACHED = 50_000;

    private final JwtTokens tokens;
    private final AccountStore store;
    private final Clock clock;
    private final Duration cacheTtl;
    private final ConcurrentHashMap<String, Instant> activeUntil = new ConcurrentHashMap<>();
    private final AtomicLong revocationEpoch = new AtomicLong();
    private final Revocations.Subscription subscription;

    JwtTokenVerifier(JwtTokens tokens, AccountStore store, Revocations revocations, Clock clock, Duration cacheTtl) {
        this.tokens = tokens;
        this.store = store;
        this.clock = clock;
        this.cacheTtl = cacheTtl;
        this.subscription = revocations.onFamilyRevoked(this::forget);
    }

    @Override
    public Principal verifyAccess(String token) {
        JwtTokens.Claims claims = tokens.verify(token, JwtTokens.ACCESS);
        if (!isActive(claims.familyId())) {
            throw new ProtocolException(ErrorCode.TOKEN_REVOKED, "The token has been revoked; sign in again.");
        }
        return new Principal(claims.subject(), claims.email(), claims.tokenId(), claims.familyId(), claims.expiresAt());
    }

    /** Drops what this instance knows of a family; called for every revocation this instance hears of. */
    void forget(String familyId) {
        revocationEpoch.incrementAndGet();
        activeUntil.remove(familyId);
    }

    private boolean isActive(String familyId) {
        if (cacheTtl.isZero()) {
            return store.isFamilyActive(familyId);
        }
        Instant now = clock.instant();
        Instant until = activeUntil.get(familyId);
        if (until != null && now.isBefore(until)) {
            return true;
        }
        long epoch = revocationEpoch.get();
        boolean active = store.isFamilyActive(familyId);
        if (active) {
            if (activeUntil.size() >= MAX_CACHED) {
                activeUntil.values().removeIf(expiry -> !now.isBefore(expiry));
                if (activeUntil.size() >= MAX_CACHED) {
                    activeUntil.clear();
                }
            }
            activeUntil.put(familyId, now.plus(cacheTtl));
            // A revocation that ran during the lookup may have been missed by it: undo, and let the next call ask again.
            if (revocationEpoch.get() != epoch) {
                activeUntil.remove(familyId);
            }
        } else {
            activeUntil.remove(familyId);
        }
        return active;
    }

    @Override
    public void close() {
        subscription.close();
    }
}
