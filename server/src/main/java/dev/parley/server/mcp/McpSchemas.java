package dev.parley.server.mcp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.model.chat.request.json.JsonAnyOfSchema;
import dev.langchain4j.model.chat.request.json.JsonArraySchema;
import dev.langchain4j.model.chat.request.json.JsonBooleanSchema;
import dev.langchain4j.model.chat.request.json.JsonEnumSchema;
import dev.langchain4j.model.chat.request.json.JsonIntegerSchema;
import dev.langchain4j.model.chat.request.json.JsonNullSchema;
import dev.langchain4j.model.chat.request.json.JsonNumberSchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonReferenceSchema;
import dev.langchain4j.model.chat.request.json.JsonSchemaElement;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the JSON Schema of an MCP tool's {@code inputSchema} into the schema the model providers are sent: objects,
 * arrays, strings (with {@code enum}), numbers, integers, booleans, null, {@code anyOf}/{@code oneOf}, {@code $ref}
 * into {@code $defs}/{@code definitions}, and descriptions. A keyword with no equivalent is left out; a type it
 * cannot tell becomes a string, which the server then validates.
 */
final class McpSchemas {
    private McpSchemas() {
    }

    static JsonObjectSchema toObjectSchema(JsonNode schema) {
        JsonObjectSchema.Builder builder = JsonObjectSchema.builder();
        if (schema == null || !schema.isObject()) {
            return builder.build();
        }
        if (schema.path("description").isTextual()) {
            builder.description(schema.get("description").asText());
        }
        Map<String, JsonSchemaElement> properties = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> fields = schema.path("properties").fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            properties.put(field.getKey(), element(field.getValue()));
        }
        builder.addProperties(properties);
        List<String> required = new ArrayList<>();
        schema.path("required").forEach(name -> {
            if (name.isTextual()) {
                required.add(name.asText());
            }
        });
        if (!required.isEmpty()) {
            builder.required(required);
        }
        if (schema.path("additionalProperties").isBoolean()) {
            builder.additionalProperties(schema.get("additionalProperties").asBoolean());
        }
        JsonNode definitions = schema.has("$defs") ? schema.get("$defs") : schema.path("definitions");
        if (definitions.isObject() && !definitions.isEmpty()) {
            Map<String, JsonSchemaElement> defs = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> fields = definitions.fields(); fields.hasNext(); ) {
                Map.Entry<String, JsonNode> field = fields.next();
                defs.put(field.getKey(), element(field.getValue()));
            }
            builder.definitions(defs);
        }
        return builder.build();
    }

    private static JsonSchemaElement element(JsonNode node) {
        if (node == null || !node.isObject()) {
            return JsonStringSchema.builder().build();
        }
        String description = node.path("description").isTextual() ? node.get("description").asText() : null;
        if (node.path("$ref").isTextual()) {
            String ref = node.get("$ref").asText();
            return JsonReferenceSchema.builder().reference(ref.substring(ref.lastIndexOf('/') + 1)).build();
        }
        JsonNode alternatives = node.has("anyOf") ? node.get("anyOf") : node.path("oneOf");
        if (alternatives.isArray() && !alternatives.isEmpty()) {
            List<JsonSchemaElement> options = new ArrayList<>();
            alternatives.forEach(option -> options.add(element(option)));
            return JsonAnyOfSchema.builder().description(description).anyOf(options).build();
        }
        if (node.path("enum").isArray()) {
            List<String> values = new ArrayList<>();
            node.get("enum").forEach(value -> values.add(value.asText()));
            return JsonEnumSchema.builder().description(description).enumValues(values).build();
        }
        JsonNode type = node.path("type");
        if (type.isArray()) {
            List<JsonSchemaElement> options = new ArrayList<>();
            type.forEach(one -> options.add(ofType(one.asText(), node, description)));
            return options.size() == 1 ? options.getFirst()
                    : JsonAnyOfSchema.builder().description(description).anyOf(options).build();
        }
        return ofType(type.asText("string"), node, description);
    }

    private static JsonSchemaElement ofType(String type, JsonNode node, String description) {
        return switch (type) {
            case "object" -> toObjectSchema(node); // with its own description
            case "array" -> JsonArraySchema.builder().description(description).items(element(node.get("items")))
                    .build();
            case "integer" -> JsonIntegerSchema.builder().description(description).build();
            case "number" -> JsonNumberSchema.builder().description(description).build();
            case "boolean" -> JsonBooleanSchema.builder().description(description).build();
            case "null" -> new JsonNullSchema();
            default -> JsonStringSchema.builder().description(description).build();
        };
    }
}
