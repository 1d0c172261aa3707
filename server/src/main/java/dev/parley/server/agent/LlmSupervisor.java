package dev.parley.server.agent;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.PartialThinking;
import dev.langchain4j.model.chat.response.PartialThinkingContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import dev.langchain4j.model.output.TokenUsage;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.budget.BudgetExceededException;
import dev.parley.server.budget.Budgets;
import dev.parley.server.budget.CallPricing;
import dev.parley.server.config.Config;
import dev.parley.server.usage.PriceCatalog;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The supervisor when a language model is configured: the model gets the same tools as the offline team through
 * tool calling and loops, for at most {@link #MAX_ROUNDS} rounds, stream → tool calls → our tools run (each with its
 * {@code tool_executing}/{@code tool_completed} pair) → results back → stream again. Streamed text becomes
 * {@code partial_result}, streamed reasoning {@code agent_thinking}; each round's token counts, priced from the
 * catalog, go to the run's usage. Events are emitted from the run's own thread only: the provider's callbacks hand
 * their signals over through a queue. A stopped run cancels the stream (LangChain4j's streaming handle and the HTTP
 * exchange both) and returns at once.
 *
 * <p>With spend budgets ({@link Budgets}), each call is reserved just before its request is sent, from the request's
 * size in UTF-8 bytes (a bound of the input tokens a provider can bill) and the output-token cap, and charged its
 * reported cost after it (its reservation when the provider reports no usage); a call that was stopped or failed is
 * released. A run is admitted by reserving its first call before anything of it is stored.
 */
final class LlmSupervisor implements Agent, AutoCloseable {
    static final String NAME = "supervisor";
    static final int MAX_ROUNDS = 8;
    /** What a request's JSON adds around the texts it carries, generously, for the first call's reservation. */
    static final long REQUEST_OVERHEAD_BYTES = 2048;
    private static final Logger LOG = LoggerFactory.getLogger(LlmSupervisor.class);

    private final LlmModels models;
    private final Toolbox tools;
    private final PriceCatalog catalog;
    private final Clock clock;
    private final java.net.http.HttpClient http;
    private final LlmReachability reachability;
    private final Duration responseTimeout;
    private final Duration idleTimeout;
    private final Budgets budgets; // null: no budgets
    private final CallPricing pricing;
    private final Map<String, RunSpending> spending = new ConcurrentHashMap<>();
    /** The system prompt of the day it was last written for, and its size. */
    private volatile Sized<LocalDate> prompt = new Sized<>(null, "", 0);
    /** The tool specifications as last sized: the same list while no remote tools are known. */
    private volatile Sized<List<ToolSpecification>> toolSizes = new Sized<>(null, "", 0);

    /** A text made from {@code source}, with its size in UTF-8 bytes. */
    private record Sized<T>(T source, String text, long bytes) {
        static <T> Sized<T> of(T source, String text) {
            return new Sized<>(source, text, utf8(text));
        }
    }

    LlmSupervisor(Config.Agent config, Toolbox tools, PriceCatalog catalog, Clock clock, Budgets budgets) {
        this.models = new LlmModels(config);
        this.tools = tools;
        this.catalog = catalog;
        this.clock = clock;
        this.http = java.net.http.HttpClient.newBuilder()
                .connectTimeout(config.responseTimeout().compareTo(Duration.ofSeconds(10)) < 0
                        ? config.responseTimeout() : Duration.ofSeconds(10))
                .build();
        this.reachability = new LlmReachability(models.label());
        this.responseTimeout = config.responseTimeout();
        this.idleTimeout = config.idleTimeout();
        this.budgets = budgets == null || !budgets.enabled() || models.local() ? null : budgets;
        this.pricing = new CallPricing(catalog, models.catalogProvider(), models.model(),
                budgets == null ? Optional.empty() : budgets.config().modelPrice());
        if (this.budgets != null && budgets.config().limitUsd().isPresent() && !pricing.priced()) {
            throw new IllegalStateException(pricing.unpricedMessage());
        }
        if (config.provider() == Config.LlmProvider.OLLAMA) {
            LOG.info("Using the local model {}: runs report token counts at no cost", models.label());
        } else if (!pricing.priced()) {
            LOG.warn("The price catalog has no price for {}: runs will report token counts with a cost of 0",
                    models.label());
        }
    }

