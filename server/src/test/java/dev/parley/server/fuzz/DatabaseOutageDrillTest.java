package dev.parley.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The short form of {@code bin/fuzz --outage}: a 3 s cut of PostgreSQL under 20 users sending twice a second, their
 * runs paced a second a step (so that a run outlasts the half second between starts and some are in flight at the
 * cut); every acknowledged run ends, none with {@code service_restart}, and every completed answer is stored.
 */
class DatabaseOutageDrillTest {
    @Test
    void aCutDatabaseIsAnsweredAtOnceAndNothingAcknowledgedIsLost() throws Exception {
        for (boolean silent : new boolean[] {false, true}) {
            DatabaseOutageDrill.Report report = DatabaseOutageDrill.run(silent, Duration.ofSeconds(2),
                    Duration.ofSeconds(3), Duration.ofSeconds(3), Duration.ofSeconds(1));
            System.out.print(report.summary());
            assertThat(report.serverAlive()).isTrue();
            assertThat(report.acknowledged()).isPositive();
            assertThat(report.acknowledgedButNotStored()).as(report.summary()).isZero();
            assertThat(report.unansweredAfter10s()).as(report.summary()).isZero();
            assertThat(report.percentile(0.99)).as(report.summary()).isLessThan(1000);
            assertThat(report.answers().values()).as(report.summary())
                    .allSatisfy(codes -> assertThat(codes).doesNotContainKey("rate_limited"));
            assertThat(report.answers().get("during")).as(report.summary()).containsKey("upstream_unavailable");
            assertThat(report.notReadyAfterMillis()).as(report.summary()).isBetween(0L, 1000L);
            assertThat(report.readyAgainAfterMillis()).as(report.summary()).isBetween(0L, 2000L);
            assertThat(report.runEnds()).as(report.summary()).doesNotContainKey("service_restart");
            assertThat(report.runsNotEnded()).as(report.summary()).isZero();
            assertThat(report.runsThroughCut()).as(report.summary()).isPositive();
            assertThat(report.answersNotStored()).as(report.summary()).isZero();
        }
    }
}
