package dev.parley.server.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.ServerProcess;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short form of the socket fuzz (bin/fuzz runs 1,000,000 frames): a fixed seed, a server process of its own, and
 * the same checks: no violation, the process alive, /metrics series bounded, file descriptors back where they were.
 */
class SocketFuzzTest {
    private static final long SEED = 20261206L;
    private static final long FRAMES = 20_000;

    @TempDir
    Path data;

    @Test
    void theSocketSurvivesMutatedFramesWithCodedAnswersOnly() throws Exception {
        try (ServerProcess server = ServerProcess.start(data, SocketFuzzer.SERVER_ENV, SocketFuzzer.IMAGE_JVM_FLAGS)) {
            assertThat(server.awaitReady()).as(server.log()).isTrue();
            SocketFuzzer.Report report = SocketFuzzer.run(new SocketFuzzer.Options(SEED, FRAMES, 8, 4), server);
            System.out.print(report.summary());
            assertThat(report.violations()).as(report.summary()).isZero();
            assertThat(report.frames()).isEqualTo(FRAMES);
            assertThat(server.process().isAlive()).isTrue();
            // Every close the fuzz provoked is one the RFC or the contract names.
            assertThat(report.closes().keySet()).isSubsetOf("1000", "1002", "1003", "1007", "1009",
                    "dropped (Helidon)");
            assertThat(report.outcomes()).doesNotContainKey("error:internal");
            // Labels take values from known sets (codes, types, reasons): a run touches about 130 series in all, where an
            // unbounded label would add one per distinct value sent.
            assertThat(report.seriesAfter()).isLessThan(200);
            assertThat(report.fdsAfter()).isLessThanOrEqualTo(report.fdsBefore() + 10);
            assertThat(server.log()).doesNotContain("Exception in thread");
        }
    }
}
