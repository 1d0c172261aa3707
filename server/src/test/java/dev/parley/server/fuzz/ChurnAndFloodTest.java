package dev.parley.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.ServerProcess;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The short form of {@code bin/fuzz --churn 100000}: connects that end every way, then the floods. */
class ChurnAndFloodTest {
    @TempDir
    Path data;

    @Test
    void socketsThatComeAndGoLeaveNothingBehindAndFloodsMeetTheirLimits() throws Exception {
        try (ServerProcess server = ServerProcess.start(data, ChurnAndFlood.SERVER_ENV, SocketFuzzer.IMAGE_JVM_FLAGS)) {
            assertThat(server.awaitReady()).as(server.log()).isTrue();
            ChurnAndFlood.Report report = ChurnAndFlood.run(server, 3000);
            System.out.print(report.summary());
            assertThat(report.violations()).as("%s\nthe server's errors:\n%s", report.summary(), server.errors())
                    .isZero();
            assertThat(report.openSocketsAfter()).isZero();
            assertThat(report.fdsAfter()).isLessThanOrEqualTo(report.fdsBefore() + 10);
            // One account was created before the flood: 19 more are accepted in the hour, the rest refused.
            assertThat(report.signUps()).containsEntry(201, 19L).containsEntry(429, 41L);
            // Forged X-Forwarded-For entries do not spread the failures over 40 addresses: five, then throttled.
            assertThat(report.logins()).containsEntry(401, 5L).containsEntry(429, 35L);
            assertThat(report.oddMethods().keySet()).allMatch(status -> status >= 400 && status < 500);
            // All made-up methods share one label value: at most one new label set (a counter and a histogram).
            assertThat(report.seriesAddedByMethods()).isLessThan(30);
            assertThat(server.process().isAlive()).isTrue();
        }
    }
}
