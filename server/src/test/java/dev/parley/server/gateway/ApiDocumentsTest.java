package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.EventType;
import dev.parley.protocol.MessageType;
import dev.parley.server.run.RunStatus;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The OpenAPI and AsyncAPI documents the server publishes, read over HTTP from a running server and compared with
 * what the code registers: every route, every client message type and alias, every event type, every error code
 * and run status, in both directions. Adding a route or a message without describing it fails here.
 */
class ApiDocumentsTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final List<String> METHODS = List.of("get", "put", "post", "delete", "patch", "head", "options");

    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;
    private static JsonNode openApi;
    private static JsonNode asyncApi;

    @BeforeAll
    static void start() throws Exception {
        app = servers.start();
        openApi = fetch("/openapi.yaml");
        asyncApi = fetch("/asyncapi.yaml");
    }

    private static JsonNode fetch(String path) throws Exception {
        TestApp.Response response = app.get(path, null);
        assertThat(response.status()).as(path).isEqualTo(200);
        assertThat(response.header("Content-Type")).as(path).startsWith("application/yaml");
        return YAML.readTree(response.body());
    }

    @Test
    void theOpenApiDocumentListsExactlyTheRoutesTheServerServes() {
        assertThat(openApi.path("openapi").asText()).startsWith("3.1.");
        Set<String> documented = new TreeSet<>();
        openApi.path("paths").properties().forEach(path -> {
            for (String method : METHODS) {
                if (path.getValue().has(method)) {
                    documented.add(method.toUpperCase(Locale.ROOT) + " " + path.getKey());
                }
            }
        });
        assertThat(app.app().routes()).as("routes the server registers").isNotEmpty();
        assertThat(documented).containsExactlyInAnyOrderElementsOf(app.app().routes());
    }

    @Test
    void everyOperationHasAnIdAndEveryRouteOfTheApiAnErrorResponse() {
        Set<String> operationIds = new TreeSet<>();
        openApi.path("paths").properties().forEach(path -> {
            for (String method : METHODS) {
                JsonNode operation = path.getValue().path(method);
                if (operation.isMissingNode()) {
                    continue;
                }
                String name = method + " " + path.getKey();
                assertThat(operation.path("operationId").asText()).as(name).isNotBlank();
                assertThat(operationIds.add(operation.path("operationId").asText())).as("unique id of " + name).isTrue();
                boolean protectedRoute = !operation.has("security") || !operation.path("security").isEmpty();
                if (protectedRoute) {
                    assertThat(operation.path("responses").has("401")).as(name + " says what a missing token gets")
                            .isTrue();
                }
            }
        });
    }

    @Test
    void theErrorCodesAndRunStatusesAreTheCodesOwn() {
        JsonNode schemas = openApi.path("components").path("schemas");
        assertThat(texts(schemas.path("ErrorCode").path("enum")))
                .containsExactlyInAnyOrderElementsOf(Arrays.stream(ErrorCode.values()).map(ErrorCode::code).toList());
        assertThat(texts(schemas.path("RunStatus").path("enum")))
                .containsExactlyInAnyOrderElementsOf(Arrays.stream(RunStatus.values()).map(RunStatus::wire).toList());
    }

    @Test
    void theAsyncApiDocumentListsExactlyTheSocketsMessagesAndEvents() throws Exception {
        assertThat(asyncApi.path("asyncapi").asText()).isEqualTo("3.0.0");
        Set<String> addresses = new TreeSet<>();
        asyncApi.path("channels").forEach(channel -> addresses.add(channel.path("address").asText()));
        assertThat(addresses).containsExactlyInAnyOrderElementsOf(SocketHandshake.PATHS);

        JsonNode operations = asyncApi.path("operations");
        assertThat(operations.path("receiveClientMessage").path("action").asText()).isEqualTo("receive");
        assertThat(operations.path("sendServerEvent").path("action").asText()).isEqualTo("send");

        List<JsonNode> received = messages(operations.path("receiveClientMessage"));
        assertThat(received.stream().map(message -> message.path("name").asText()))
                .containsExactlyInAnyOrderElementsOf(Arrays.stream(MessageType.values()).map(MessageType::wireName).toList());
        for (JsonNode message : received) {
            MessageType type = MessageType.fromWire(message.path("name").asText()).orElseThrow();
            List<String> aliases = type.names().subList(1, type.names().size());
            assertThat(texts(message.path("x-aliases"))).as("aliases of " + type.wireName())
                    .containsExactlyInAnyOrderElementsOf(aliases);
        }

        List<JsonNode> sent = messages(operations.path("sendServerEvent"));
        assertThat(sent.stream().map(message -> message.path("name").asText()))
                .containsExactlyInAnyOrderElementsOf(eventTypes());
        for (JsonNode channel : asyncApi.path("channels")) {
            assertThat(channel.path("messages").size()).as(channel.path("address").asText())
                    .isEqualTo(received.size() + sent.size());
        }
    }

    @Test
    void everyReferenceInBothDocumentsResolves() {
        for (JsonNode document : List.of(openApi, asyncApi)) {
            List<String> refs = new ArrayList<>();
            collectRefs(document, refs);
            assertThat(refs).isNotEmpty();
            for (String ref : refs) {
                assertThat(ref).startsWith("#/");
                assertThat(resolve(document, ref).isMissingNode()).as(ref).isFalse();
            }
        }
    }

    private static List<JsonNode> messages(JsonNode operation) {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode ref : operation.path("messages")) {
            JsonNode channelMessage = resolve(asyncApi, ref.path("$ref").asText());
            found.add(resolve(asyncApi, channelMessage.path("$ref").asText()));
        }
        return found;
    }

    private static JsonNode resolve(JsonNode document, String ref) {
        JsonNode node = document;
        for (String part : ref.substring(2).split("/")) {
            node = node.path(part.replace("~1", "/").replace("~0", "~"));
        }
        return node;
    }

    private static void collectRefs(JsonNode node, List<String> refs) {
        if (node.isObject()) {
            node.properties().forEach(entry -> {
                if (entry.getKey().equals("$ref")) {
                    refs.add(entry.getValue().asText());
                } else {
                    collectRefs(entry.getValue(), refs);
                }
            });
        } else if (node.isArray()) {
            node.forEach(child -> collectRefs(child, refs));
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(value -> values.add(value.asText()));
        return values;
    }

    private static List<String> eventTypes() throws IllegalAccessException {
        List<String> types = new ArrayList<>();
        for (Field field : EventType.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == String.class) {
                types.add((String) field.get(null));
            }
        }
        return types;
    }
}
