package dev.parley.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The short form of {@code bin/fuzz --llm-outage}: a 4 s cut of the model provider under 20 users. */
class LlmOutageDrillTest {
    @Test
    void runsEndWithARetryableCodeWhileTheProviderIsCutAndCompleteAgainAfter() throws Exception {
        for (boolean silent : new boolean[] {false, true}) {
            LlmOutageDrill.Report report = LlmOutageDrill.run(silent, Duration.ofSeconds(2), Duration.ofSeconds(4),
                    Duration.ofSeconds(4));
            System.out.print(report.summary());
            assertThat(report.serverAlive()).isTrue();
            assertThat(report.socketsClosed()).as(report.summary()).isZero();
            assertThat(report.acknowledged()).isPositive();
            assertThat(report.acknowledgedButNotStored()).as(report.summary()).isZero();
            assertThat(report.unended()).as(report.summary()).isZero();
            assertThat(report.endings().get("before")).as(report.summary()).containsKey("completed");
            assertThat(report.endings().get("during")).as(report.summary()).containsKey("llm_unavailable")
                    .doesNotContainKey("no_end");
            assertThat(report.unreachableAfterMillis()).as(report.summary()).isBetween(0L, 3000L);
            assertThat(report.reachableAgainAfterMillis()).as(report.summary()).isBetween(0L, 5000L);
            assertThat(report.firstCompletedAfterRestoreMillis()).as(report.summary()).isBetween(0L, 5000L);
            assertThat(report.percentile(0.99)).as("runs started during the cut end within the idle timeout")
                    .isBetween(0L, 6000L);
        }
    }
}
