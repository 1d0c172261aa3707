package dev.parley.server.auth;

import static dev.parley.server.auth.AuthFlows.header;
import static dev.parley.server.auth.AuthFlows.hmacSigned;
import static dev.parley.server.auth.AuthFlows.me;
import static dev.parley.server.auth.AuthFlows.part;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import dev.parley.server.testing.TestUsers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Every way an access token can be refused, over HTTP on GET /auth/me. Forged tokens reuse the claims of a real,
 * live sign-in, so that each one fails for the reason under test and not for another; a control re-signs those claims
 * correctly and must pass, which proves the forging itself is sound.
 */
class TokenVerificationTest {
    private static final Instant START = Instant.parse("2030-01-01T00:00:00Z");
    /** Long enough for HS384 and HS512 too, so that those tokens fail on their algorithm, not on the key length. */
    private static final String SECRET = "a-64-byte-secret-so-that-every-hmac-algorithm-accepts-the-key-!!";

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;
    private static String access;
    private static ObjectNode claims;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_JWT_SECRET", SECRET), new MutableClock(START));
        JsonNode pair = TestUsers.registeredPair(app);
        access = pair.path("access_token").asText();
        claims = part(access, 1);
    }

    private static byte[] secret() {
        return SECRET.getBytes(StandardCharsets.UTF_8);
    }

    private static void assertRefused(String token, String code) {
        TestApp.Response response = me(app, token);
        assertThat(response.status()).as(response.body()).isEqualTo(401);
        assertThat(response.errorCode()).isEqualTo(code);
        assertThat(response.body()).doesNotContain(token);
        assertThat(response.header("WWW-Authenticate")).isEqualTo("Bearer realm=\"parley\", error=\"invalid_token\"");
    }

    @Test
    void issuedAccessTokenCarriesTheContractClaims() {
        assertThat(part(access, 0).path("alg").asText()).isEqualTo("HS256");
        assertThat(claims.path("sub").asText()).isNotBlank();
        assertThat(claims.path("email").asText()).endsWith("@example.org");
        assertThat(claims.path("iss").asText()).isEqualTo("parley");
        JsonNode aud = claims.path("aud");
        assertThat(aud.isArray() ? aud.path(0).asText() : aud.asText()).isEqualTo("parley");
        assertThat(claims.path("token_type").asText()).isEqualTo("access");
        assertThat(claims.path("jti").asText()).isNotBlank();
        assertThat(claims.path("sid").asText()).isNotBlank();
        assertThat(claims.path("iat").asLong()).isEqualTo(START.getEpochSecond());
        assertThat(claims.path("exp").asLong()).isEqualTo(START.plus(Duration.ofMinutes(15)).getEpochSecond());
    }

    @Test
    void correctlySignedCopyOfTheClaimsIsAccepted() {
        String control = hmacSigned(header("HS256"), claims.deepCopy(), "HmacSHA256", secret());
        assertThat(me(app, control).status()).isEqualTo(200);
    }

    @Test
    void algNoneIsRefused() {
        assertRefused(AuthFlows.unsigned(header("none"), claims.deepCopy()), "invalid_token");
        assertRefused(AuthFlows.unsigned(header("None"), claims.deepCopy()), "invalid_token");
        // A "none" header with a valid HS256 signature attached is still not an HS256 token.
        assertRefused(hmacSigned(header("none"), claims.deepCopy(), "HmacSHA256", secret()), "invalid_token");
    }

    @Test
    void otherAlgorithmsAreRefusedEvenWithAValidMacUnderTheSecret() {
        assertRefused(hmacSigned(header("HS512"), claims.deepCopy(), "HmacSHA512", secret()), "invalid_token");
        assertRefused(hmacSigned(header("HS384"), claims.deepCopy(), "HmacSHA384", secret()), "invalid_token");
        // Algorithm confusion: an RS256 header over an HMAC made with the shared secret as if it were a public key.
        assertRefused(hmacSigned(header("RS256"), claims.deepCopy(), "HmacSHA256", secret()), "invalid_token");
        assertRefused(hmacSigned(header("ES256"), claims.deepCopy(), "HmacSHA256", secret()), "invalid_token");
    }

    @Test
    void tamperedSignatureOrPayloadIsRefused() {
        String[] parts = access.split("\\.");
        char last = parts[2].charAt(0);
        String flipped = parts[0] + "." + parts[1] + "." + (last == 'A' ? 'B' : 'A') + parts[2].substring(1);
        assertRefused(flipped, "invalid_token");
        ObjectNode otherUser = claims.deepCopy().put("sub", "someone-else");
        String swappedPayload = parts[0] + "."
                + hmacSigned(header("HS256"), otherUser, "HmacSHA256", secret()).split("\\.")[1] + "." + parts[2];
        assertRefused(swappedPayload, "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy(), "HmacSHA256",
                "another-secret-that-is-at-least-32-bytes".getBytes(StandardCharsets.UTF_8)), "invalid_token");
    }

    @Test
    void wrongIssuerOrAudienceIsRefused() {
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("iss", "netra-auth-service"), "HmacSHA256",
                secret()), "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("aud", "another-service"), "HmacSHA256",
                secret()), "invalid_token");
        ObjectNode noAudience = claims.deepCopy();
        noAudience.remove("aud");
        assertRefused(hmacSigned(header("HS256"), noAudience, "HmacSHA256", secret()), "invalid_token");
    }

    @Test
    void tokenOfAnotherTypeIsRefused() {
        JsonNode pair = TestUsers.registeredPair(app);
        assertRefused(pair.path("refresh_token").asText(), "invalid_token");
        ObjectNode untyped = claims.deepCopy();
        untyped.remove("token_type");
        assertRefused(hmacSigned(header("HS256"), untyped, "HmacSHA256", secret()), "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("token_type", "service"), "HmacSHA256",
                secret()), "invalid_token");
    }

    @Test
    void tokenWithoutItsFamilyOrWithAnUnknownFamilyIsRefused() {
        ObjectNode noFamily = claims.deepCopy();
        noFamily.remove("sid");
        assertRefused(hmacSigned(header("HS256"), noFamily, "HmacSHA256", secret()), "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("sid", "no-such-family"), "HmacSHA256",
                secret()), "token_revoked");
    }

    @Test
    void tokenNotValidYetIsRefused() {
        long iat = claims.path("iat").asLong();
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("nbf", iat + 3600), "HmacSHA256", secret()),
                "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("nbf", "tomorrow"), "HmacSHA256", secret()),
                "invalid_token");
        // Within the clock skew allowed between instances, and in the past: accepted.
        assertThat(me(app, hmacSigned(header("HS256"), claims.deepCopy().put("nbf", iat + 30), "HmacSHA256", secret()))
                .status()).isEqualTo(200);
        assertThat(me(app, hmacSigned(header("HS256"), claims.deepCopy().put("nbf", iat - 30), "HmacSHA256", secret()))
                .status()).isEqualTo(200);
    }

    @Test
    void tokenThatLivesLongerThanTheConfiguredLifetimeIsRefused() {
        long iat = claims.path("iat").asLong();
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("exp", 4_102_444_800L), "HmacSHA256",
                secret()), "invalid_token");
        assertRefused(hmacSigned(header("HS256"), claims.deepCopy().put("exp", iat + 15 * 60 + 60), "HmacSHA256",
                secret()), "invalid_token");
        assertThat(me(app, hmacSigned(header("HS256"), claims.deepCopy().put("exp", iat + 15 * 60), "HmacSHA256",
                secret())).status()).isEqualTo(200);
    }

    @Test
    void garbageIsRefused() {
        for (String garbage : new String[] {"garbage", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9", "x".repeat(10_000)}) {
            TestApp.Response response = me(app, garbage);
            assertThat(response.status()).as(garbage).isEqualTo(401);
            assertThat(response.errorCode()).as(garbage).isIn("invalid_token", "unauthorized");
        }
    }

    @Test
    void expiredTokenIsRefusedAsExpired() {
        MutableClock clock = new MutableClock(START);
        try (TestApp timed = TestApp.start(Map.of(), clock)) {
            String token = TestUsers.registeredPair(timed).path("access_token").asText();
            clock.advance(Duration.ofMinutes(15).minusMillis(1));
            assertThat(me(timed, token).status()).isEqualTo(200);
            clock.advance(Duration.ofMillis(1));
            TestApp.Response response = me(timed, token);
            assertThat(response.status()).isEqualTo(401);
            assertThat(response.errorCode()).isEqualTo("token_expired");
        }
    }

    @Test
    void tokenRevokedBySignOutIsRefusedAsRevoked() {
        JsonNode pair = TestUsers.registeredPair(app);
        String token = pair.path("access_token").asText();
        assertThat(me(app, token).status()).isEqualTo(200);
        assertThat(AuthFlows.logout(app, token).status()).isEqualTo(200);
        assertRefused(token, "token_revoked");
    }
}
