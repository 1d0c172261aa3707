package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.exception.HttpException;
import dev.langchain4j.http.client.HttpClient;
import dev.langchain4j.http.client.HttpClientBuilder;
import dev.langchain4j.http.client.HttpRequest;
import dev.langchain4j.http.client.SuccessfulHttpResponse;
import dev.langchain4j.http.client.sse.ServerSentEvent;
import dev.langchain4j.http.client.sse.ServerSentEventContext;
import dev.langchain4j.http.client.sse.ServerSentEventListener;
import dev.langchain4j.http.client.sse.ServerSentEventParser;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongConsumer;

/**
 * The HTTP transport LangChain4j's provider clients use during one run, over a shared {@link java.net.http.HttpClient}.
 * It keeps every exchange and response stream it opened so that {@link #cancel()} (called when the run is stopped)
 * aborts them from any thread: the pending exchange is cancelled and the open stream closed, which closes the
 * connection, so the provider stops generating. It also turns an error that a provider sends inside a started
 * stream into an error of the stream (LangChain4j 1.11 would read most of them as an empty chunk), and tells its
 * owner when a stream's connection ended, so that a stream cut before the provider's end marker is not mistaken for
 * a finished answer.
 */
final class LlmHttpClient implements HttpClient {
    private static final int MAX_ERROR_BODY = 64 * 1024;

    private final java.net.http.HttpClient jdk;
    private final LlmReachability reachability;
    private final Duration responseTimeout;
    private final Set<CompletableFuture<?>> exchanges = ConcurrentHashMap.newKeySet();
    private final Set<InputStream> streams = ConcurrentHashMap.newKeySet();
    private volatile boolean cancelled;
    private volatile Runnable onStreamEnd = () -> { };
    private volatile LongConsumer beforeStream = requestBytes -> { };

    /**
     * A transport for one run. Every call first asks {@code reachability} (a provider known to be unreachable fails the
     * call at once) and tells it how the call went; a provider that sends no response headers within
     * {@code responseTimeout} counts as unreachable.
     */
    LlmHttpClient(java.net.http.HttpClient jdk, LlmReachability reachability, Duration responseTimeout) {
        this.jdk = jdk;
        this.reachability = reachability;
        this.responseTimeout = responseTimeout;
    }

    /** A builder that hands LangChain4j this very client (the providers' builders ask for a builder). */
    HttpClientBuilder asBuilder() {
        LlmHttpClient self = this;
        return new HttpClientBuilder() {
            @Override
            public Duration connectTimeout() {
                return null;
            }

            @Override
            public HttpClientBuilder connectTimeout(Duration timeout) {
                return this;
            }

            @Override
            public Duration readTimeout() {
                return null;
            }

            @Override
            public HttpClientBuilder readTimeout(Duration timeout) {
                return this;
            }

            @Override
            public HttpClient build() {
                return self;
            }
        };
    }

    /**
     * Runs after the connection of each stream started from now on has ended, whatever the reason, on the stream's
     * thread. A stream keeps the callback that was set when it started.
     */
    void onStreamEnd(Runnable callback) {
        this.onStreamEnd = callback;
    }

    /**
     * Runs before each stream's request is sent, on the caller's thread, with the request body's size in UTF-8 bytes
     * (an upper bound of the input tokens a provider can bill for it). When it throws, nothing is sent and the stream
     * fails with what it threw.
     */
    void beforeStream(LongConsumer callback) {
        this.beforeStream = callback;
    }

    /** Aborts every exchange and stream of this client, now and later. Safe from any thread, more than once. */
    void cancel() {
        cancelled = true;
        exchanges.forEach(exchange -> exchange.cancel(true));
        streams.forEach(LlmHttpClient::quietlyClose);
    }

    boolean cancelled() {
        return cancelled;
    }

    @Override
    public SuccessfulHttpResponse execute(HttpRequest request) {
        reachability.beforeCall();
        CompletableFuture<HttpResponse<String>> exchange =
                jdk.sendAsync(toJdk(request), HttpResponse.BodyHandlers.ofString());
        exchanges.add(exchange);
        if (cancelled) {
            exchange.cancel(true);
        }
        try {
            HttpResponse<String> response = exchange.join();
            if (response.statusCode() < 200 || response.statusCode() >= 300) {
                HttpException refused = new HttpException(response.statusCode(), response.body());
                reachability.failed(refused);
                throw refused;
            }
            reachability.answered();
            return SuccessfulHttpResponse.builder().statusCode(response.statusCode())
                    .headers(response.headers().map()).body(response.body()).build();
        } catch (CompletionException e) {
            if (!cancelled) {
                reachability.failed(e.getCause());
            }
            throw e.getCause() instanceof RuntimeException runtime ? runtime : new UncheckedIOException(
                    new IOException("request to the language model failed", e.getCause()));
        } finally {
            exchanges.remove(exchange);
        }
    }

