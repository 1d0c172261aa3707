package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.parley.server.testing.TestApp;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A start-up that fails half-way (here at the last step: the listener cannot bind) closes every part it had
 * started: no thread of it is left running.
 */
class AppStartFailureTest {
    private static final Set<String> OWN_THREADS = Set.of("parley-scheduler", "parley-runs", "parley-sockets");

    @Test
    void aStartThatFailsAtTheListenerClosesWhatItHadStarted() throws Exception {
        try (TestApp running = TestApp.start()) {
            long before = ownThreads();
            assertThat(before).as("the running app's own threads").isGreaterThanOrEqualTo(OWN_THREADS.size());

            // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding the listener, the last step, fails.
            assertThatThrownBy(() -> TestApp.start(Map.of("PARLEY_HOST", "192.0.2.1")).close())
                    .isInstanceOf(RuntimeException.class);

            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (ownThreads() > before && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(ownThreads()).as("threads left by the failed start").isLessThanOrEqualTo(before);
            assertThat(running.get("/health/ready", null).status()).as("the running app still serves").isEqualTo(200);
        }
    }

    private static long ownThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.isAlive() && OWN_THREADS.contains(thread.getName())).count();
    }
}
