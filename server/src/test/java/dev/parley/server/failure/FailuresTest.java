package dev.parley.server.failure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.agent.AgentException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Every failure becomes what the error table says, and an unexpected one is logged under the id its answer carries. */
class FailuresTest {
    /** The codes an {@code agent_error} says are retryable whatever the cause (the contract and docs/protocol.md). */
    private static final Set<ErrorCode> RETRYABLE = Set.of(ErrorCode.INTERNAL, ErrorCode.TIMEOUT,
            ErrorCode.UPSTREAM_UNAVAILABLE, ErrorCode.SERVICE_RESTART, ErrorCode.RATE_LIMITED,
            ErrorCode.TOO_MANY_ATTEMPTS, ErrorCode.TOO_MANY_CONNECTIONS, ErrorCode.NOT_READY,
            ErrorCode.HEARTBEAT_TIMEOUT, ErrorCode.SLOW_CONSUMER, ErrorCode.OVERLOADED);
    /** The codes whose cause decides: a provider or tool that is down passes, one that refuses does not. */
    private static final Set<ErrorCode> BY_CAUSE = Set.of(ErrorCode.LLM_UNAVAILABLE, ErrorCode.TOOL_FAILED);
    /** The close codes of the contract's close table; every other code never closes a socket. */
    private static final Map<ErrorCode, Integer> CLOSE_CODES = Map.ofEntries(
            Map.entry(ErrorCode.HEARTBEAT_TIMEOUT, 1001), Map.entry(ErrorCode.BINARY_NOT_SUPPORTED, 1003),
            Map.entry(ErrorCode.INVALID_UTF8, 1007), Map.entry(ErrorCode.UNAUTHORIZED, 1008),
            Map.entry(ErrorCode.TOKEN_EXPIRED, 1008), Map.entry(ErrorCode.TOKEN_REVOKED, 1008),
            Map.entry(ErrorCode.AUTH_FAILED, 1008), Map.entry(ErrorCode.INTERNAL, 1011),
            Map.entry(ErrorCode.SERVICE_RESTART, 1012), Map.entry(ErrorCode.SLOW_CONSUMER, 1013),
            Map.entry(ErrorCode.TOO_MANY_CONNECTIONS, 1013), Map.entry(ErrorCode.OVERLOADED, 1013));

    private final Logger log = (Logger) LoggerFactory.getLogger("dev.parley.server.failure.FailuresTest.edge");
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

    @BeforeEach
    void capture() {
        logged.start();
        log.addAppender(logged);
        log.setLevel(Level.DEBUG);
    }

    @AfterEach
    void release() {
        log.detachAppender(logged);
    }

    @Test
    void everyCodedFailureAnswersItsRowOfTheTable() {
        for (ErrorCode code : ErrorCode.values()) {
            ProtocolException refusal = new ProtocolException(code, "Refused: " + code.code(),
                    Map.of("retry_after_ms", 1000L));

            Failure answer = Failures.translate(refusal, "request-7", log, "request GET /x");

            assertThat(answer.code()).isEqualTo(code);
            assertThat(answer.message()).isEqualTo("Refused: " + code.code());
            assertThat(answer.details()).containsExactly(Map.entry("retry_after_ms", 1000L));
            assertThat(answer.requestId()).as("the HTTP request's own id").isEqualTo("request-7");
            assertThat(answer.retryable()).as(code.code() + " retryable").isEqualTo(RETRYABLE.contains(code));
            assertThat(answer.httpStatus()).as(code.code() + " status")
                    .isEqualTo(code.httpStatus() == 0 ? 500 : code.httpStatus());
            assertThat(answer.code().closeCode()).as(code.code() + " close code")
                    .isEqualTo(CLOSE_CODES.getOrDefault(code, 0));
        }
        assertThat(logged.list).as("a refusal is the client's answer, not our log's").isEmpty();
    }

