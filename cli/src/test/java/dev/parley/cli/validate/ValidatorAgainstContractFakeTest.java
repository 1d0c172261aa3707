package dev.parley.cli.validate;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.cli.validate.ContractFake.Defect;
import dev.parley.protocol.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The validator run end to end (command line, checks, reports, exit code) against {@link ContractFake}: a contract
 * fake, NOT the product. A correct fake passes every check; each deliberate defect must fail exactly the checks
 * listed for it and no other, which shows both that the check catches the defect and that the others do not
 * blame the server for it. The validator against the real server is the integration test's job.
 */
class ValidatorAgainstContractFakeTest {
    /** The fake agent's pause between steps, so that a stop and a dropped socket land while its run is going. */
    private static final Duration STEP_DELAY = Duration.ofMillis(100);

    @TempDir
    Path dir;

    /** What one validation run printed, wrote and returned. */
    private record Result(int exitCode, String out, String err, JsonNode json, String markdown) {
        Map<String, String> statuses() {
            Map<String, String> statuses = new LinkedHashMap<>();
            json.path("checks").forEach(c -> statuses.put(c.path("id").asText(), c.path("result").asText()));
            return statuses;
        }

        Set<String> withStatus(String status) {
            Set<String> ids = new TreeSet<>();
            statuses().forEach((id, s) -> {
                if (s.equals(status)) {
                    ids.add(id);
                }
            });
            return ids;
        }

        JsonNode check(String id) {
            for (JsonNode check : json.path("checks")) {
                if (check.path("id").asText().equals(id)) {
                    return check;
                }
            }
            throw new AssertionError("no check " + id + " in " + json);
        }
    }

    private Result validate(String... args) throws IOException {
        return validate(Map.of(), args);
    }

