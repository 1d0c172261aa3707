package dev.parley.server.usage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.MutableClock;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The usage routes of the real server over real HTTP, for users registered through the accounts routes. */
class UsageRoutesTest {
    private static final MutableClock CLOCK = new MutableClock(Instant.parse("2026-11-28T12:00:00Z"));

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of("PARLEY_MAX_REQUEST_BYTES", "65536"), CLOCK);
    }

    /** Registers a new user and returns its access token. */
    private static String newUser() {
        TestApp.Response registered = app.post("/auth/register", Json.write(Json.object()
                .put("email", "usage-" + UUID.randomUUID() + "@example.com").put("password", "correct horse battery")), null);
        assertThat(registered.status()).isEqualTo(201);
        return registered.json().path("access_token").asText();
    }

    private record Reply(int status, JsonNode json) {
    }

    private static Reply send(String method, String path, String contentType, String body, String token) {
        HttpRequest.Builder request = app.request(path, token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        TestApp.Response response = app.send(request.build());
        return new Reply(response.status(), response.json());
    }

    private static JsonNode totals(String token) {
        return send("GET", "/api/usage/summary", null, null, token).json().path("totals");
    }

    @Test
    void jsonUploadAcceptsValidRowsAndReportsRejectedOnes() {
        String user = newUser();
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
        assertThat(totals(user).path("requests").asInt()).isEqualTo(1);
        assertThat(totals(user).path("cost_usd").decimalValue()).isEqualByComparingTo("0.00021");
    }

    @Test
    void csvUploadIsReadByItsMediaTypeAndAllRejectedAnswers200() {
        String user = newUser();
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
    void badBodiesGetCodedErrors() {
        String user = newUser();
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
        HttpResponse<String> tooLargeRaw = app.send(app.request("/api/usage", user)
                .header("Content-Type", "text/csv")
                .POST(HttpRequest.BodyPublishers.ofInputStream(
                        () -> new ByteArrayInputStream(big.getBytes(StandardCharsets.UTF_8))))
                .build()).raw();
        assertThat(tooLargeRaw.statusCode()).as(tooLargeRaw.body()).isEqualTo(413);

        Reply grouping = send("GET", "/api/usage/summary?group_by=colour", null, null, user);
        assertThat(grouping.status()).isEqualTo(400);
        assertThat(grouping.json().path("error").path("code").asText()).isEqualTo("invalid_request");
    }

    @Test
    void sampleLoadsInOneStepReplacesItselfAndStaysWithItsUser() {
        String user = newUser();
        String other = newUser();
        Reply first = send("POST", "/api/usage/sample", null, null, user);
        assertThat(first.status()).isEqualTo(201);
        int count = first.json().path("accepted").asInt();
        assertThat(count).isGreaterThan(5_000);
        assertThat(first.json().path("first_day").asText()).isEqualTo("2026-10-29");
        assertThat(first.json().path("last_day").asText()).isEqualTo("2026-11-27");

        Reply again = send("POST", "/api/usage/sample", null, null, user);
        assertThat(again.json().path("replaced").asInt()).isEqualTo(count);
        assertThat(totals(user).path("requests").asInt()).isEqualTo(count);

        Reply summary = send("GET", "/api/usage/summary?group_by=provider", null, null, user);
        assertThat(summary.status()).isEqualTo(200);
        assertThat(summary.json().path("totals").path("requests").asInt()).isEqualTo(count);
        assertThat(summary.json().path("groups")).hasSize(3);
        assertThat(send("GET", "/api/usage/summary", null, null, other).json().path("totals").path("requests").asInt()).isZero();

        Reply deleted = send("DELETE", "/api/usage", null, null, user);
        assertThat(deleted.json().path("deleted").asInt()).isEqualTo(count);
    }
}
