package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.Json;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.gateway.Gateway;
import dev.parley.server.gateway.UsageRoutes;
import dev.parley.server.health.Health;
import dev.parley.server.health.Lifecycle;
import dev.parley.server.observe.Metrics;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.TestApp;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The usage routes on a real listener with real HTTP. Tokens are HS256 JWTs checked by a verifier written here with
 * the JWT library, since the accounts feature is not part of this test.
 */
class UsageRoutesTest {
    private static final MutableClock CLOCK = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));
    private static Database database;
    private static Gateway gateway;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Checks the signature and expiry of an HS256 token; enough to name the caller in these tests. */
    private static final TokenVerifier VERIFIER = token -> {
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            if (!jwt.verify(new MACVerifier(TestApp.SECRET.getBytes(StandardCharsets.UTF_8)))) {
                throw new ProtocolException(ErrorCode.INVALID_TOKEN, "bad signature");
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            return new Principal(claims.getSubject(), "user@example.com", claims.getJWTID(), "family",
                    claims.getExpirationTime().toInstant());
        } catch (ParseException | JOSEException e) {
            throw new ProtocolException(ErrorCode.INVALID_TOKEN, "not a token");
        }
    };

    @BeforeAll
    static void start() {
        Config config = Config.from(Map.of("PORT", "0", "PARLEY_HOST", "127.0.0.1", "PARLEY_JWT_SECRET", TestApp.SECRET,
                "PARLEY_MAX_REQUEST_BYTES", "65536"));
        database = UsageTestData.embedded();
        PriceCatalog catalog = PriceCatalog.bundled();
        UsageRoutes routes = new UsageRoutes(new UsageStore(database.sql(), CLOCK), new UsageIngest(catalog, CLOCK),
                new SampleUsage(catalog), VERIFIER, CLOCK, config.server().maxRequestBytes());
        Lifecycle lifecycle = new Lifecycle();
        Health health = new Health("test", "test", lifecycle, List.of(), CLOCK);
        gateway = Gateway.start(new Gateway.Services(config, new Metrics(), health, lifecycle, List.of(routes)));
        lifecycle.ready();
    }

    @AfterAll
    static void stop() {
        gateway.close();
        database.close();
    }

    private static String token(String userId) throws JOSEException {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder()
                .subject(userId).jwtID(UUID.randomUUID().toString())
                .expirationTime(Date.from(Instant.now().plusSeconds(600))).build());
        jwt.sign(new MACSigner(TestApp.SECRET.getBytes(StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    private record Reply(int status, JsonNode json) {
    }

    private static Reply send(String method, String path, String contentType, String body, String userId) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.port() + path))
                .timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (userId != null) {
            request.header("Authorization", "Bearer " + token(userId));
        }
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(response.statusCode(), Json.parse(response.body()));
    }

    @Test
    void jsonUploadAcceptsValidRowsAndReportsRejectedOnes() throws Exception {
        String user = UsageTestData.newUser(database);
        String body = """
                [{"occurred_at":"2026-11-02T14:05:00Z","provider":"openai","model":"gpt-4o-mini","feature":"chat",
                  "input_tokens":1000,"output_tokens":100,"latency_ms":850},
                 {"occurred_at":"2026-11-02T14:06:00Z","provider":"openai","model":"gpt-4o-mini","input_tokens":"many",
                  "output_tokens":100}]
                """;
        Reply reply = send("POST", "/api/usage", "application/json", body, user);

        assertThat(reply.status()).isEqualTo(201);
        assertThat(reply.json().path("accepted").asInt()).isEqualTo(1);
        assertThat(reply.json().path("rejected")).hasSize(1);
        assertThat(reply.json().path("rejected").get(0).path("row").asInt()).isEqualTo(2);
        assertThat(reply.json().path("rejected").get(0).path("error").asText()).contains("input_tokens");
        assertThat(reply.json().path("rejected_total").asInt()).isEqualTo(1);
        assertThat(UsageTestData.rows(database, user)).singleElement()
                .satisfies(row -> assertThat(row.costUsd()).isEqualByComparingTo("0.00021"));
    }

    @Test
    void csvUploadIsReadByItsMediaTypeAndAllRejectedAnswers200() throws Exception {
        String user = UsageTestData.newUser(database);
        Reply ok = send("POST", "/api/usage", "text/csv",
                "occurred_at,provider,model,input_tokens,output_tokens\n2026-11-02T10:00:00Z,anthropic,claude-haiku-4-5,500,50\n",
                user);
        assertThat(ok.status()).isEqualTo(201);
        assertThat(ok.json().path("accepted").asInt()).isEqualTo(1);

        Reply none = send("POST", "/api/usage", "text/csv",
                "occurred_at,provider,model,input_tokens,output_tokens\nnot-a-time,anthropic,claude-haiku-4-5,500,50\n", user);
        assertThat(none.status()).isEqualTo(200);
        assertThat(none.json().path("accepted").asInt()).isZero();
        assertThat(none.json().path("rejected").get(0).path("row").asInt()).isEqualTo(1);
    }

    @Test
    void badBodiesGetCodedErrors() throws Exception {
        String user = UsageTestData.newUser(database);
        Reply noToken = send("POST", "/api/usage", "application/json", "[]", null);
        assertThat(noToken.status()).isEqualTo(401);
        assertThat(noToken.json().path("error").path("code").asText()).isEqualTo("unauthorized");

        Reply malformed = send("POST", "/api/usage", "application/json", "[{", user);
        assertThat(malformed.status()).isEqualTo(400);
        assertThat(malformed.json().path("error").path("code").asText()).isEqualTo("invalid_json");

        Reply header = send("POST", "/api/usage", "text/csv", "when,who\n1,2\n", user);
        assertThat(header.status()).isEqualTo(400);
        assertThat(header.json().path("error").path("message").asText()).contains("occurred_at");

        String big = "occurred_at,provider,model,input_tokens,output_tokens\n"
                + "2026-11-02T10:00:00Z,openai,gpt-4o-mini,100,10\n".repeat(2000);
        HttpResponse<String> tooLargeRaw = HTTP.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + gateway.port() + "/api/usage"))
                .header("Content-Type", "text/csv").header("Authorization", "Bearer " + token(user))
                .POST(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new java.io.ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8))))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(tooLargeRaw.statusCode()).as(tooLargeRaw.body()).isEqualTo(413);

        Reply grouping = send("GET", "/api/usage/summary?group_by=colour", null, null, user);
        assertThat(grouping.status()).isEqualTo(400);
        assertThat(grouping.json().path("error").path("code").asText()).isEqualTo("invalid_request");
    }

    @Test
    void sampleLoadsInOneStepReplacesItselfAndStaysWithItsUser() throws Exception {
        String user = UsageTestData.newUser(database);
        String other = UsageTestData.newUser(database);
        Reply first = send("POST", "/api/usage/sample", null, null, user);
        assertThat(first.status()).isEqualTo(201);
        int count = first.json().path("accepted").asInt();
        assertThat(count).isGreaterThan(5_000);
        assertThat(first.json().path("first_day").asText()).isEqualTo("2026-10-29");
        assertThat(first.json().path("last_day").asText()).isEqualTo("2026-11-27");

        Reply again = send("POST", "/api/usage/sample", null, null, user);
        assertThat(again.json().path("replaced").asInt()).isEqualTo(count);
        assertThat(UsageTestData.rows(database, user)).hasSize(count);

        Reply summary = send("GET", "/api/usage/summary?group_by=provider", null, null, user);
        assertThat(summary.status()).isEqualTo(200);
        assertThat(summary.json().path("totals").path("requests").asInt()).isEqualTo(count);
        assertThat(summary.json().path("groups")).hasSize(3);
        assertThat(send("GET", "/api/usage/summary", null, null, other).json().path("totals").path("requests").asInt()).isZero();

        Reply deleted = send("DELETE", "/api/usage", null, null, user);
        assertThat(deleted.json().path("deleted").asInt()).isEqualTo(count);
    }
}