    private sealed interface Signal permits Text, Thinking, Done, Failed, Ended {
    }

    private record Text(String text) implements Signal {
    }

    private record Thinking(String text) implements Signal {
    }

    private record Done(ChatResponse response) implements Signal {
    }

    private record Failed(Throwable error) implements Signal {
    }

    private record Ended() implements Signal {
    }

    /**
     * Reserves the run's first call when its user has a limit: the system prompt, the tools and the request (the
     * thread's history is added when the call is made), at most {@link LlmModels#MAX_OUTPUT_TOKENS} out; here, or,
     * when the ledger's writer also stores starts, in the start's own transaction (the admission returned).
     *
     * @throws BudgetExceededException when the budget cannot cover it ({@code budget_exceeded})
     * @throws ProtocolException {@code llm_unavailable} when the user has a limit and the model has no price
     */
    @Override
    public Admission admit(String userId, String runId, String request) {
        if (budgets == null) {
            return null;
        }
        RunSpending run = newSpending(userId, runId);
        if (!run.limited()) {
            spending.put(runId, run);
            return null;
        }
        long bound = sizedPrompt().bytes() + utf8(request) + toolBytes()
                + REQUEST_OVERHEAD_BYTES;
        if (budgets.takesHoldsInStarts()) {
            Admission admission = run.admitInStart(today(), bound, LlmModels.MAX_OUTPUT_TOKENS);
            spending.put(runId, run);
            return admission;
        }
        run.admit(today(), bound, LlmModels.MAX_OUTPUT_TOKENS);
        spending.put(runId, run);
        return null;
    }

    @Override
    public void ended(String runId) {
        RunSpending run = spending.remove(runId);
        if (run != null) {
            run.end();
        }
    }

    private RunSpending newSpending(String userId, String runId) {
        Long limit = budgets.admissionLimitMicros(userId).orElse(null);
        if (limit != null && !pricing.priced()) {
            throw new ProtocolException(ErrorCode.LLM_UNAVAILABLE, pricing.unpricedMessage());
        }
        return new RunSpending(budgets, pricing, userId, runId, limit);
    }

    @Override
    public Answer run(AgentRun run) throws InterruptedException {
        RunSpending spent = budgets == null ? null : spending.computeIfAbsent(run.runId(),
                id -> newSpending(run.userId(), id));
        if (spent == null) {
            return converse(run, null);
        }
        Answer answer;
        try {
            answer = converse(run, spent);
        } catch (InterruptedException | RuntimeException e) {
            try {
                spent.settle(run, NAME); // the run's end is stored once its cost is charged
            } catch (RuntimeException failure) {
                e.addSuppressed(failure);
            }
            throw e;
        }
        spent.settle(run, NAME);
        return answer;
    }

