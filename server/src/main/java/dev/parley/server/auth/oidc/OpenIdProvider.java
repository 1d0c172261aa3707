package dev.parley.server.auth.oidc;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWT;
import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.GeneralException;
import com.nimbusds.oauth2.sdk.ParseException;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenErrorResponse;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.auth.ClientAuthenticationMethod;
import com.nimbusds.oauth2.sdk.auth.ClientSecretBasic;
import com.nimbusds.oauth2.sdk.auth.ClientSecretPost;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.Issuer;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.nimbusds.openid.connect.sdk.AuthenticationRequest;
import com.nimbusds.openid.connect.sdk.Nonce;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponse;
import com.nimbusds.openid.connect.sdk.OIDCTokenResponseParser;
import com.nimbusds.openid.connect.sdk.claims.IDTokenClaimsSet;
import com.nimbusds.openid.connect.sdk.op.OIDCProviderMetadata;
import com.nimbusds.openid.connect.sdk.validators.IDTokenValidator;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.config.Config;
import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One OpenID provider as this server talks to it: its discovery document (fetched from
 * {@code <issuer>/.well-known/openid-configuration} when first needed, kept for {@link #METADATA_TTL}), the
 * authorization request with PKCE, the token request, and the verification of ID tokens against the provider's keys
 * (fetched from its {@code jwks_uri}, kept for the provider's {@code max-age}, and fetched again when a token names a key
 * the kept set does not hold: {@link ProviderKeys}).
 *
 * <p>Failures come out as {@link ProtocolException}s whose message is a sentence for the person signing in and whose
 * cause says what went wrong, for the log: {@code upstream_unavailable} when the provider cannot be reached or
 * answers with a server error, {@code provider_error} when it refuses, {@code invalid_id_token} when its ID token
 * does not verify.
 *
 * <p>The cached metadata is replaced as a whole (an atomic reference); everything else is immutable, so the class is
 * thread-safe. The expiry of the metadata and of the kept keys follows the passed-in clock; the expiry of ID tokens
 * follows the system clock, which is what the token library reads.
 */
final class OpenIdProvider {
    /** How long a fetched discovery document is used before it is fetched again. */
    static final Duration METADATA_TTL = Duration.ofHours(1);
    /** How far an ID token's {@code exp} and {@code iat} may be off, for a provider whose clock differs slightly. */
    static final int MAX_CLOCK_SKEW_SECONDS = 60;
    private static final Scope SCOPE = new Scope("openid", "email", "profile");
    /** Only public-key signatures: an HMAC-signed ID token would be keyed with our client secret. */
    private static final Set<JWSAlgorithm> ASYMMETRIC = asymmetric();

    /** A fetched discovery document with the validator built from it. */
    private record Discovered(OIDCProviderMetadata metadata, IDTokenValidator validator, Instant fetchedAt) {
    }

    private final Config.OidcProvider config;
    private final Issuer issuer;
    private final ClientID clientId;
    private final Secret clientSecret;
    private final int timeoutMillis;
    private final Clock clock;
    private final AtomicReference<Discovered> discovered = new AtomicReference<>();

    OpenIdProvider(Config.OidcProvider config, Duration timeout, Clock clock) {
        this.config = config;
        this.issuer = new Issuer(config.issuer());
        this.clientId = new ClientID(config.clientId());
        this.clientSecret = new Secret(config.clientSecret());
        this.timeoutMillis = Math.toIntExact(timeout.toMillis());
        this.clock = clock;
    }

    String id() {
        return config.id();
    }

    String displayName() {
        return config.displayName();
    }

    URI issuer() {
        return config.issuer();
    }

    /** Where to send the browser: the provider's authorization endpoint with this sign-in's parameters. */
    URI authorizationUri(URI redirectUri, State state, Nonce nonce, CodeVerifier verifier) {
        OIDCProviderMetadata metadata = discover().metadata();
        return new AuthenticationRequest.Builder(ResponseType.CODE, SCOPE, clientId, redirectUri)
                .endpointURI(metadata.getAuthorizationEndpointURI())
                .state(state)
                .nonce(nonce)
                .codeChallenge(verifier, CodeChallengeMethod.S256)
                .build()
                .toURI();
    }

    /** Trades an authorization code for the provider's ID token at its token endpoint. */
    JWT redeem(AuthorizationCode code, URI redirectUri, CodeVerifier verifier) {
        OIDCProviderMetadata metadata = discover().metadata();
        TokenRequest request = new TokenRequest.Builder(metadata.getTokenEndpointURI(), clientAuthentication(metadata),
                new AuthorizationCodeGrant(code, redirectUri, verifier)).build();
        HTTPRequest http = request.toHTTPRequest();
        http.setConnectTimeout(timeoutMillis);
        http.setReadTimeout(timeoutMillis);
        http.setFollowRedirects(false);
        HTTPResponse response;
        try {
            response = http.send();
        } catch (IOException e) {
            throw unavailable("token endpoint unreachable", e);
        }
        if (response.getStatusCode() >= 500) {
            throw unavailable("token endpoint answered " + response.getStatusCode(), null);
        }
        TokenResponse parsed;
        try {
            parsed = OIDCTokenResponseParser.parse(response);
        } catch (ParseException e) {
            throw refused("token endpoint answered " + response.getStatusCode() + " with an unreadable body", e);
        }
        if (!parsed.indicatesSuccess()) {
            TokenErrorResponse error = parsed.toErrorResponse();
            String reason = error.getErrorObject() == null ? "unknown" : error.getErrorObject().getCode();
            throw refused("token endpoint refused the code: " + reason, null);
        }
        if (!(parsed instanceof OIDCTokenResponse oidc) || oidc.getOIDCTokens().getIDToken() == null) {
            throw new ProtocolException(ErrorCode.INVALID_ID_TOKEN, displayName()
                    + " did not send an ID token, so you were not signed in; please try again.", Map.of(),
                    new IllegalStateException("token response without id_token"));
        }
        return oidc.getOIDCTokens().getIDToken();
    }

    /**
     * Verifies an ID token: signed with one of the provider's keys by a public-key algorithm it advertises, issued by
     * it, for our client id (with several audiences, an {@code azp} naming us; an {@code azp} naming another client is
     * refused), not expired, and carrying the nonce of this sign-in.
     */
    IDTokenClaimsSet verify(JWT idToken, Nonce nonce) {
        IDTokenValidator validator = discover().validator();
        IDTokenClaimsSet claims;
        try {
            claims = validator.validate(idToken, nonce);
        } catch (KeySourceException e) {
            throw unavailable("signing keys unavailable", e);
        } catch (BadJOSEException | JOSEException e) {
            throw invalidIdToken(e);
        }
        // OpenID Connect Core 3.1.3.7: the authorised party, when named, must be us, and must be named when there are
        // several audiences, so that a token issued to another client of the same provider is not taken for ours.
        // The validator only checks that azp is a string.
        if (claims.getAuthorizedParty() != null ? !claims.getAuthorizedParty().getValue().equals(clientId.getValue())
                : claims.getAudience().size() > 1) {
            throw invalidIdToken(new IllegalStateException("audiences " + claims.getAudience() + " with azp "
                    + claims.getAuthorizedParty()));
        }
        return claims;
    }

    private ProtocolException invalidIdToken(Throwable cause) {
        return new ProtocolException(ErrorCode.INVALID_ID_TOKEN, displayName()
                + "'s answer could not be verified, so you were not signed in; please try again.", Map.of(), cause);
    }

    /** Whether the discovery document says that callbacks carry the {@code iss} parameter (RFC 9207). */
    boolean sendsIssuerInCallback() {
        return discover().metadata().supportsAuthorizationResponseIssuerParam();
    }

    private Discovered discover() {
        Discovered current = discovered.get();
        Instant now = clock.instant();
        if (current != null && now.isBefore(current.fetchedAt().plus(METADATA_TTL))) {
            return current;
        }
        try {
            OIDCProviderMetadata metadata = OIDCProviderMetadata.resolve(issuer, timeoutMillis, timeoutMillis);
            requireEndpoints(metadata);
            IDTokenValidator validator = current != null
                    && Objects.equals(current.metadata().getJWKSetURI(), metadata.getJWKSetURI())
                    && Objects.equals(current.metadata().getIDTokenJWSAlgs(), metadata.getIDTokenJWSAlgs())
                    ? current.validator() : validator(metadata);
            Discovered fresh = new Discovered(metadata, validator, now);
            discovered.set(fresh);
            return fresh;
        } catch (IOException | GeneralException | RuntimeException e) {
            if (current != null) {
                // A provider that is briefly unreachable keeps working with what it said last.
                return current;
            }
            throw unavailable("discovery document unavailable", e);
        }
    }

    private void requireEndpoints(OIDCProviderMetadata metadata) throws GeneralException {
        if (metadata.getAuthorizationEndpointURI() == null || metadata.getTokenEndpointURI() == null
                || metadata.getJWKSetURI() == null) {
            throw new GeneralException("the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri");
        }
    }

    private IDTokenValidator validator(OIDCProviderMetadata metadata) {
        Set<JWSAlgorithm> algorithms = new LinkedHashSet<>();
        List<JWSAlgorithm> advertised = metadata.getIDTokenJWSAlgs();
        if (advertised != null) {
            advertised.stream().filter(ASYMMETRIC::contains).forEach(algorithms::add);
        }
        if (algorithms.isEmpty()) {
            algorithms.add(JWSAlgorithm.RS256);
        }
        JWKSource<SecurityContext> keys = new ProviderKeys(metadata.getJWKSetURI(), timeoutMillis, clock);
        IDTokenValidator validator = new IDTokenValidator(issuer, clientId,
                new JWSVerificationKeySelector<>(algorithms, keys), null);
        validator.setMaxClockSkew(MAX_CLOCK_SKEW_SECONDS);
        return validator;
    }

    private static Set<JWSAlgorithm> asymmetric() {
        Set<JWSAlgorithm> algorithms = new LinkedHashSet<>(JWSAlgorithm.Family.RSA);
        algorithms.addAll(JWSAlgorithm.Family.EC);
        algorithms.addAll(JWSAlgorithm.Family.ED);
        return Set.copyOf(algorithms);
    }

    /** {@code client_secret_basic} unless the provider advertises only {@code client_secret_post}. */
    private ClientAuthentication clientAuthentication(OIDCProviderMetadata metadata) {
        List<ClientAuthenticationMethod> methods = metadata.getTokenEndpointAuthMethods();
        if (methods == null || methods.isEmpty() || methods.contains(ClientAuthenticationMethod.CLIENT_SECRET_BASIC)) {
            return new ClientSecretBasic(clientId, clientSecret);
        }
        if (methods.contains(ClientAuthenticationMethod.CLIENT_SECRET_POST)) {
            return new ClientSecretPost(clientId, clientSecret);
        }
        throw refused("the token endpoint supports neither client_secret_basic nor client_secret_post but "
                + methods, null);
    }

    private ProtocolException unavailable(String what, Throwable cause) {
        return new ProtocolException(ErrorCode.UPSTREAM_UNAVAILABLE, displayName()
                + " cannot be reached right now; please try again in a moment.", Map.of(),
                new IOException(id() + ": " + what, cause));
    }

    private ProtocolException refused(String what, Throwable cause) {
        return new ProtocolException(ErrorCode.PROVIDER_ERROR, displayName()
                + " could not complete the sign-in; please try again.", Map.of(),
                new IllegalStateException(id() + ": " + what, cause));
    }
}
