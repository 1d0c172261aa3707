package dev.parley.server.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.parley.protocol.EventType;
import dev.parley.protocol.Json;
import dev.parley.server.usage.PriceCatalog;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class ToolboxTest {
    /** A tool whose work is waiting, as a slow query or an external call would; it notes when it is interrupted. */
    static final class WaitingTool implements Tool<JsonNode, JsonNode> {
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch interrupted = new CountDownLatch(1);

        @Override
        public ToolSpecification specification() {
            return ToolSpecification.builder().name("wait").description("waits")
                    .parameters(JsonObjectSchema.builder().build()).build();
        }

        @Override
        public JsonNode parse(JsonNode arguments) {
            return arguments;
        }

        @Override
        public JsonNode execute(String userId, JsonNode arguments) throws InterruptedException {
            started.countDown();
            try {
                new CountDownLatch(1).await();
                return arguments;
            } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
            }
        }

        @Override
        public JsonNode render(JsonNode result) {
            return result;
        }
    }

    @Test
    void stoppingARunInterruptsTheRunningToolAndClosesItsCall() throws Exception {
        WaitingTool waiting = new WaitingTool();
        Toolbox toolbox = new Toolbox(List.of(waiting));
        RecordingRun run = new RecordingRun("user-1", "wait");
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        CompletableFuture<Void> ended = new CompletableFuture<>();
        Thread worker = Thread.ofPlatform().start(() -> {
            try {
                toolbox.callForModel(run, "supervisor", "call_1", "wait", "{}");
            } catch (Throwable t) {
                outcome.set(t);
            } finally {
                ended.complete(null);
            }
        });
        assertThat(waiting.started.await(5, TimeUnit.SECONDS)).isTrue();

        worker.interrupt();
        ended.get(1, TimeUnit.SECONDS);

        assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
        assertThat(waiting.interrupted.await(1, TimeUnit.SECONDS)).isTrue();
        RecordingRun.Event completed = run.await(e -> e.type().equals(EventType.TOOL_COMPLETED), Duration.ofSeconds(1));
        assertThat(completed.data().path("tool_call_id").asText()).isEqualTo("call_1");
        assertThat(completed.data().path("status").asText()).isEqualTo("error");
        assertThat(completed.data().path("result").path("error").asText()).isEqualTo("cancelled");
    }

    @Test
    void aModelsMistakesComeBackAsErrorResults() throws Exception {
        Toolbox toolbox = new Toolbox(List.of(new PriceCatalogTool(PriceCatalog.bundled())));
        RecordingRun run = new RecordingRun("user-1", "prices");

        Toolbox.Outcome unknown = toolbox.callForModel(run, "supervisor", "c1", "delete_everything", "{}");
        Toolbox.Outcome broken = toolbox.callForModel(run, "supervisor", "c2", "price_catalog", "{\"models\":");
        Toolbox.Outcome wrongType = toolbox.callForModel(run, "supervisor", "c3", "price_catalog", "{\"models\":[1]}");
        Toolbox.Outcome fine = toolbox.callForModel(run, "supervisor", "c4", "price_catalog", "{\"models\":[\"gpt-4o\"]}");

        assertThat(unknown.success()).isFalse();
        assertThat(unknown.result().path("error").asText()).contains("no tool named 'delete_everything'");
        assertThat(broken.result().path("error").asText()).contains("not valid JSON");
        assertThat(wrongType.result().path("error").asText()).contains("list of strings");
        assertThat(fine.success()).isTrue();
        assertThat(fine.result().path("prices").get(0).path("input").asDouble()).isEqualTo(2.5);
        assertThat(run.events(EventType.TOOL_COMPLETED)).extracting(e -> e.data().path("status").asText())
                .containsExactly("error", "error", "error", "success");
        assertThat(run.events(EventType.TOOL_EXECUTING).get(1).data().path("parameters"))
                .isEqualTo(Json.object().put("unparsed", "{\"models\":"));
    }
}
