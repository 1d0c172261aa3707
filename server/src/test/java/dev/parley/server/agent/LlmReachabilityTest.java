package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.exception.HttpException;
import dev.parley.protocol.ErrorCode;
import java.net.ConnectException;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;

class LlmReachabilityTest {
    private final LlmReachability reachability = new LlmReachability("openai/gpt-test", Duration.ofMillis(200));

    @Test
    void aProviderThatCannotBeReachedRefusesCallsAtOnceUntilATrialAnswers() throws Exception {
        reachability.beforeCall();
        reachability.failed(new ConnectException("Connection refused"));
        assertThat(reachability.isDown()).isTrue();
        assertThatThrownBy(reachability::beforeCall).isInstanceOfSatisfying(AgentException.class, refused -> {
            assertThat(refused.code()).isEqualTo(ErrorCode.LLM_UNAVAILABLE);
            assertThat(refused.retryable()).isTrue();
        });

        Thread.sleep(250);
        reachability.beforeCall(); // the trial
        assertThatThrownBy(reachability::beforeCall).as("one trial at a time").isInstanceOf(AgentException.class);
        reachability.answered();
        assertThat(reachability.isDown()).isFalse();
        reachability.beforeCall();
        assertThat(reachability.refusedCalls()).isEqualTo(2);
    }

    @Test
    void aFailedTrialStartsAnotherCoolDown() throws Exception {
        reachability.failed(new HttpTimeoutException("request timed out"));
        Thread.sleep(250);
        reachability.beforeCall();
        reachability.failed(new HttpException(503, "overloaded"));
        assertThat(reachability.isDown()).isTrue();
        assertThatThrownBy(reachability::beforeCall).isInstanceOf(AgentException.class);
    }

    @Test
    void aRefusalOfTheRequestIsAnAnswerAndAStopTellsNothing() throws Exception {
        reachability.failed(new HttpException(400, "bad request"));
        assertThat(reachability.isDown()).isFalse();

        reachability.failed(new ConnectException("Connection refused"));
        Thread.sleep(250);
        reachability.beforeCall(); // the trial, stopped by its run
        reachability.failed(new CancellationException("the run was stopped"));
        assertThat(reachability.isDown()).as("a stop does not bring the provider back").isTrue();
        reachability.beforeCall(); // the next call is the trial again
        reachability.failed(new HttpException(429, "rate limited"));
        assertThat(reachability.isDown()).isFalse();
    }
}
