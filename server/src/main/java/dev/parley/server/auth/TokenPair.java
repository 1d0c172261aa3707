package dev.parley.server.auth;

/**
 * What a sign-in, a refresh or a dev login hands out: a short-lived access token, the single-use refresh token that
 * replaces it, the access token's lifetime in seconds, and the account they speak for.
 */
public record TokenPair(String accessToken, String refreshToken, long expiresInSeconds, User user) {
    @Override
    public String toString() {
        return "TokenPair[user=" + user.id() + ", expiresInSeconds=" + expiresInSeconds + "]";
    }
}