    /** The run's conversation with the model; its cost is charged to the ledger after it returns. */
    private Answer converse(AgentRun run, RunSpending spent) throws InterruptedException {
        LlmHttpClient transport = new LlmHttpClient(http, reachability, responseTimeout);
        if (spent != null && spent.limited()) {
            transport.beforeStream(bytes -> spent.reserve(today(), bytes, LlmModels.MAX_OUTPUT_TOKENS));
        }
        try {
            StreamingChatModel model = models.create(transport.asBuilder());
            List<ChatMessage> messages = new ArrayList<>();
            messages.add(SystemMessage.from(sizedPrompt().text()));
            for (AgentRun.Turn turn : run.history()) {
                messages.add("assistant".equals(turn.role()) ? AiMessage.from(turn.content()) : UserMessage.from(turn.content()));
            }
            messages.add(UserMessage.from(run.request()));
            List<ToolSpecification> specifications = tools.specifications();
            StringBuilder answer = new StringBuilder();
            for (int round = 1; round <= MAX_ROUNDS; round++) {
                RunEvents.thinking(run, NAME, round == 1 ? "Asking " + models.label() + "."
                        : "Giving the tool results back to " + models.label() + ".", round, null);
                ChatRequest request = ChatRequest.builder().messages(messages).toolSpecifications(specifications).build();
                ChatResponse response;
                try {
                    response = stream(run, model, transport, request, round, answer);
                } catch (RuntimeException e) {
                    if (spent != null) {
                        spent.release(); // stopped or failed: the call's reservation goes back
                    }
                    throw e;
                } catch (InterruptedException e) {
                    if (spent != null) {
                        spent.release();
                    }
                    throw e;
                }
                BigDecimal cost = recordUsage(run, response.tokenUsage(), spent);
                AiMessage message = response.aiMessage();
                if (spent != null) {
                    spent.charge(cost);
                    if (message.hasToolExecutionRequests()) {
                        spent.emitCharged(run, NAME); // not the last call: the last one's once the run is charged
                    }
                }
                if (!message.hasToolExecutionRequests()) {
                    return new Answer(answer.toString());
                }
                messages.add(message);
                for (ToolExecutionRequest call : message.toolExecutionRequests()) {
                    String callId = call.id() == null || call.id().isBlank() ? Toolbox.newCallId() : call.id();
                    Toolbox.Outcome outcome = tools.callForModel(run, NAME, callId, call.name(), call.arguments());
                    messages.add(ToolExecutionResultMessage.from(call, Json.write(outcome.result())));
                }
            }
            String note = (answer.isEmpty() ? "" : "\n\n") + "_I stopped after " + MAX_ROUNDS
                    + " rounds of tool calls without reaching an answer; try a narrower question._\n";
            RunEvents.partial(run, NAME, note);
            return new Answer(answer.append(note).toString());
        } finally {
            transport.cancel();
        }
    }

