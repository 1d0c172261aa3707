package dev.parley.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.List;
import java.util.UUID;

/**
 * Signs and checks the server's JWTs, HS256 only. Access tokens carry {@code sub, email, iat, exp, jti, iss, aud,
 * token_type:"access", sid}; refresh tokens carry {@code sub, iat, exp, jti, iss, aud, token_type:"refresh", sid},
 * where {@code jti} is the {@code refresh_tokens} row and {@code sid} the token family (the sign-in).
 *
 * <p>The algorithm is fixed on our side, never taken from the token: a header naming anything but HS256 ({@code none},
 * RS256 with the secret passed off as a public key, HS512) is refused before any signature check. Time comes from the
 * passed-in clock. This class checks a token's own content; whether its family was revoked is the verifier's job.
 * Immutable and thread-safe.
 */
final class JwtTokens {
    static final String ACCESS = "access";
    static final String REFRESH = "refresh";
    static final String TOKEN_TYPE_CLAIM = "token_type";
    static final String FAMILY_CLAIM = "sid";
    static final String EMAIL_CLAIM = "email";

    /** Our tokens are a few hundred characters; anything far larger is refused before parsing. */
    private static final int MAX_TOKEN_CHARS = 8192;
    /** How far in the future {@code iat} and {@code nbf} may be, for instances whose clocks differ slightly. */
    private static final Duration CLOCK_SKEW = Duration.ofSeconds(60);

    /** What a valid token says. {@code email} is null in refresh tokens. */
    record Claims(String subject, String email, String tokenId, String familyId, Instant issuedAt, Instant expiresAt) {
    }

    /** A freshly signed token and its expiry. */
    record Signed(String token, String tokenId, Instant expiresAt) {
        @Override
        public String toString() {
            return "Signed[tokenId=" + tokenId + ", expiresAt=" + expiresAt + "]";
        }
    }

    private final MACSigner signer;
    private final MACVerifier verifier;
    private final String issuer;
    private final String audience;
    private final Duration accessTtl;
    private final Duration refreshTtl;
    private final Clock clock;

    JwtTokens(byte[] secret, String issuer, String audience, Duration accessTtl, Duration refreshTtl, Clock clock) {
        try {
            this.signer = new MACSigner(secret);
            this.verifier = new MACVerifier(secret);
        } catch (JOSEException e) {
            throw new IllegalArgumentException("the JWT secret is not usable for HS256 (at least 32 bytes are needed)", e);
        }
        this.issuer = issuer;
        this.audience = audience;
        this.accessTtl = accessTtl;
        this.refreshTtl = refreshTtl;
        this.clock = clock;
    }

    Duration accessTtl() {
        return accessTtl;
    }

