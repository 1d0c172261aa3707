package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.config.Config;
import dev.parley.server.observe.Metrics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Accounts and sign-ins: registration, password sign-in with throttling, refresh-token rotation with reuse
 * detection, sign-out, and the development sign-in. Every successful path ends in a new or continued token family
 * and a {@link TokenPair}.
 *
 * <p>Refresh tokens are JWTs like access tokens, not opaque strings stored hashed. The {@code refresh_tokens} table
 * keys each token by its {@code jti} and has no hash column, the signature lets forged or expired tokens be refused
 * without touching the database, and single use, reuse detection and revocation still come from the row, so the
 * token alone is never enough. Their claims are only ids. {@code token_type} keeps the two kinds apart in both
 * directions.
 *
 * <p>Holds no state of its own beyond its collaborators; thread-safe.
 */
public final class Accounts {
    private static final Logger LOG = LoggerFactory.getLogger(Accounts.class);

    static final int MIN_PASSWORD_CHARS = 8;
    static final int MAX_PASSWORD_CHARS = 1024;
    static final int MAX_NAME_CHARS = 200;
    static final String DEV_EMAIL = "dev@parley.local";
    /** The window of {@code PARLEY_SIGNUP_LIMIT}. */
    static final Duration SIGNUP_WINDOW = Duration.ofHours(1);

    /** What GET /auth/config reports. */
    public record Settings(boolean devLogin, boolean registrationOpen, long accessTokenTtlSeconds) {
    }

    private final Config.Auth config;
    private final AccountStore store;
    private final PasswordHasher passwords;
    private final JwtTokens tokens;
    private final Revocations revocations;
    private final LoginThrottle throttle;
    private final LoginThrottle.Limit accountLimit;
    private final LoginThrottle.Limit addressLimit;
    private final LoginThrottle.Limit signupLimit;
    private final Metrics metrics;
    private final Clock clock;

    Accounts(Config.Auth config, AccountStore store, PasswordHasher passwords, JwtTokens tokens,
             Revocations revocations, LoginThrottle throttle, Metrics metrics, Clock clock) {
        this.config = config;
        this.store = store;
        this.passwords = passwords;
        this.tokens = tokens;
        this.revocations = revocations;
        this.throttle = throttle;
        this.accountLimit = new LoginThrottle.Limit(config.loginMaxAttempts(), config.loginWindow());
        this.addressLimit = new LoginThrottle.Limit(config.loginMaxAttemptsPerAddress(), config.loginWindow());
        this.signupLimit = new LoginThrottle.Limit(config.signupLimit(), SIGNUP_WINDOW);
        this.metrics = metrics;
        this.clock = clock;
    }

    public Settings settings() {
        return new Settings(config.devLogin(), config.registrationOpen(), config.accessTokenTtl().toSeconds());
    }

    /**
     * Creates an account and signs it in.
     *
     * @throws ProtocolException {@code registration_closed}, {@code invalid_email}, {@code weak_password},
     *                           {@code invalid_request} (a bad name) or {@code email_taken}
     */
    public TokenPair register(String email, String password, Optional<String> name, String clientAddress) {
        if (!config.registrationOpen()) {
            throw new ProtocolException(ErrorCode.REGISTRATION_CLOSED,
                    "This server does not accept new accounts; ask its operator for one.");
        }
        String signupKey = "signup:" + clientAddress;
        Optional<Duration> wait = throttle.retryAfter(signupKey, signupLimit);
        if (wait.isPresent()) {
            long seconds = LoginThrottle.seconds(wait.get());
            metrics.increment("parley_auth_registrations_refused_total", "Sign-ups refused by the per-address limit.");
            LOG.warn("Sign-up refused for address {}: {} accounts in the hour ({} s left)", clientAddress,
                    config.signupLimit(), seconds);
            throw new ProtocolException(ErrorCode.RATE_LIMITED,
                    "Too many accounts created from this address; try again in " + seconds + " seconds.",
                    Map.of("retry_after_s", seconds));
        }
        String normalized = EmailAddresses.requireValid(email);
        requireStrongPassword(password);
        String displayName = displayName(name, normalized);
        if (store.findUserByEmail(normalized).isPresent()) {
            throw new ProtocolException(ErrorCode.EMAIL_TAKEN, "An account with this email already exists.");
        }
        User user = store.createUser(normalized, displayName, passwords.hash(password), clock.instant());
        throttle.recordFailure(signupKey, signupLimit);
        metrics.increment("parley_auth_registrations_total", "Accounts created.");
        LOG.info("Account {} registered", user.id());
        return openFamily(user);
    }

