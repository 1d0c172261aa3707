package dev.parley.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import java.net.http.HttpHeaders;
import java.time.Duration;

/** One HTTP answer: status, headers, raw body, the body as JSON when it is JSON, and how long it took. */
public record ApiResponse(int status, HttpHeaders headers, String body, Duration elapsed) {
    public JsonNode json() {
        try {
            return Json.parse(body);
        } catch (ProtocolException e) {
            return MissingNode.getInstance();
        }
    }

    /** The {@code error.code} of an error body, or empty text. */
    public String errorCode() {
        return json().path("error").path("code").asText("");
    }

    public boolean ok() {
        return status >= 200 && status < 300;
    }

    public String header(String name) {
        return headers.firstValue(name).orElse(null);
    }
}