    @Override
    public void execute(HttpRequest request, ServerSentEventParser parser, ServerSentEventListener listener) {
        Runnable end = onStreamEnd;
        if (cancelled) {
            listener.onError(new CancellationException("the run was stopped"));
            end.run();
            return;
        }
        try {
            reachability.beforeCall();
            beforeStream.accept(request.body() == null ? 0 : request.body().getBytes(StandardCharsets.UTF_8).length);
        } catch (RuntimeException e) {
            listener.onError(e);
            end.run();
            return;
        }
        CompletableFuture<HttpResponse<InputStream>> exchange =
                jdk.sendAsync(toJdk(request), HttpResponse.BodyHandlers.ofInputStream());
        exchanges.add(exchange);
        exchange.whenComplete((response, failure) -> {
            exchanges.remove(exchange);
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
                if (!cancelled) {
                    reachability.failed(cause);
                    listener.onError(cause);
                }
                end.run();
                return;
            }
            Thread.ofVirtual().name("llm-stream").start(() -> consume(response, parser, listener, end));
        });
    }

    private void consume(HttpResponse<InputStream> response, ServerSentEventParser parser,
                         ServerSentEventListener listener, Runnable end) {
        InputStream body = response.body();
        streams.add(body);
        try {
            if (cancelled) {
                return;
            }
            int status = response.statusCode();
            if (status < 200 || status >= 300) {
                HttpException refused = new HttpException(status, readError(body));
                reachability.failed(refused);
                listener.onError(refused);
                return;
            }
            reachability.answered();
            listener.onOpen(SuccessfulHttpResponse.builder().statusCode(status)
                    .headers(response.headers().map()).build());
            Guard guard = new Guard(listener, body);
            parser.parse(body, guard);
            if (!guard.failed && !cancelled) {
                listener.onClose();
            }
        } catch (RuntimeException e) {
            if (!cancelled) {
                reachability.failed(e);
                listener.onError(e);
            }
        } finally {
            streams.remove(body);
            quietlyClose(body);
            end.run();
        }
    }

    /** Passes events on until the provider reports an error inside the stream; then reports it once and stops. */
    private final class Guard implements ServerSentEventListener {
        private final ServerSentEventListener delegate;
        private final InputStream body;
        private volatile boolean failed;

        Guard(ServerSentEventListener delegate, InputStream body) {
            this.delegate = delegate;
            this.body = body;
        }

        @Override
        public void onEvent(ServerSentEvent event) {
            onEvent(event, null);
        }

        @Override
        public void onEvent(ServerSentEvent event, ServerSentEventContext context) {
            if (failed || cancelled) {
                return;
            }
            LlmStreamError error = streamError(event);
            if (error != null) {
                failed = true;
                delegate.onError(error);
                quietlyClose(body);
                return;
            }
            if (context == null) {
                delegate.onEvent(event);
            } else {
                delegate.onEvent(event, context);
            }
        }

        @Override
        public void onError(Throwable throwable) {
            if (!failed && !cancelled) {
                failed = true;
                delegate.onError(throwable);
            }
        }
    }

    private static LlmStreamError streamError(ServerSentEvent event) {
        String data = event.data();
        if (data == null || !data.contains("\"error\"")) {
            return null;
        }
        try {
            JsonNode node = Json.parse(data);
            return node.isObject() ? LlmStreamError.from(node) : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private java.net.http.HttpRequest toJdk(HttpRequest request) {
        if (!request.formDataFields().isEmpty() || !request.formDataFiles().isEmpty()) {
            throw new IllegalArgumentException("multipart requests are not used by chat models");
        }
        java.net.http.HttpRequest.Builder builder = java.net.http.HttpRequest.newBuilder(URI.create(request.url()))
                .timeout(responseTimeout);
        request.headers().forEach((name, values) -> {
            if (values != null) {
                values.forEach(value -> builder.header(name, value));
            }
        });
        builder.method(request.method().name(), request.body() == null
                ? java.net.http.HttpRequest.BodyPublishers.noBody()
                : java.net.http.HttpRequest.BodyPublishers.ofString(request.body(), StandardCharsets.UTF_8));
        return builder.build();
    }

    private static String readError(InputStream body) {
        try {
            return new String(body.readNBytes(MAX_ERROR_BODY), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(the error body could not be read: " + e.getMessage() + ")";
        }
    }

    private static void quietlyClose(InputStream stream) {
        try {
            stream.close();
        } catch (IOException | RuntimeException ignored) {
            // Closing is how a stream is abandoned; a failure to close changes nothing for the run.
        }
    }
}