    /**
     * Signs in with email and password. Unknown emails, accounts without a password and wrong passwords get the
     * same answer after the same work. Failures count against the account and the client address; while either is
     * over its limit the attempt is refused with {@code too_many_attempts} before any password is checked.
     */
    public TokenPair login(String email, String password, String clientAddress) {
        String normalized = EmailAddresses.normalize(email);
        String accountKey = "account:" + normalized;
        String addressKey = "address:" + clientAddress;
        Optional<Duration> wait = longest(throttle.retryAfter(accountKey, accountLimit),
                throttle.retryAfter(addressKey, addressLimit));
        if (wait.isPresent()) {
            long seconds = LoginThrottle.seconds(wait.get());
            metrics.increment("parley_auth_logins_total", "Password sign-in attempts.", "outcome", "throttled");
            LOG.warn("Sign-in throttled for address {} ({} s left)", clientAddress, seconds);
            throw new ProtocolException(ErrorCode.TOO_MANY_ATTEMPTS,
                    "Too many failed sign-ins; try again in " + seconds + " seconds.",
                    Map.of("retry_after_s", seconds));
        }
        Optional<AccountStore.Credentials> credentials = store.findCredentials(normalized);
        boolean valid;
        if (credentials.isEmpty() || credentials.get().passwordHash() == null) {
            passwords.verifyDummy(password);
            valid = false;
        } else {
            valid = passwords.verify(password, credentials.get().passwordHash());
        }
        if (!valid) {
            throttle.recordFailure(accountKey, accountLimit);
            throttle.recordFailure(addressKey, addressLimit);
            metrics.increment("parley_auth_logins_total", "Password sign-in attempts.", "outcome", "invalid_credentials");
            LOG.info("Sign-in refused for address {}: invalid credentials", clientAddress);
            throw new ProtocolException(ErrorCode.INVALID_CREDENTIALS, "The email or password is wrong.");
        }
        User user = credentials.get().user();
        throttle.reset(accountKey);
        upgradeHashIfNeeded(user, password, credentials.get().passwordHash());
        metrics.increment("parley_auth_logins_total", "Password sign-in attempts.", "outcome", "success");
        LOG.info("Account {} signed in", user.id());
        return openFamily(user);
    }

    /**
     * Spends a refresh token and hands out a new pair in the same family.
     *
     * @throws ProtocolException {@code invalid_token} or {@code token_expired} for a token that is not a live refresh
     *                           token of ours, {@code token_revoked} when its family is revoked, including now,
     *                           because it had been spent already
     */
    public TokenPair refresh(String refreshToken) {
        JwtTokens.Claims claims = tokens.verify(refreshToken, JwtTokens.REFRESH);
        Instant now = clock.instant();
        String nextId = UUID.randomUUID().toString();
        Instant expiresAt = now.plus(config.refreshTokenTtl());
        AccountStore.Rotation rotation =
                store.rotate(claims.familyId(), claims.subject(), claims.tokenId(), nextId, now, expiresAt);
        return switch (rotation) {
            case AccountStore.Rotation.Rotated rotated -> {
                metrics.increment("parley_auth_refreshes_total", "Refresh token presentations.", "outcome", "rotated");
                yield pair(rotated.user(), claims.familyId(), nextId, now, expiresAt);
            }
            case AccountStore.Rotation.Reused reused -> {
                metrics.increment("parley_auth_refreshes_total", "Refresh token presentations.", "outcome", "reused");
                LOG.warn("A spent refresh token of family {} (account {}) was presented again; the family is revoked",
                        claims.familyId(), claims.subject());
                revocations.announce(claims.familyId());
                throw new ProtocolException(ErrorCode.TOKEN_REVOKED,
                        "This refresh token was already used; every token of this sign-in is now revoked.");
            }
            case AccountStore.Rotation.FamilyRevoked revoked -> {
                metrics.increment("parley_auth_refreshes_total", "Refresh token presentations.", "outcome", "revoked");
                throw new ProtocolException(ErrorCode.TOKEN_REVOKED, "The token has been revoked; sign in again.");
            }
            case AccountStore.Rotation.Unknown unknown -> {
                metrics.increment("parley_auth_refreshes_total", "Refresh token presentations.", "outcome", "unknown");
                throw new ProtocolException(ErrorCode.INVALID_TOKEN, "The refresh token is not known.");
            }
        };
    }