    Signed issueAccess(User user, String familyId) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        Instant expiresAt = now.plus(accessTtl);
        String tokenId = UUID.randomUUID().toString();
        JWTClaimsSet claims = common(user.id(), tokenId, familyId, now, expiresAt, ACCESS)
                .claim(EMAIL_CLAIM, user.email())
                .build();
        return new Signed(sign(claims), tokenId, expiresAt);
    }

    /** Signs the refresh token stored as row {@code tokenId}; {@code expiresAt} is the row's expiry. */
    String issueRefresh(String userId, String familyId, String tokenId, Instant issuedAt, Instant expiresAt) {
        Instant iat = issuedAt.truncatedTo(ChronoUnit.SECONDS);
        return sign(common(userId, tokenId, familyId, iat, expiresAt.truncatedTo(ChronoUnit.SECONDS), REFRESH).build());
    }

    private JWTClaimsSet.Builder common(String subject, String tokenId, String familyId, Instant issuedAt,
                                        Instant expiresAt, String type) {
        return new JWTClaimsSet.Builder()
                .issuer(issuer)
                .audience(audience)
                .subject(subject)
                .jwtID(tokenId)
                .issueTime(Date.from(issuedAt))
                .expirationTime(Date.from(expiresAt))
                .claim(TOKEN_TYPE_CLAIM, type)
                .claim(FAMILY_CLAIM, familyId);
    }

    private String sign(JWTClaimsSet claims) {
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build(), claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("HS256 signing failed", e);
        }
        return jwt.serialize();
    }

    /**
     * Checks algorithm, signature, issuer, audience, type, required claims, {@code nbf}, expiry, and that the token's
     * lifetime ({@code exp - iat}) is no longer than the configured one for its type: a token that claims to live
     * longer was not issued by this configuration, whoever holds the secret.
     *
     * @throws ProtocolException {@link ErrorCode#INVALID_TOKEN} for anything but a well-formed token of the expected
     *                           type that we signed, {@link ErrorCode#TOKEN_EXPIRED} for such a token past its expiry
     */
    Claims verify(String token, String expectedType) {
        if (token == null || token.isBlank()) {
            throw invalid("The token is empty.");
        }
        if (token.length() > MAX_TOKEN_CHARS) {
            throw invalid("The token is too long.");
        }
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token.strip());
        } catch (ParseException | IllegalArgumentException e) {
            throw invalid("The token is not a signed JWT.");
        }
        if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm())) {
            throw invalid("The token's algorithm is not accepted.");
        }
        try {
            if (!jwt.verify(verifier)) {
                throw invalid("The token's signature does not verify.");
            }
        } catch (JOSEException | IllegalStateException e) {
            throw invalid("The token's signature does not verify.");
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            throw invalid("The token's claims are not readable.");
        }
        if (!issuer.equals(text(claims, "iss"))) {
            throw invalid("The token was issued by someone else.");
        }
        List<String> audiences = claims.getAudience();
        if (audiences == null || !audiences.contains(audience)) {
            throw invalid("The token is meant for another audience.");
        }
        if (!expectedType.equals(text(claims, TOKEN_TYPE_CLAIM))) {
            throw invalid(expectedType.equals(ACCESS) ? "This is not an access token." : "This is not a refresh token.");
        }
        String subject = text(claims, "sub");
        String tokenId = text(claims, "jti");
        String familyId = text(claims, FAMILY_CLAIM);
        Instant issuedAt = date(claims, "iat");
        Instant expiresAt = date(claims, "exp");
        if (subject == null || tokenId == null || familyId == null || issuedAt == null || expiresAt == null) {
            throw invalid("The token lacks a required claim.");
        }
        Instant now = clock.instant();
        if (issuedAt.isAfter(now.plus(CLOCK_SKEW))) {
            throw invalid("The token was issued in the future.");
        }
        if (claims.getClaim("nbf") != null) {
            Instant notBefore = date(claims, "nbf");
            if (notBefore == null) {
                throw invalid("The token's nbf claim is not a date.");
            }
            if (notBefore.isAfter(now.plus(CLOCK_SKEW))) {
                throw invalid("The token is not valid yet.");
            }
        }
        Duration lifetime = ACCESS.equals(expectedType) ? accessTtl : refreshTtl;
        if (Duration.between(issuedAt, expiresAt).compareTo(lifetime.plusSeconds(1)) > 0) {
            throw invalid("The token's lifetime is longer than this server issues.");
        }
        if (!now.isBefore(expiresAt)) {
            throw new ProtocolException(ErrorCode.TOKEN_EXPIRED, "The token has expired.");
        }
        String email = ACCESS.equals(expectedType) ? text(claims, EMAIL_CLAIM) : null;
        if (ACCESS.equals(expectedType) && email == null) {
            throw invalid("The token lacks a required claim.");
        }
        return new Claims(subject, email, tokenId, familyId, issuedAt, expiresAt);
    }

    private static String text(JWTClaimsSet claims, String name) {
        Object value = claims.getClaim(name);
        return value instanceof String s && !s.isBlank() ? s : null;
    }

    private static Instant date(JWTClaimsSet claims, String name) {
        try {
            Date date = claims.getDateClaim(name);
            return date == null ? null : date.toInstant();
        } catch (ParseException e) {
            return null;
        }
    }

    private static ProtocolException invalid(String message) {
        return new ProtocolException(ErrorCode.INVALID_TOKEN, message);
    }
}