    @Test
    void theCauseDecidesOnlyWhereTheTableLeavesItToTheCause() {
        for (ErrorCode code : ErrorCode.values()) {
            Failure passing = Failures.translate(new AgentException(code, "down", true, null), null, log, "Run r1");
            Failure refused = Failures.translate(new AgentException(code, "refused", false, null), null, log, "Run r1");

            assertThat(passing.retryable()).as(code.code() + " with a cause that passes")
                    .isEqualTo(RETRYABLE.contains(code) || BY_CAUSE.contains(code));
            assertThat(refused.retryable()).as(code.code() + " with a cause that does not")
                    .isEqualTo(RETRYABLE.contains(code));
            assertThat(passing.requestId()).as("a coded failure on a socket or in a run carries no id").isNull();
        }
        assertThat(Failures.translate(new ProtocolException(ErrorCode.LLM_UNAVAILABLE, "unpriced"), null, log, "Run r1")
                .retryable()).as("a plain refusal states no cause that passes").isFalse();
    }

    @Test
    void anUnexpectedExceptionBecomesInternalWithTheRequestIdItsLogLineCarries() {
        IllegalStateException bug = new IllegalStateException("a bug of ours");

        Failure answer = Failures.translate(bug, null, log, "Socket 7 message ping");

        assertThat(answer.code()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(answer.message()).isEqualTo(Failures.INTERNAL_MESSAGE).doesNotContain("a bug of ours");
        assertThat(answer.retryable()).isTrue();
        assertThat(answer.details()).isEmpty();
        assertThat(answer.requestId()).matches("[0-9a-f]{16}");
        assertThat(answer.detailsWithRequestId()).containsExactly(Map.entry("request_id", answer.requestId()));
        assertThat(logged.list).singleElement().satisfies(line -> {
            assertThat(line.getLevel()).isEqualTo(Level.ERROR);
            assertThat(line.getFormattedMessage())
                    .isEqualTo("Socket 7 message ping failed [request_id=" + answer.requestId() + "]");
            assertThat(line.getThrowableProxy().getMessage()).isEqualTo("a bug of ours");
        });
    }

    @Test
    void anUnexpectedExceptionOnAnHttpRequestIsLoggedUnderThatRequestsId() {
        Failure answer = Failures.translate(new NullPointerException(), "client-chosen-id", log, "request GET /api/x");

        assertThat(answer.code()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(answer.requestId()).isEqualTo("client-chosen-id");
        assertThat(answer.httpStatus()).isEqualTo(500);
        assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("request GET /api/x failed [request_id=client-chosen-id]");
    }

    @Test
    void internalIsInternalEvenForACodedFailure() {
        Failure answer = Failures.internal(new ProtocolException(ErrorCode.INVALID_MESSAGE, "no"), null, log,
                "Socket 3 of user u1 on a frame");

        assertThat(answer.code()).isEqualTo(ErrorCode.INTERNAL);
        assertThat(answer.code().closeCode()).isEqualTo(1011);
        assertThat(logged.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("Socket 3 of user u1 on a frame failed [request_id=" + answer.requestId() + "]");
    }

    @Test
    void requestIdsAreSixteenHexDigitsAndNeverRepeat() {
        List<String> ids = IntStream.range(0, 10_000).mapToObj(i -> Failures.newRequestId()).toList();

        assertThat(ids).allMatch(id -> id.matches("[0-9a-f]{16}"));
        assertThat(new HashSet<>(ids)).hasSize(ids.size());
    }

    @Test
    void aFailureThatContradictsTheTableIsRefused() {
        assertThatThrownBy(() -> new Failure(ErrorCode.INVALID_JSON, "no", Map.of(), true, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid_json is not retryable");
        assertThatThrownBy(() -> new Failure(ErrorCode.TIMEOUT, "slow", Map.of(), false, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout is retryable");
        assertThat(new Failure(ErrorCode.TOOL_FAILED, "down", Map.of(), true, null).retryable()).isTrue();
        assertThat(Failure.of(ErrorCode.SERVICE_RESTART, "restarting").retryable()).isTrue();
    }
}