    /** Revokes the family of a verified access token: every token of that sign-in, everywhere. */
    public void logout(Principal principal) {
        if (store.revokeFamily(principal.familyId(), AccountStore.RevokeReason.LOGOUT, clock.instant())) {
            metrics.increment("parley_auth_revocations_total", "Token families revoked.", "reason", "logout");
            LOG.info("Account {} signed out family {}", principal.userId(), principal.familyId());
        }
        revocations.announce(principal.familyId());
    }

    /**
     * Signs in without a password, creating the account when needed; only when dev login is enabled.
     *
     * @throws ProtocolException {@code not_found} when dev login is off, {@code invalid_email} for a bad address
     */
    public TokenPair devLogin(Optional<String> email) {
        if (!config.devLogin()) {
            throw new ProtocolException(ErrorCode.NOT_FOUND, "Not found.");
        }
        String normalized = EmailAddresses.requireValid(email.filter(e -> !e.isBlank()).orElse(DEV_EMAIL));
        User user = store.findUserByEmail(normalized).orElseGet(() -> {
            try {
                User created = store.createUser(normalized, EmailAddresses.localPart(normalized), null, clock.instant());
                LOG.info("Account {} created by dev login", created.id());
                return created;
            } catch (ProtocolException e) {
                if (e.code() != ErrorCode.EMAIL_TAKEN) {
                    throw e;
                }
                return store.findUserByEmail(normalized).orElseThrow(() -> e);
            }
        });
        LOG.info("Account {} signed in by dev login", user.id());
        return openFamily(user);
    }

    public Optional<User> findUser(String userId) {
        return store.findUser(userId);
    }

    /** Finds the account with this email, compared as stored (trimmed, lower case). */
    public Optional<User> findUserByEmail(String email) {
        return store.findUserByEmail(EmailAddresses.normalize(email));
    }

    /**
     * Creates an account without a password for a person whose email an identity provider has verified. The name is
     * the provider's, tidied (control characters dropped, cut to the column's length), or the email's local part.
     *
     * @throws ProtocolException {@code registration_closed}, {@code invalid_email}, or {@code email_taken} when the
     *                           email has an account already (perhaps created a moment ago by a parallel sign-in)
     */
    public User createExternalAccount(String email, Optional<String> name) {
        if (!config.registrationOpen()) {
            throw new ProtocolException(ErrorCode.REGISTRATION_CLOSED,
                    "This server does not accept new accounts; ask its operator for one.");
        }
        String normalized = EmailAddresses.requireValid(email);
        String displayName = name.map(Accounts::tidyName).filter(value -> !value.isEmpty())
                .orElseGet(() -> EmailAddresses.localPart(normalized));
        User user = store.createUser(normalized, displayName, null, clock.instant());
        metrics.increment("parley_auth_registrations_total", "Accounts created.");
        LOG.info("Account {} created by an identity provider sign-in", user.id());
        return user;
    }

    /**
     * Opens a sign-in (token family {@code familyId}, chosen by the caller so that it can refer to it later) for an
     * account that has proved who it is elsewhere, such as at an identity provider.
     */
    public TokenPair signIn(User user, String familyId) {
        return openFamily(user, familyId);
    }

