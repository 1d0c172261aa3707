package dev.parley.server.auth.oidc;

import com.nimbusds.jwt.JWT;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Accounts;
import dev.parley.server.auth.LoginThrottle;
import dev.parley.server.auth.TokenPair;
import dev.parley.server.auth.User;
import dev.parley.server.config.Config;
import dev.parley.server.db.Sql;
import dev.parley.server.observe.Metrics;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sign-in with OpenID Connect providers: the authorization code flow with PKCE (S256), a stored single-use state and
 * nonce, and a one-time code that the web page trades for the contract's token pair, so that no token ever travels in
 * a URL.
 *
 * <ol>
 *   <li>{@link #start}: a fresh state, nonce and PKCE verifier are stored for {@link #LOGIN_TTL}, tied to the
 *       browser by a random key that the caller keeps in a cookie; the browser goes to the provider.</li>
 *   <li>{@link #finish}: the provider sends the browser back with a code and the state. The state must be known,
 *       unexpired and unused (it is used up at once, by a conditional update), and must come with the same browser
 *       key. The code is redeemed at the token endpoint with the verifier; the ID token must verify (keys, issuer,
 *       audience, expiry, nonce). The account is the one linked to the provider's (issuer, subject); a first sign-in
 *       links to the account with the same email, or creates one, only when the provider says it verified that
 *       email. The result is a one-time code, valid for {@link #CODE_TTL}.</li>
 *   <li>{@link #exchange}: the one-time code becomes a token pair, once. A spent code presented again revokes the
 *       sign-in it opened.</li>
 * </ol>
 *
 * <p>Every refusal is a {@link ProtocolException} whose message is a sentence for the person signing in and whose
 * cause, when there is one, says what went wrong, for the log. Holds no mutable state besides the providers' caches
 * and the purge task, which {@link #close()} stops; thread-safe.
 */
public final class OidcSignIn implements AutoCloseable {
    /** How long a started sign-in may take at the provider. */
    public static final Duration LOGIN_TTL = Duration.ofMinutes(10);
    /**
     * Sign-ins one client address may start per minute: each start stores a pending login until it expires, so an
     * unthrottled start would let anyone fill the table; a person needs a handful.
     */
    static final LoginThrottle.Limit STARTS_PER_ADDRESS = new LoginThrottle.Limit(30, Duration.ofMinutes(1));
    /** How long the web page has to trade the one-time code for tokens. */
    public static final Duration CODE_TTL = Duration.ofSeconds(60);
    static final Duration PURGE_EVERY = Duration.ofMinutes(10);
    /** Spent codes are kept this long past their expiry, so that a late replay still revokes the sign-in. */
    static final Duration KEEP_EXPIRED_CODES = Duration.ofHours(1);

    private static final Logger LOG = LoggerFactory.getLogger(OidcSignIn.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern RANDOM_VALUE = Pattern.compile("[A-Za-z0-9_-]{43}");
    private static final Pattern PROVIDER_ERROR_CODE = Pattern.compile("[a-z_]{1,64}");

    /** A configured provider as the sign-in screen shows it. */
    public record Provider(String id, String name) {
    }

    /** Where to send the browser, and the key that ties this sign-in to it (for a cookie). */
    public record Started(URI authorizationUri, String browserKey) {
        @Override
        public String toString() {
            return "Started[authorizationUri=" + authorizationUri.getHost() + "]";
        }
    }

    /** What the provider's redirect brought back, and the browser key from the cookie. */
    public record Callback(Optional<String> state, Optional<String> code, Optional<String> error,
                           Optional<String> issuer, Optional<String> browserKey) {
        @Override
        public String toString() {
            return "Callback[error=" + error.orElse("none") + "]";
        }
    }

    private final Map<String, OpenIdProvider> providers;
    private final Optional<URI> redirectUri;
    private final OidcStore store;
    private final Accounts accounts;
    private final LoginThrottle throttle;
    private final Metrics metrics;
    private final Clock clock;
    private volatile ScheduledFuture<?> purge;

    private OidcSignIn(Map<String, OpenIdProvider> providers, Optional<URI> redirectUri, OidcStore store,
                       Accounts accounts, LoginThrottle throttle, Metrics metrics, Clock clock) {
        this.providers = providers;
        this.redirectUri = redirectUri;
        this.store = store;
        this.accounts = accounts;
        this.throttle = throttle;
        this.metrics = metrics;
        this.clock = clock;
    }

    /**
     * Builds the feature; nothing is fetched from the providers until the first sign-in needs it. The purge runs on
     * {@code scheduler}, the process's housekeeping scheduler.
     */
    public static OidcSignIn create(Config config, Sql sql, Accounts accounts, LoginThrottle throttle, Metrics metrics,
                                    Clock clock, ScheduledExecutorService scheduler) {
        Config.Oidc oidc = config.oidc();
        Map<String, OpenIdProvider> providers = new LinkedHashMap<>();
        for (Config.OidcProvider provider : oidc.providers()) {
            providers.put(provider.id(), new OpenIdProvider(provider, oidc.httpTimeout(), clock));
        }
        OidcStore store = new OidcStore(sql);
        OidcSignIn signIn = new OidcSignIn(Collections.unmodifiableMap(providers), oidc.redirectUri(), store,
                accounts, throttle, metrics, clock);
        signIn.purge = scheduler.scheduleWithFixedDelay(signIn::quietlyPurge, PURGE_EVERY.toSeconds(),
                PURGE_EVERY.toSeconds(), TimeUnit.SECONDS);
        if (!providers.isEmpty()) {
            LOG.info("Sign-in with {} enabled; providers send people back to {}", String.join(", ", providers.keySet()),
                    oidc.redirectUri().map(URI::toString).orElse("?"));
        }
        return signIn;
    }

    /** The configured providers, in the configured order. */
    public List<Provider> providers() {
        return providers.values().stream().map(p -> new Provider(p.id(), p.displayName())).toList();
    }

    /** The redirect URI providers send the browser back to; present whenever a provider is configured. */
    public Optional<URI> redirectUri() {
        return redirectUri;
    }

    /**
     * Starts a sign-in with the provider {@code providerId}. A browser key that the browser already holds (from an
     * earlier start, perhaps in another tab) is kept, so that sign-ins started in two tabs both finish.
     *
     * @throws ProtocolException {@code unknown_provider}, or {@code upstream_unavailable} when the provider's
     *                           discovery document cannot be fetched
     */
    public Started start(String providerId, Optional<String> browserKey, String clientAddress) {
        OpenIdProvider provider = requireProvider(providerId);
        String throttleKey = "oidc-start:" + clientAddress;
        Optional<Duration> wait = throttle.retryAfter(throttleKey, STARTS_PER_ADDRESS);
        if (wait.isPresent()) {
            long seconds = LoginThrottle.seconds(wait.get());
            count(provider.id(), "started", ErrorCode.TOO_MANY_ATTEMPTS.code());
            throw new ProtocolException(ErrorCode.TOO_MANY_ATTEMPTS,
                    "Too many sign-ins started from this address; try again in " + seconds + " seconds.",
                    Map.of("retry_after_s", seconds));
        }
        throttle.recordFailure(throttleKey, STARTS_PER_ADDRESS); // every start counts: each one stores a pending login
        String key = browserKey.filter(value -> RANDOM_VALUE.matcher(value).matches()).orElseGet(OidcSignIn::random);
        State state = new State();
        Nonce nonce = new Nonce();
        CodeVerifier verifier = new CodeVerifier();
        URI authorizationUri;
        try {
            authorizationUri = provider.authorizationUri(redirectUri.orElseThrow(), state, nonce, verifier);
        } catch (ProtocolException e) {
            count(provider.id(), "started", e.code().code());
            throw e;
        }
        Instant now = clock.instant();
        store.saveLogin(state.getValue(), new OidcStore.PendingLogin(provider.id(), OidcStore.sha256(key),
                nonce.getValue(), verifier.getValue(), now.plus(LOGIN_TTL)), now);
        count(provider.id(), "started", "ok");
        return new Started(authorizationUri, key);
    }

    /**
     * Finishes a sign-in when the provider sends the browser back; returns the one-time code for the web page.
     *
     * @throws ProtocolException {@code invalid_state}, {@code access_denied}, {@code provider_error},
     *                           {@code upstream_unavailable}, {@code invalid_id_token}, {@code email_not_verified},
     *                           {@code registration_closed} or {@code invalid_email}
     */
    public String finish(Callback callback) {
        OidcStore.PendingLogin login;
        try {
            login = claim(callback);
        } catch (ProtocolException e) {
            count("unknown", "finished", e.code().code());
            throw e;
        }
        OpenIdProvider provider = providers.get(login.provider());
        try {
            String code = finish(provider, login, callback);
            count(provider.id(), "finished", "ok");
            return code;
        } catch (ProtocolException e) {
            count(provider.id(), "finished", e.code().code());
            throw e;
        }
    }

    /**
     * Trades a one-time code for a token pair.
     *
     * @throws ProtocolException {@code invalid_code} for a code that is unknown, expired or spent; a spent code also
     *                           revokes the sign-in that it opened
     */
    public TokenPair exchange(String code) {
        OidcStore.CodeClaim claim = code.length() > 128 ? new OidcStore.CodeClaim.Invalid()
                : store.claimCode(code, clock.instant());
        return switch (claim) {
            case OidcStore.CodeClaim.Claimed claimed -> {
                User user = accounts.findUser(claimed.userId()).orElseThrow(OidcSignIn::invalidCode);
                count(claimed.provider(), "exchanged", "ok");
                yield accounts.signIn(user, claimed.familyId());
            }
            case OidcStore.CodeClaim.Replayed replayed -> {
                count(replayed.provider(), "exchanged", "replayed");
                accounts.revokeReplayedSignIn(replayed.familyId());
                throw invalidCode();
            }
            case OidcStore.CodeClaim.Invalid invalid -> {
                count("unknown", "exchanged", ErrorCode.INVALID_CODE.code());
                throw invalidCode();
            }
        };
    }

    private OidcStore.PendingLogin claim(Callback callback) {
        String state = callback.state().filter(value -> !value.isBlank()).orElseThrow(() -> invalidState(
                "The answer from the sign-in provider is missing its state; please sign in again."));
        if (state.length() > 512) {
            throw invalidState("This sign-in link is not valid; please sign in again.");
        }
        OidcStore.PendingLogin login = switch (store.claimLogin(state, clock.instant())) {
            case OidcStore.LoginClaim.Claimed claimed -> claimed.login();
            case OidcStore.LoginClaim.Unknown unknown ->
                    throw invalidState("This sign-in link is not valid; please sign in again.");
            case OidcStore.LoginClaim.Expired expired ->
                    throw invalidState("This sign-in took too long and has expired; please sign in again.");
            case OidcStore.LoginClaim.Used used ->
                    throw invalidState("This sign-in was already finished; please sign in again.");
        };
        boolean sameBrowser = callback.browserKey()
                .map(key -> MessageDigest.isEqual(OidcStore.sha256(key).getBytes(StandardCharsets.US_ASCII),
                        login.browserHash().getBytes(StandardCharsets.US_ASCII)))
                .orElse(false);
        if (!sameBrowser) {
            // Without this check, anyone could finish their own sign-in in someone else's browser (login CSRF).
            throw invalidState("This sign-in was started in another browser, or the browser refused its cookie; "
                    + "please sign in again.");
        }
        if (!providers.containsKey(login.provider())) {
            throw invalidState("This sign-in provider is no longer available; please sign in again.");
        }
        return login;
    }

    private String finish(OpenIdProvider provider, OidcStore.PendingLogin login, Callback callback) {
        Optional<String> issuer = callback.issuer().filter(value -> !value.isEmpty());
        if (issuer.isPresent() ? !issuer.get().equals(provider.issuer().toString())
                : callback.error().isEmpty() && provider.sendsIssuerInCallback()) {
            // RFC 9207: an answer from another provider than the one this sign-in went to (a mix-up attack).
            throw new ProtocolException(ErrorCode.INVALID_STATE, "The answer did not come from "
                    + provider.displayName() + "; please sign in again.", Map.of(),
                    new IllegalStateException(provider.id() + ": callback iss " + issuer.orElse("missing")));
        }
        if (callback.error().isPresent()) {
            String error = callback.error().get();
            if (error.equals("access_denied")) {
                throw new ProtocolException(ErrorCode.ACCESS_DENIED,
                        "You cancelled the sign-in at " + provider.displayName() + ".");
            }
            String shown = PROVIDER_ERROR_CODE.matcher(error).matches() ? error : "unreadable error";
            throw new ProtocolException(ErrorCode.PROVIDER_ERROR, provider.displayName()
                    + " could not complete the sign-in; please try again.", Map.of(),
                    new IllegalStateException(provider.id() + ": authorization error " + shown));
        }
        String code = callback.code().filter(value -> !value.isBlank()).orElseThrow(() ->
                new ProtocolException(ErrorCode.PROVIDER_ERROR, provider.displayName()
                        + " could not complete the sign-in; please try again.", Map.of(),
                        new IllegalStateException(provider.id() + ": callback without code or error")));
        URI redirect = redirectUri.orElseThrow();
        JWT idToken = provider.redeem(new AuthorizationCode(code), redirect, new CodeVerifier(login.codeVerifier()));
        IDTokenClaimsSet claims = provider.verify(idToken, new Nonce(login.nonce()));
        User user = account(provider, claims);
        String oneTimeCode = random();
        Instant now = clock.instant();
        store.saveCode(oneTimeCode, user.id(), UUID.randomUUID().toString(), provider.id(), now, now.plus(CODE_TTL));
        LOG.info("Account {} signed in with {}", user.id(), provider.id());
        return oneTimeCode;
    }

    /**
     * The account of the provider's user: the linked one, or on a first sign-in the one with the same email (linked
     * now) or a new one; both only for an email that the provider verified, so that nobody takes over an account by
     * claiming its address at a provider that does not check it.
     */
    private User account(OpenIdProvider provider, IDTokenClaimsSet claims) {
        String issuer = provider.issuer().toString();
        String subject = claims.getSubject().getValue();
        Optional<String> email = Optional.ofNullable(claims.getStringClaim("email")).filter(e -> !e.isBlank());
        Instant now = clock.instant();
        Optional<User> linked = linkedUser(issuer, subject, email, now);
        if (linked.isPresent()) {
            return linked.get();
        }
        if (email.isEmpty() || !emailVerified(claims)) {
            throw new ProtocolException(ErrorCode.EMAIL_NOT_VERIFIED, provider.displayName()
                    + " has not verified the email address of this account, so it cannot be used to sign in here.",
                    Map.of(), new IllegalStateException(provider.id() + ": subject " + subject + " has "
                    + (email.isEmpty() ? "no email" : "an unverified email")));
        }
        User user = accounts.findUserByEmail(email.get()).orElseGet(() -> create(email.get(), claims));
        if (store.link(issuer, subject, user.id(), provider.id(), email.get(), now)) {
            LOG.info("Account {} linked to a {} identity", user.id(), provider.id());
            return user;
        }
        // A parallel first sign-in of the same person linked it a moment ago.
        return linkedUser(issuer, subject, email, now).orElseThrow(() ->
                new IllegalStateException("identity link vanished after a unique violation"));
    }

    private Optional<User> linkedUser(String issuer, String subject, Optional<String> email, Instant now) {
        return store.findLinkedUser(issuer, subject, email.orElse(null), now).flatMap(accounts::findUser);
    }

    private User create(String email, IDTokenClaimsSet claims) {
        Optional<String> name = Optional.ofNullable(claims.getStringClaim("name"))
                .or(() -> Optional.ofNullable(claims.getStringClaim("given_name")));
        try {
            return accounts.createExternalAccount(email, name);
        } catch (ProtocolException e) {
            if (e.code() != ErrorCode.EMAIL_TAKEN) {
                throw e;
            }
            return accounts.findUserByEmail(email).orElseThrow(() -> e);
        }
    }

    /** {@code email_verified} is a boolean; some providers have sent the string {@code "true"}. */
    private static boolean emailVerified(IDTokenClaimsSet claims) {
        Object value = claims.getClaim("email_verified");
        return Boolean.TRUE.equals(value) || "true".equals(value);
    }

    private OpenIdProvider requireProvider(String providerId) {
        OpenIdProvider provider = providerId == null ? null : providers.get(providerId);
        if (provider == null) {
            throw new ProtocolException(ErrorCode.UNKNOWN_PROVIDER,
                    "This sign-in provider is not configured on this server.");
        }
        return provider;
    }

    private static ProtocolException invalidState(String message) {
        return new ProtocolException(ErrorCode.INVALID_STATE, message);
    }

    private static ProtocolException invalidCode() {
        return new ProtocolException(ErrorCode.INVALID_CODE,
                "This sign-in code is unknown, expired or was already used; please sign in again.");
    }

    private void count(String provider, String step, String outcome) {
        metrics.increment("parley_oidc_sign_ins_total", "OpenID Connect sign-in steps by outcome.",
                "provider", provider, "step", step, "outcome", outcome);
    }

    private void quietlyPurge() {
        try {
            Instant now = clock.instant();
            int purged = store.purgeExpired(now, now.minus(KEEP_EXPIRED_CODES));
            if (purged > 0) {
                LOG.info("Purged {} expired sign-in rows", purged);
            }
        } catch (RuntimeException e) {
            LOG.warn("Purging expired sign-ins failed; will retry in {}", PURGE_EVERY, e);
        }
    }

    /** 32 random bytes, base64url without padding: 43 characters. */
    private static String random() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    @Override
    public void close() {
        purge.cancel(true);
    }
}
