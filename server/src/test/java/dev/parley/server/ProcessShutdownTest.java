package dev.parley.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The server as its own process: it becomes ready, and SIGTERM makes it exit well within Cloud Run's 10 s. */
class ProcessShutdownTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

    @Test
    void sigtermDrainsAndExitsWithinTenSeconds() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path dataDir = Files.createTempDirectory("parley-process");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder builder = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                "dev.parley.server.Main", "serve"));
        builder.environment().put("PORT", Integer.toString(port));
        builder.environment().put("PARLEY_HOST", "127.0.0.1");
        builder.environment().put("PARLEY_DATA_DIR", dataDir.toString());
        builder.environment().remove("PARLEY_DATABASE_URL");
        builder.environment().remove("PARLEY_REDIS_URL");
        builder.redirectErrorStream(true).redirectOutput(dataDir.resolve("server.log").toFile());
        Process process = builder.start();
        try {
            URI ready = URI.create("http://127.0.0.1:" + port + "/health/ready");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline && process.isAlive()) {
                status = statusOf(ready);
                if (status != 200) {
                    Thread.onSpinWait();
                    TimeUnit.MILLISECONDS.sleep(20);
                }
            }
            assertThat(status).as("readiness before SIGTERM; log: %s", log(dataDir)).isEqualTo(200);

            long signalled = System.nanoTime();
            process.destroy();
            boolean exited = process.waitFor(10, TimeUnit.SECONDS);
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
            assertThat(exited).as("exited within 10 s of SIGTERM; log: %s", log(dataDir)).isTrue();
            assertThat(tookMs).isLessThan(10_000);
            assertThat(log(dataDir)).contains("Draining").contains("Stopped");
            assertThat(statusOf(ready)).as("no longer accepting connections").isEqualTo(-1);
        } finally {
            process.destroyForcibly();
        }
    }

    private int statusOf(URI uri) {
        try {
            return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(1)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static String log(Path dataDir) throws IOException {
        Path file = dataDir.resolve("server.log");
        return Files.exists(file) ? Files.readString(file) : "";
    }
}
