package dev.parley.server.gateway;

/**
 * The id of one HTTP request, kept in the request's context: the client's {@code X-Request-Id} when it sent a sane
 * one, else a new one from {@link dev.parley.server.failure.Failures#newRequestId()}.
 */
record RequestId(String value) {
}
