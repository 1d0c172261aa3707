package dev.parley.server.agent;

/** Arguments a tool refuses; the message tells the caller (often a language model) what to fix. */
final class ToolInputException extends RuntimeException {
    ToolInputException(String message) {
        super(message, null, false, false);
    }
}
