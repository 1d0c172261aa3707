package dev.parley.server.testing;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The server as a process of its own, started from the test class path on the embedded database in a data directory
 * that outlives it, so that a test can signal or kill it and start it again on the same data.
 */
public final class ServerProcess implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();

    private final Process process;
    private final Path dataDir;
    private final int port;

    private ServerProcess(Process process, Path dataDir, int port) {
        this.process = process;
        this.dataDir = dataDir;
        this.port = port;
    }

    /** Starts the server on a free port with {@code env} added to this environment (less any shared services). */
    public static ServerProcess start(Path dataDir, Map<String, String> env) throws IOException {
        return start(dataDir, env, List.of());
    }

    /** The same, with JVM options (the image's memory flags, for instance) before the main class. */
    public static ServerProcess start(Path dataDir, Map<String, String> env, List<String> jvmOptions)
            throws IOException {
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.parley.server.Main", "serve"));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().remove("PARLEY_DATABASE_URL");
        builder.environment().remove("PARLEY_REDIS_URL");
        builder.environment().put("PORT", Integer.toString(port));
        builder.environment().put("PARLEY_HOST", "127.0.0.1");
        builder.environment().put("PARLEY_DATA_DIR", dataDir.toString());
        builder.environment().putAll(env);
        builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(
                dataDir.resolve("server.log").toFile()));
        Process process = builder.start();
        // A test JVM that is stopped (a timeout, Ctrl-C) does not leave the server running.
        Runtime.getRuntime().addShutdownHook(new Thread(process::destroyForcibly));
        return new ServerProcess(process, dataDir, port);
    }

    public Process process() {
        return process;
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    public URI wsUri(String path) {
        return URI.create("ws://127.0.0.1:" + port + path);
    }

    /** Polls readiness until it answers 200; false when the process exited or 30 s passed first. */
    public boolean awaitReady() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline && process.isAlive()) {
            if (status(uri("/health/ready")) == 200) {
                return true;
            }
            TimeUnit.MILLISECONDS.sleep(20);
        }
        return false;
    }

    /** The status of a GET, or -1 when nothing answered. */
    public static int status(URI uri) {
        try {
            return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(1)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /**
     * The lines of {@link #log} at level ERROR and the stack traces after them, for a failure's message: what the
     * server said of a request it answered with {@code internal}.
     */
    public String errors() throws IOException {
        StringBuilder errors = new StringBuilder();
        boolean inError = false;
        for (String line : log().lines().toList()) {
            if (line.contains("ERROR")) {
                inError = true;
            } else if (!line.startsWith("\t") && !line.startsWith("Caused by")) {
                inError = false;
            }
            if (inError) {
                errors.append(line).append('\n');
            }
        }
        return errors.toString();
    }

    /** What the process wrote so far, every start on this data directory included. */
    public String log() throws IOException {
        Path file = dataDir.resolve("server.log");
        return Files.exists(file) ? Files.readString(file) : "";
    }

    /** Kills the process at once (SIGKILL): no drain, no shutdown hook, nothing flushed by the server itself. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
