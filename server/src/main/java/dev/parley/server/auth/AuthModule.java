package dev.parley.server.auth;

import dev.parley.server.config.Config;
import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts and tokens feature, wired: what the rest of the server uses ({@link #accounts()},
 * {@link #verifier()}, {@link #revocations()}), built from the configuration, the database and the two parts that
 * have a shared implementation elsewhere (revocation notices and the login throttle). Owns a background task that
 * deletes expired token families and refresh tokens every {@link #PURGE_EVERY}; {@link #close()} stops it.
 */
public final class AuthModule implements AutoCloseable {
    static final Duration PURGE_EVERY = Duration.ofHours(1);
    private static final Duration FIRST_PURGE_AFTER = Duration.ofMinutes(1);
    private static final Logger LOG = LoggerFactory.getLogger(AuthModule.class);

    private final Accounts accounts;
    private final JwtTokenVerifier verifier;
    private final Revocations revocations;
    private final ScheduledFuture<?> purge;

    private AuthModule(Accounts accounts, JwtTokenVerifier verifier, Revocations revocations,
                       ScheduledFuture<?> purge) {
        this.accounts = accounts;
        this.verifier = verifier;
        this.revocations = revocations;
        this.purge = purge;
    }

    /**
     * Builds the feature. The JWT secret is the configured one, or the one kept in the data directory (generated
     * the first time) in embedded mode. The purge runs on {@code scheduler}, the process's housekeeping scheduler.
     */
    public static AuthModule create(Config config, Sql sql, Revocations revocations, LoginThrottle throttle,
                                    Metrics metrics, Clock clock, ScheduledExecutorService scheduler) {
        Config.Auth auth = config.auth();
        byte[] secret = JwtSecret.resolve(auth.jwtSecret(), config.storage().dataDir());
        JwtTokens tokens = new JwtTokens(secret, auth.issuer(), auth.audience(), auth.accessTokenTtl(),
                auth.refreshTokenTtl(), clock);
        AccountStore store = new AccountStore(sql);
        JwtTokenVerifier verifier = new JwtTokenVerifier(tokens, store, revocations, clock, auth.revocationCacheTtl());
        Accounts accounts = new Accounts(auth, store, PasswordHasher.standard(), tokens, revocations, throttle,
                metrics, clock);
        ScheduledFuture<?> purge = scheduler.scheduleWithFixedDelay(() -> quietlyPurge(accounts),
                FIRST_PURGE_AFTER.toSeconds(), PURGE_EVERY.toSeconds(), TimeUnit.SECONDS);
        return new AuthModule(accounts, verifier, revocations, purge);
    }

    public Accounts accounts() {
        return accounts;
    }

    /** Verifies access tokens, revocation included; what every authenticated route and socket uses. */
    public TokenVerifier verifier() {
        return verifier;
    }

    /** Where revoked token families are announced; sockets subscribe here to close on sign-out. */
    public Revocations revocations() {
        return revocations;
    }

    private static void quietlyPurge(Accounts accounts) {
        try {
            accounts.purgeExpired();
        } catch (RuntimeException e) {
            LOG.warn("Purging expired tokens failed; will retry in {}", PURGE_EVERY, e);
        }
    }

    @Override
    public void close() {
        purge.cancel(true);
        verifier.close();
    }
}