    private Result validate(Map<String, String> env, String... args) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Path json = dir.resolve("report.json");
        Path markdown = dir.resolve("report.md");
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--json", json.toString(), "--report", markdown.toString()));
        int code = ValidateCommand.run(all.toArray(String[]::new), env, InputStream.nullInputStream(),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                Files.exists(json) ? Json.parse(Files.readString(json)) : Json.object(),
                Files.exists(markdown) ? Files.readString(markdown) : "");
    }

    private Result validate(ContractFake fake, String... extra) throws IOException {
        List<String> args = new ArrayList<>(List.of("--url", fake.base().toString(), "--timeout", "10", "--users", "3"));
        args.addAll(List.of(extra));
        return validate(args.toArray(String[]::new));
    }

    private static Set<String> allExcept(Set<String> excluded) {
        Set<String> ids = new TreeSet<>(Validator.CHECK_IDS);
        ids.removeAll(excluded);
        return ids;
    }

    /** The checks in {@code failed} fail and every other check passes. */
    private static void assertOnlyFailed(Result result, Set<String> failed) {
        assertThat(result.withStatus("fail")).as(result.err()).isEqualTo(failed);
        assertThat(result.withStatus("pass")).isEqualTo(allExcept(failed));
    }

    @Test
    void correctContractFakePassesEveryCheckAndExitsZero() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.NONE, STEP_DELAY)) {
            Result result = validate("--url", fake.base().toString(), "--timeout", "10");

            assertThat(result.withStatus("fail")).as(result.err()).isEmpty();
            assertThat(result.withStatus("pass")).as(result.err()).isEqualTo(new TreeSet<>(Validator.CHECK_IDS));
            assertThat(result.exitCode()).isZero();

            JsonNode json = result.json();
            assertThat(json.path("server").path("version").asText()).isEqualTo("0.0.0-fake");
            assertThat(json.path("server").path("revision").asText()).isEqualTo("fake");
            assertThat(json.path("summary").path("exit_code").asInt()).isZero();
            assertThat(json.path("options").path("users").asInt()).isEqualTo(Options.DEFAULT_USERS);
            assertThat(result.check("socket.bearer").path("measured").has("connect_ms")).isTrue();
            assertThat(result.check("socket.subprotocol").path("measured").path("selected_subprotocol").asText())
                    .isEqualTo("jwt-auth");
            assertThat(result.check("socket.ping").path("measured").has("rtt_ms_p50")).isTrue();
            JsonNode golden = result.check("golden_path").path("measured");
            assertThat(golden.path("tool_calls").asInt()).isEqualTo(1);
            assertThat(golden.path("partial_results").asInt()).isEqualTo(2);
            assertThat(golden.has("first_event_ms")).isTrue();
            assertThat(golden.has("completion_ms")).isTrue();
            assertThat(result.check("stop").path("measured").path("terminal").asText()).isEqualTo("agent_completed cancelled");
            assertThat(result.check("resume").path("measured").path("run_finished_before_drop").asBoolean()).isFalse();
            JsonNode concurrent = result.check("concurrent_users").path("measured");
            assertThat(concurrent.path("users_passed").asInt()).isEqualTo(Options.DEFAULT_USERS);
            for (String figure : List.of("connect_ms", "first_event_ms", "completion_ms")) {
                assertThat(concurrent.has(figure + "_p50") && concurrent.has(figure + "_p95") && concurrent.has(figure + "_max"))
                        .as(figure).isTrue();
            }

            // One progress line per check on standard error, and a report in both forms.
            for (String id : Validator.CHECK_IDS) {
                assertThat(result.err()).containsPattern("\\] " + id.replace(".", "\\.") + " +pass");
            }
            assertThat(result.markdown()).contains("# Parley validation report", "| `golden_path` | pass |",
                    "version 0.0.0-fake, revision fake").doesNotContain("## Failures");
            // Reports are meant to be shared: no token, ticket or password of the run appears in them.
            assertThat(result.markdown() + Json.write(result.json()) + result.out() + result.err())
                    .doesNotContain("fake-access-", "fake-refresh-", "fake-ticket-");
        }
    }

    @Test
    void eventsDeliveredOutOfOrderFailTheChecksThatFollowALiveRun() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.EVENTS_OUT_OF_ORDER, STEP_DELAY)) {
            Result result = validate(fake);

            Set<String> expected = Set.of("golden_path", "concurrent_users");
            assertOnlyFailed(result, expected);
            assertThat(result.exitCode()).isEqualTo(ValidateCommand.EXIT_FAILED);
            assertThat(Json.write(result.check("golden_path").path("failures")))
                    .contains("seq in arrival order was [1, 3, 2", "out of order");
            assertThat(result.markdown()).contains("## Failures", "### `golden_path`", "Expected:", "Got:");
        }
    }

    @Test
    void aGapInSeqFailsEveryCheckThatReadsAWholeRun() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.SEQ_GAP, STEP_DELAY)) {
            Result result = validate(fake);

            Set<String> expected = Set.of("golden_path", "run_events", "resume", "concurrent_users");
            assertOnlyFailed(result, expected);
            assertThat(Json.write(result.check("golden_path").path("failures"))).contains("missing [3]");
            assertThat(Json.write(result.check("resume").path("failures"))).contains("missing [3]");
        }
    }

    @Test
    void eventsWithoutSeqFailEveryCheckThatReadsARun() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.MISSING_SEQ, STEP_DELAY)) {
            Result result = validate(fake);

            // stop too: its cancelled run's agent_completed has no seq either.
            Set<String> expected = Set.of("golden_path", "run_events", "stop", "resume", "concurrent_users");
            assertOnlyFailed(result, expected);
            assertThat(Json.write(result.check("golden_path").path("failures"))).contains("have no seq");
        }
    }

    @Test
    void anotherUsersEventsOnASocketFailIsolationAndConcurrentUsers() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.LEAKS_EVENTS_TO_OTHER_USERS, STEP_DELAY)) {
            Result result = validate(fake);

            Set<String> expected = Set.of("isolation", "concurrent_users");
            assertOnlyFailed(result, expected);
            assertThat(Json.write(result.check("isolation").path("failures")))
                    .contains("none of A's events on B's socket", "agent_started#1");
            assertThat(Json.write(result.check("concurrent_users").path("failures")))
                    .contains("no other user's events on this user's socket");
        }
    }

    @Test
    void aSocketThatAcceptsWithoutCredentialsFailsTheRefusalAndTicketChecks() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.NO_SOCKET_AUTH, STEP_DELAY)) {
            Result result = validate(fake);

            // With no credential check at all, a spent ticket opens a socket again: socket.ticket catches that.
            Set<String> expected = Set.of("socket.refuses_without_credentials", "socket.ticket");
            assertOnlyFailed(result, expected);
            assertThat(Json.write(result.check("socket.refuses_without_credentials").path("failures")))
                    .contains("101: the upgrade was accepted without credentials");
        }
    }

    @Test
    void aDeadSocketEndpointFailsTheSocketChecksAndBlocksEveryCheckThatNeedsASocket() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.DEAD_SOCKET_ENDPOINT, STEP_DELAY)) {
            Result result = validate(fake);

            assertThat(result.withStatus("fail")).as(result.err()).isEqualTo(Set.of("socket.bearer",
                    "socket.subprotocol", "socket.ticket", "socket.refuses_without_credentials"));
            assertThat(result.withStatus("pass")).isEqualTo(Set.of("health", "readiness", "auth.register",
                    "auth.login", "auth.me"));
            assertThat(result.withStatus("skip")).isEqualTo(Set.of("socket.welcome", "socket.ping", "malformed_frame",
                    "golden_path", "run_events", "isolation", "stop", "resume", "concurrent_users"));
            assertThat(result.check("golden_path").path("skip_cause").asText()).isEqualTo("blocked");
            assertThat(result.exitCode()).isEqualTo(ValidateCommand.EXIT_FAILED);
            assertThat(Json.write(result.check("socket.bearer").path("failures"))).contains("HTTP 404");
        }
    }

    @Test
    void aStopThatIsOnlyAcknowledgedFailsTheStopCheck() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.IGNORES_STOP, STEP_DELAY)) {
            Result result = validate(fake);

            assertOnlyFailed(result, Set.of("stop"));
            assertThat(result.check("stop").path("failures").get(0).path("actual").asText())
                    .contains("the run went on after stop_agent", "\"status\":\"completed\"");
            assertThat(result.check("stop").path("measured").path("run_status_over_http").asText()).isEqualTo("completed");
        }
    }

    @Test
    void aTargetThatCannotBeReachedExitsThree() throws IOException {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Result result = validate("--url", "http://127.0.0.1:" + port, "--timeout", "5");

        assertThat(result.exitCode()).isEqualTo(ValidateCommand.EXIT_UNREACHABLE);
        assertThat(result.withStatus("fail")).isEqualTo(Set.of("health"));
        assertThat(result.withStatus("skip")).isEqualTo(allExcept(Set.of("health")));
        assertThat(result.json().path("summary").path("target_unreachable").asBoolean()).isTrue();
        assertThat(Json.write(result.check("health").path("failures"))).contains("could not reach the target");
        assertThat(result.out()).contains("could not be reached");
    }

    @Test
    void anExistingAccountOrATokenIsUsedWithoutRegisteringIt() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.NONE, STEP_DELAY)) {
            Account existing = Target.newIdentity("existing");
            Result registered = validate("--url", fake.base().toString(), "--users", "0", "--timeout", "10");
            assertThat(registered.exitCode()).as(registered.out()).isZero();
            assertThat(registered.check("concurrent_users").path("result").asText()).isEqualTo("skip");
            assertThat(registered.check("concurrent_users").path("skip_cause").asText()).isEqualTo("requested");

            String token = new dev.parley.client.ParleyHttp(fake.base(), Duration.ofSeconds(5))
                    .register(existing.email(), existing.password(), "Existing").json().path("access_token").asText();
            Result result = validate(Map.of("PARLEY_VALIDATE_PASSWORD", existing.password()), "--url",
                    fake.base().toString(), "--email", existing.email(), "--users", "1", "--timeout", "10");

            assertThat(result.exitCode()).as(result.err()).isZero();
            assertThat(result.check("auth.register").path("result").asText()).isEqualTo("skip");
            assertThat(result.check("auth.login").path("result").asText()).isEqualTo("pass");
            assertThat(result.json().path("options").path("credentials").asText()).isEqualTo("login");
            assertThat(result.markdown() + result.out() + result.err() + Json.write(result.json()))
                    .doesNotContain(existing.password());

            Result byToken = validate(Map.of("PARLEY_VALIDATE_TOKEN", token), "--url", fake.base().toString(),
                    "--users", "1", "--timeout", "10");

            assertThat(byToken.exitCode()).as(byToken.out()).isZero();
            assertThat(byToken.withStatus("skip")).isEqualTo(Set.of("auth.register", "auth.login"));
            assertThat(byToken.markdown() + byToken.out() + byToken.err() + Json.write(byToken.json()))
                    .doesNotContain(token);
        }
    }

    @Test
    void aBadTokenFailsAuthMeAndBlocksTheChecksThatNeedAUser() throws IOException {
        try (ContractFake fake = ContractFake.start(Defect.NONE, STEP_DELAY)) {
            Result result = validate(fake, "--token", "not-a-token");

            assertThat(result.withStatus("fail")).as(result.err()).isEqualTo(Set.of("auth.me"));
            assertThat(result.withStatus("pass")).isEqualTo(Set.of("health", "readiness",
                    "socket.refuses_without_credentials"));
            assertThat(result.check("auth.register").path("skip_cause").asText()).isEqualTo("requested");
            assertThat(result.check("socket.bearer").path("skip_cause").asText()).isEqualTo("blocked");
            assertThat(result.exitCode()).isEqualTo(ValidateCommand.EXIT_FAILED);
        }
    }
}
