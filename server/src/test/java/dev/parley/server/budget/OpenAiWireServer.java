package dev.parley.server.budget;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local model provider speaking the OpenAI Chat Completions streaming wire format (SSE {@code data:} chunks, a usage
 * chunk, {@code [DONE]}), answering every request the same way: a run takes {@code callsPerRun} calls, the first ones
 * asking for the {@code price_catalog} tool and the last one answering in text, and every call reports the same
 * usage (or none, or stalls after its first chunk until the client goes away). Which call of its run a request is
 * comes from the tool results it carries, so any number of runs can use it at once.
 */
public final class OpenAiWireServer implements AutoCloseable {
    public static final String MODEL = "gpt-4o-mini";
    static final String ANSWER = "Your spend is mostly on gpt-4o-mini.";

    private final HttpServer server;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final int callsPerRun;
    private final long promptTokens;
    private final long completionTokens;
    private volatile boolean reportUsage = true;
    private volatile boolean stall;
    private volatile Duration pause = Duration.ZERO;
    private final AtomicInteger requests = new AtomicInteger();
    private final CountDownLatch stalled = new CountDownLatch(1);
    private final CountDownLatch clientGone = new CountDownLatch(1);

    public OpenAiWireServer(int callsPerRun, long promptTokens, long completionTokens) throws IOException {
        this.callsPerRun = callsPerRun;
        this.promptTokens = promptTokens;
        this.completionTokens = completionTokens;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 200);
        server.createContext("/", this::handle);
        server.setExecutor(executor);
        server.start();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    /** Streams without the usage chunk from now on (as some OpenAI-compatible servers do). */
    OpenAiWireServer withoutUsage() {
        reportUsage = false;
        return this;
    }

    /** Keeps every stream open after its first chunk from now on, writing until the client has gone. */
    OpenAiWireServer stalling() {
        stall = true;
        return this;
    }

    /** Pauses every stream after its first chunk from now on, as a model that takes its time. */
    OpenAiWireServer pausing(Duration each) {
        pause = each;
        return this;
    }

    int requests() {
        return requests.get();
    }

    boolean awaitStalled(Duration wait) throws InterruptedException {
        return stalled.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    boolean awaitClientGone(Duration wait) throws InterruptedException {
        return clientGone.await(wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            JsonNode body = Json.parse(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            requests.incrementAndGet();
            int toolResults = 0;
            for (JsonNode message : body.path("messages")) {
                if ("tool".equals(message.path("role").asText())) {
                    toolResults++;
                }
            }
            exchange.getResponseHeaders().add("Content-Type", "text/event-stream");
            exchange.sendResponseHeaders(200, 0);
            OutputStream out = exchange.getResponseBody();
            if (toolResults < callsPerRun - 1) {
                write(out, delta("{\"role\":\"assistant\",\"content\":null}", "null"));
                Thread.sleep(pause.toMillis());
                if (stall) {
                    holdOpen(out);
                    return;
                }
                write(out, delta("{\"tool_calls\":[{\"index\":0,\"id\":\"call_" + toolResults + "\",\"type\":\"function\","
                        + "\"function\":{\"name\":\"price_catalog\",\"arguments\":\"{\\\"models\\\":[\\\"" + MODEL
                        + "\\\"]}\"}}]}", "null"));
                write(out, delta("{}", "\"tool_calls\""));
            } else {
                write(out, delta("{\"role\":\"assistant\",\"content\":\"Your spend \"}", "null"));
                Thread.sleep(pause.toMillis());
                if (stall) {
                    holdOpen(out);
                    return;
                }
                write(out, delta("{\"content\":\"is mostly on gpt-4o-mini.\"}", "null"));
                write(out, delta("{}", "\"stop\""));
            }
            if (reportUsage) {
                write(out, chunk("[]", "{\"prompt_tokens\":" + promptTokens + ",\"completion_tokens\":" + completionTokens
                        + ",\"total_tokens\":" + (promptTokens + completionTokens) + "}"));
            }
            write(out, "data: [DONE]\n\n");
        } catch (IOException e) {
            clientGone.countDown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void holdOpen(OutputStream out) {
        stalled.countDown();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        try {
            while (System.nanoTime() < deadline) {
                Thread.sleep(50);
                write(out, ": keep-alive\n\n");
            }
        } catch (IOException gone) {
            clientGone.countDown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String chunk(String choices, String usage) {
        return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1764300000,\"model\":\""
                + MODEL + "\",\"choices\":" + choices + ",\"usage\":" + usage + "}\n\n";
    }

    private static String delta(String delta, String finish) {
        return chunk("[{\"index\":0,\"delta\":" + delta + ",\"finish_reason\":" + finish + "}]", "null");
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
