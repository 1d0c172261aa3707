package dev.parley.protocol;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/** Builds the error object of the contract: {@code {"error":{"code", "message", "request_id"?, ...details}}}. */
public final class ErrorBody {
    private ErrorBody() {
    }

    public static ObjectNode errorObject(ErrorCode code, String message, Map<String, Object> details, String requestId) {
        ObjectNode error = Json.object();
        error.put("code", code.code());
        error.put("message", message == null || message.isBlank() ? code.meaning() : message);
        if (requestId != null) {
            error.put("request_id", requestId);
        }
        details.forEach((key, value) -> error.set(key, Json.MAPPER.valueToTree(value)));
        return error;
    }

    public static String http(ErrorCode code, String message, Map<String, Object> details, String requestId) {
        ObjectNode body = Json.object();
        body.set("error", errorObject(code, message, details, requestId));
        return Json.write(body);
    }
}
