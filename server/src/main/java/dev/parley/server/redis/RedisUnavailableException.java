package dev.parley.server.redis;

/**
 * Redis could not be asked: not connected, refused, failed or too slow. Callers fall back to what this instance or
 * the database can do alone; it never reaches a client.
 */
public final class RedisUnavailableException extends RuntimeException {
    public RedisUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
