package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.config.Config;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A client of an MCP server that runs as a local process speaking JSON-RPC on its standard input and output, one
 * message per line (the stdio transport). The process is started on first use with the server's {@code command} and
 * a small environment of its own (this server's secrets are not passed on), initialised, and started again on the
 * next request after it exits; its standard error goes to the log at DEBUG. Requests are answered through
 * {@link #pending}; an abandoned request is followed by {@code notifications/cancelled}.
 *
 * <p>Thread-safe: {@link #process} and its streams are replaced under {@link #lock}; writes to standard input are
 * serialised on the stream.
 */
final class McpStdioClient implements McpClient {
    private static final Duration STOP_WAIT = Duration.ofSeconds(2);
    private static final Logger LOG = LoggerFactory.getLogger(McpStdioClient.class);

    /** The running process, its input, and the responses it owes. */
    private record Running(Process process, OutputStream input, Map<Long, CompletableFuture<JsonNode>> pending) {
    }

    private final Config.McpServer server;
    private final String clientVersion;
    private final Runnable onToolsChanged;
    private final AtomicLong ids = new AtomicLong();
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Running process;
    private volatile boolean closed;

    McpStdioClient(Config.McpServer server, String clientVersion, Runnable onToolsChanged) {
        this.server = server;
        this.clientVersion = clientVersion;
        this.onToolsChanged = onToolsChanged;
    }

    @Override
    public JsonNode request(String method, JsonNode params, Duration timeout, Credential credential)
            throws InterruptedException, Unavailable, TimedOut, RpcError {
        if (credential != null) {
            throw new IllegalArgumentException("a local MCP process takes no user credential");
        }
        return exchange(running(timeout), method, params, timeout);
    }

    private Running running(Duration timeout) throws InterruptedException, Unavailable, TimedOut, RpcError {
        Running current = process;
        if (current != null && current.process().isAlive()) {
            return current;
        }
        lock.lockInterruptibly();
        try {
            current = process;
            if (current != null && current.process().isAlive()) {
                return current;
            }
            if (closed) {
                throw new Unavailable("the MCP server " + server.id() + " is closed", null);
            }
            Running started = start();
            try {
                exchange(started, "initialize", JsonRpc.initializeParams(clientVersion), timeout);
                write(started, JsonRpc.notification("notifications/initialized", null));
            } catch (Unavailable | TimedOut | RpcError | InterruptedException e) {
                stop(started);
                throw e;
            }
            process = started;
            return started;
        } finally {
            lock.unlock();
        }
    }

    private Running start() throws Unavailable {
        ProcessBuilder builder = new ProcessBuilder(server.command());
        Map<String, String> environment = builder.environment();
        Map<String, String> inherited = Map.copyOf(environment);
        environment.clear();
        for (String name : new String[] {"PATH", "HOME", "LANG", "TMPDIR", "TZ"}) {
            if (inherited.containsKey(name)) {
                environment.put(name, inherited.get(name));
            }
        }
        Process started;
        try {
            started = builder.start();
        } catch (IOException e) {
            throw new Unavailable("the MCP server " + server.id() + " could not be started (" + e.getMessage() + ")",
                    e);
        }
        Running running = new Running(started, started.getOutputStream(), new ConcurrentHashMap<>());
        Thread.ofVirtual().name("parley-mcp-stdout-" + server.id()).start(() -> read(running));
        Thread.ofVirtual().name("parley-mcp-stderr-" + server.id()).start(() -> drainErrors(started));
        LOG.info("MCP server {} started as process {}", server.id(), started.pid());
        return running;
    }

    private void read(Running running) {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(running.process().getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode message;
                try {
                    message = Json.parse(line);
                } catch (ProtocolException e) {
                    LOG.debug("MCP server {} wrote a line that is not JSON", server.id());
                    continue;
                }
                if (JsonRpc.isResponse(message)) {
                    CompletableFuture<JsonNode> waiting = running.pending().remove(message.get("id").asLong(-1));
                    if (waiting != null) {
                        waiting.complete(message);
                    }
                } else if (JsonRpc.announcesToolsChanged(message)) {
                    onToolsChanged.run();
                }
            }
        } catch (IOException e) {
            LOG.debug("MCP server {}: reading its output failed ({})", server.id(), e.toString());
        }
        Unavailable gone = new Unavailable("the MCP server " + server.id() + " exited", null);
        running.pending().values().forEach(waiting -> waiting.completeExceptionally(gone));
        if (!closed) {
            LOG.warn("MCP server {} (process {}) exited; it is started again on the next call", server.id(),
                    running.process().pid());
        }
    }

    private void drainErrors(Process started) {
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(started.getErrorStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                LOG.debug("MCP server {}: {}", server.id(), line);
            }
        } catch (IOException e) {
            // the process is gone
        }
    }

    private JsonNode exchange(Running running, String method, JsonNode params, Duration timeout)
            throws InterruptedException, Unavailable, TimedOut, RpcError {
        long id = ids.incrementAndGet();
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        running.pending().put(id, answer);
        try {
            write(running, JsonRpc.request(id, method, params));
            return JsonRpc.result(answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
            cancelled(running, id, "The run was stopped.");
            throw e;
        } catch (TimeoutException e) {
            cancelled(running, id, "Timed out after " + timeout.toMillis() + " ms.");
            throw new TimedOut("the MCP server " + server.id() + " did not answer " + method + " within "
                    + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Unavailable unavailable) {
                throw unavailable;
            }
            throw new Unavailable("the MCP server " + server.id() + " failed", e.getCause());
        } finally {
            running.pending().remove(id);
        }
    }

    private void cancelled(Running running, long id, String reason) {
        try {
            write(running, JsonRpc.cancelled(id, reason));
        } catch (Unavailable e) {
            LOG.debug("MCP server {}: telling it that request {} is cancelled failed", server.id(), id);
        }
    }

    private void write(Running running, JsonNode message) throws Unavailable {
        byte[] line = (Json.write(message) + "\n").getBytes(StandardCharsets.UTF_8);
        try {
            synchronized (running.input()) {
                running.input().write(line);
                running.input().flush();
            }
        } catch (IOException e) {
            throw new Unavailable("the MCP server " + server.id() + " does not take input any more", e);
        }
    }

    /** Closes the process's input (the transport's way to ask it to end), then ends it if it does not. */
    private static void stop(Running running) {
        try {
            running.input().close();
        } catch (IOException e) {
            // it is going anyway
        }
        Process process = running.process();
        try {
            if (!process.waitFor(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroy();
                if (!process.waitFor(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                }
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        Running current = process;
        if (current != null) {
            stop(current);
        }
    }
}
