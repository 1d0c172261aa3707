package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The server as its own process: it becomes ready, and SIGTERM makes it exit well within Cloud Run's 10 s. */
class ProcessShutdownTest {
    @Test
    void sigtermDrainsAndExitsWithinTenSeconds() throws Exception {
        Path dataDir = Files.createTempDirectory("parley-process");
        try (ServerProcess server = ServerProcess.start(dataDir, Map.of())) {
            assertThat(server.awaitReady()).as("readiness before SIGTERM; log: %s", server.log()).isTrue();

            long signalled = System.nanoTime();
            server.process().destroy();
            boolean exited = server.process().waitFor(10, TimeUnit.SECONDS);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertThat(exited).as("exited within 10 s of SIGTERM; log: %s", server.log()).isTrue();
            assertThat(tookMs).isLessThan(10_000);
            assertThat(server.log()).contains("Draining").contains("Stopped");
            assertThat(ServerProcess.status(server.uri("/health/ready"))).as("no longer accepting connections")
                    .isEqualTo(-1);
        }
    }
}