    /**
     * Revokes a sign-in because the one-time code that opened it was presented again: the code was copied, and
     * nobody can tell which holder is the rightful one.
     */
    public void revokeReplayedSignIn(String familyId) {
        if (store.revokeFamily(familyId, AccountStore.RevokeReason.CODE_REUSE, clock.instant())) {
            metrics.increment("parley_auth_revocations_total", "Token families revoked.", "reason", "code_reuse");
            LOG.warn("A spent sign-in code was presented again; sign-in {} is revoked", familyId);
        }
        revocations.announce(familyId);
    }

    /** Deletes families and refresh tokens that can no longer be used; returns how many rows went. */
    public int purgeExpired() {
        Instant now = clock.instant();
        // A family's last access token can live one access lifetime past the family's own expiry at most.
        int purged = store.purgeExpired(now.minus(config.accessTokenTtl()), now);
        if (purged > 0) {
            LOG.info("Purged {} expired token rows", purged);
        }
        return purged;
    }

    private TokenPair openFamily(User user) {
        return openFamily(user, UUID.randomUUID().toString());
    }

    private TokenPair openFamily(User user, String familyId) {
        Instant now = clock.instant();
        Instant expiresAt = now.plus(config.refreshTokenTtl());
        String refreshId = UUID.randomUUID().toString();
        store.openFamily(familyId, user.id(), refreshId, now, expiresAt);
        return pair(user, familyId, refreshId, now, expiresAt);
    }

    private TokenPair pair(User user, String familyId, String refreshId, Instant now, Instant refreshExpiresAt) {
        JwtTokens.Signed access = tokens.issueAccess(user, familyId);
        String refresh = tokens.issueRefresh(user.id(), familyId, refreshId, now, refreshExpiresAt);
        return new TokenPair(access.token(), refresh, tokens.accessTtl().toSeconds(), user);
    }

    private void upgradeHashIfNeeded(User user, String password, String stored) {
        if (passwords.needsRehash(stored)) {
            store.updatePasswordHash(user.id(), passwords.hash(password));
            LOG.info("Account {}: password hash upgraded to the current parameters", user.id());
        }
    }

    private static void requireStrongPassword(String password) {
        int length = password.codePointCount(0, password.length());
        if (length < MIN_PASSWORD_CHARS) {
            throw new ProtocolException(ErrorCode.WEAK_PASSWORD,
                    "The password must be at least " + MIN_PASSWORD_CHARS + " characters long.");
        }
        if (length > MAX_PASSWORD_CHARS) {
            throw new ProtocolException(ErrorCode.WEAK_PASSWORD,
                    "The password must be at most " + MAX_PASSWORD_CHARS + " characters long.");
        }
    }

    private static String displayName(Optional<String> name, String email) {
        String value = name.map(String::strip).orElse("");
        if (value.isEmpty()) {
            return EmailAddresses.localPart(email);
        }
        // UTF-16 units, not code points: never more than the column's characters on either database.
        if (value.length() > MAX_NAME_CHARS) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The field 'name' must be at most " + MAX_NAME_CHARS + " characters long.");
        }
        if (value.codePoints().anyMatch(Character::isISOControl)) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'name' must not contain control characters.");
        }
        return value;
    }

    private static String tidyName(String name) {
        StringBuilder tidy = new StringBuilder();
        name.strip().codePoints().filter(c -> !Character.isISOControl(c)).forEach(tidy::appendCodePoint);
        String value = tidy.toString().strip();
        if (value.length() > MAX_NAME_CHARS) {
            int end = MAX_NAME_CHARS;
            if (Character.isHighSurrogate(value.charAt(end - 1))) {
                end--;
            }
            value = value.substring(0, end).strip();
        }
        return value;
    }

    private static Optional<Duration> longest(Optional<Duration> a, Optional<Duration> b) {
        if (a.isEmpty()) {
            return b;
        }
        if (b.isEmpty()) {
            return a;
        }
        return a.get().compareTo(b.get()) >= 0 ? a : b;
    }
}