    private ChatResponse stream(AgentRun run, StreamingChatModel model, LlmHttpClient transport, ChatRequest request,
                                int round, StringBuilder answer) throws InterruptedException {
        BlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
        AtomicReference<StreamingHandle> handle = new AtomicReference<>();
        transport.onStreamEnd(() -> signals.add(new Ended()));
        try {
            model.chat(request, new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String text) {
                    signals.add(new Text(text));
                }

                @Override
                public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                    handle.compareAndSet(null, context.streamingHandle());
                    signals.add(new Text(partial.text()));
                }

                @Override
                public void onPartialThinking(PartialThinking thinking) {
                    signals.add(new Thinking(thinking.text()));
                }

                @Override
                public void onPartialThinking(PartialThinking thinking, PartialThinkingContext context) {
                    handle.compareAndSet(null, context.streamingHandle());
                    signals.add(new Thinking(thinking.text()));
                }

                @Override
                public void onCompleteResponse(ChatResponse response) {
                    signals.add(new Done(response));
                }

                @Override
                public void onError(Throwable error) {
                    signals.add(new Failed(error));
                }
            });
        } catch (RuntimeException e) {
            throw budgetFailure(e).orElseGet(() -> LlmFailures.classify(e, models.label()));
        }
        try {
            while (true) {
                Signal signal = signals.poll(idleTimeout.toMillis(), TimeUnit.MILLISECONDS);
                if (signal == null) {
                    StreamingHandle streaming = handle.get();
                    if (streaming != null) {
                        streaming.cancel();
                    }
                    transport.cancel();
                    reachability.failed(new TimeoutException("no data for " + idleTimeout.toMillis() + " ms"));
                    throw new AgentException(ErrorCode.LLM_UNAVAILABLE, "The language model (" + models.label()
                            + ") stopped answering; try again shortly.", true, null);
                }
                switch (signal) {
                    case Text text -> {
                        if (text.text() != null && !text.text().isEmpty()) {
                            RunEvents.partial(run, NAME, text.text());
                            answer.append(text.text());
                        }
                    }
                    case Thinking thinking -> {
                        if (thinking.text() != null && !thinking.text().isBlank()) {
                            RunEvents.thinking(run, NAME, thinking.text(), round, null);
                        }
                    }
                    case Done done -> {
                        if (models.endsByClosing() && done.response().finishReason() == null) {
                            throw LlmFailures.truncated(models.label());
                        }
                        return done.response();
                    }
                    case Failed failed -> throw budgetFailure(failed.error())
                            .orElseGet(() -> LlmFailures.classify(failed.error(), models.label()));
                    case Ended ended -> throw LlmFailures.truncated(models.label());
                }
            }
        } catch (InterruptedException e) {
            StreamingHandle streaming = handle.get();
            if (streaming != null) {
                streaming.cancel();
            }
            transport.cancel();
            throw e;
        }
    }

    /**
     * A call that failed in its reservation, not at the provider: when the budget could not cover it, the run ends
     * budget_exhausted rather than failing; when the ledger could not be reached, the run fails with that code
     * ({@code upstream_unavailable}), not as the model's failure.
     */
    private static Optional<RuntimeException> budgetFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof BudgetExceededException exceeded) {
                return Optional.of(new BudgetExhausted(exceeded));
            }
            if (t instanceof ProtocolException ledger) {
                return Optional.of(ledger);
            }
        }
        return Optional.empty();
    }

    /**
     * Adds the call's tokens and cost to the run's usage and returns the cost. A call that reports no usage costs
     * what was reserved for it when its user has a limit (never zero: the provider may have billed it).
     */
    private BigDecimal recordUsage(AgentRun run, TokenUsage usage, RunSpending spent) {
        if (usage == null) {
            LOG.warn("{} reported no token usage for run {}", models.label(), run.runId());
            BigDecimal reserved = spent == null ? BigDecimal.ZERO : spent.reserved();
            run.addUsage(new Usage(0, 0, reserved));
            return reserved;
        }
        long input = usage.inputTokenCount() == null ? 0 : usage.inputTokenCount();
        long output = usage.outputTokenCount() == null ? 0 : usage.outputTokenCount();
        BigDecimal cost = models.local() ? BigDecimal.ZERO
                : pricing.cost(today(), input, output).orElse(BigDecimal.ZERO);
        cost = cost.setScale(6, RoundingMode.HALF_UP);
        run.addUsage(new Usage(input, output, cost));
        return cost;
    }

    private LocalDate today() {
        return LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
    }

    private static long utf8(String text) {
        return text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    /** The size of the tool specifications as the model is sent them, measured again only when they change. */
    private long toolBytes() {
        List<ToolSpecification> specifications = tools.specifications();
        Sized<List<ToolSpecification>> sized = toolSizes;
        if (sized.source() != specifications) {
            sized = Sized.of(specifications, String.valueOf(specifications));
            toolSizes = sized;
        }
        return sized.bytes();
    }

    /** Today's system prompt, written once a day. */
    private Sized<LocalDate> sizedPrompt() {
        LocalDate day = today();
        Sized<LocalDate> sized = prompt;
        if (!day.equals(sized.source())) {
            sized = Sized.of(day, systemPrompt(day));
            prompt = sized;
        }
        return sized;
    }

    private String systemPrompt(LocalDate day) {
        return """
                You are Parley's AI spend analyst. You answer questions about the user's own LLM usage: where the \
                money goes, what is slow, what moving a feature to another model would change, how providers \
                compare, and what models cost.
                Rules:
                - Every figure must come from a tool result: query_usage (the user's records aggregated by model, \
                provider, feature or day, with p50/p95 latency), price_catalog (list prices with source and date) and \
                estimate_savings (model substitution, prompt caching, batching, with the arithmetic). Never invent \
                or estimate a number yourself; show the arithmetic the tools give.
                - If query_usage reports 0 requests, say the user has no usage data yet and how to add it: \
                POST /api/usage/sample loads a realistic sample month in one step; POST /api/usage uploads a JSON \
                array or CSV with a header row (occurred_at, provider, model, input_tokens, output_tokens, and \
                optionally feature, latency_ms, cost_usd).
                - If a question is not about LLM usage, cost, latency or prices, say briefly what you can answer \
                instead, without numbers.
                - Mention when a price is marked uncertain in the catalog.
                - Answer in concise Markdown.
                Today is %s (UTC); the price catalog is dated %s.""".formatted(day, catalog.asOf());
    }

    /** Whether the provider is known to be unreachable (readiness shows it; calls are refused at once meanwhile). */
    @Override
    public boolean unreachable() {
        return reachability.isDown();
    }

    /** Stops the shared HTTP client at once; runs cancel their own exchanges, so nothing is left to wait for. */
    @Override
    public void close() {
        http.shutdownNow();
    }
}
