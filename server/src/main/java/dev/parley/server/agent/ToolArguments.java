package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Reads tool arguments from JSON with checks whose messages name the argument. */
final class ToolArguments {
    private final JsonNode node;

    ToolArguments(JsonNode node) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            this.node = Json.object();
        } else if (!node.isObject()) {
            throw new ToolInputException("the arguments must be a JSON object");
        } else {
            this.node = node;
        }
    }

    String text(String name) {
        JsonNode value = node.get(name);
        if (value == null || value.isNull() || (value.isTextual() && value.asText().isBlank())) {
            return null;
        }
        if (!value.isTextual()) {
            throw new ToolInputException("'" + name + "' must be a string");
        }
        return value.asText().trim();
    }

    String lowerText(String name) {
        String value = text(name);
        return value == null ? null : value.toLowerCase(Locale.ROOT);
    }

    String requiredText(String name) {
        String value = text(name);
        if (value == null) {
            throw new ToolInputException("'" + name + "' is required");
        }
        return value;
    }

    String choice(String name, List<String> allowed, String fallback) {
        String value = lowerText(name);
        if (value == null) {
            if (fallback == null) {
                throw new ToolInputException("'" + name + "' is required: one of " + String.join(", ", allowed));
            }
            return fallback;
        }
        if (!allowed.contains(value)) {
            throw new ToolInputException("'" + name + "' must be one of " + String.join(", ", allowed) + " (got '" + value + "')");
        }
        return value;
    }

    LocalDate day(String name) {
        String value = text(name);
        try {
            return value == null ? null : LocalDate.parse(value);
        } catch (DateTimeParseException e) {
            throw new ToolInputException("'" + name + "' must be a day such as 2026-11-02");
        }
    }

    int integer(String name, int fallback, int min, int max) {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isNumber() || value.asDouble() != Math.rint(value.asDouble())) {
            throw new ToolInputException("'" + name + "' must be a whole number");
        }
        int number = value.asInt();
        if (number < min || number > max) {
            throw new ToolInputException("'" + name + "' must be between " + min + " and " + max);
        }
        return number;
    }

    double fraction(String name, double fallback) {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            return fallback;
        }
        if (!value.isNumber()) {
            throw new ToolInputException("'" + name + "' must be a number between 0 and 1");
        }
        double number = value.asDouble();
        if (number < 0 || number > 1) {
            throw new ToolInputException("'" + name + "' must be between 0 and 1");
        }
        return number;
    }

    List<String> texts(String name) {
        JsonNode value = node.get(name);
        if (value == null || value.isNull()) {
            return List.of();
        }
        if (value.isTextual()) {
            return value.asText().isBlank() ? List.of() : List.of(value.asText().trim());
        }
        if (!value.isArray()) {
            throw new ToolInputException("'" + name + "' must be a list of strings");
        }
        List<String> values = new ArrayList<>();
        for (JsonNode item : value) {
            if (!item.isTextual()) {
                throw new ToolInputException("'" + name + "' must be a list of strings");
            }
            values.add(item.asText().trim());
        }
        if (values.size() > 50) {
            throw new ToolInputException("'" + name + "' may list at most 50 entries");
        }
        return values;
    }
}
