package dev.parley.cli.validate;

import dev.parley.client.ApiResponse;
import dev.parley.client.ParleyHttp;
import dev.parley.client.ParleySocket;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;

/**
 * The server under validation and what the checks learn about it as they go (the first user, the socket form that
 * works, the golden run). Written by the validator's thread between checks; the concurrent check only reads it.
 */
final class Target {
    static final String WS_PATH = "/ws";
    /** The question of the golden path: the offline agent answers it from the user's usage records. */
    static final String GOLDEN_REQUEST = "Analyze my AI costs";

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

    final Options options;
    final ParleyHttp http;
    final Duration timeout;

    Account primary;
    SocketForm socketForm;
    String serverVersion;
    String serverRevision;
    String serverService;
    String goldenRunId;
    String goldenThreadId;
    java.util.List<ParleySocket.Received> goldenEvents;

    Target(Options options) {
        this.options = options;
        this.timeout = options.timeout();
        this.http = new ParleyHttp(options.url(), options.timeout());
    }

    URI base() {
        return http.base();
    }

    /** Opens a socket for {@code account} with the form that worked; a refusal is an {@link IllegalStateException}. */
    ParleySocket open(Account account) {
        try {
            return ParleySocket.connect(http.httpClient(), base(), WS_PATH, socketForm.credentials(http, account), null,
                    timeout);
        } catch (ParleySocket.HandshakeRefused e) {
            throw new IllegalStateException("the upgrade to " + WS_PATH + " was refused with HTTP " + e.status(), e);
        }
    }

    /** A fresh user's email and password: unique per run, under the reserved example.com domain. */
    static Account newIdentity(String label) {
        String suffix = HexFormat.of().formatHex(bytes(6));
        StringBuilder password = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            password.append(PASSWORD_ALPHABET.charAt(RANDOM.nextInt(PASSWORD_ALPHABET.length())));
        }
        return new Account("validate-" + label + "-" + suffix + "@example.com", password.toString(), null, null);
    }

    /** Registers a fresh user; the answer is returned whatever it was, the account only on 201 with a token. */
    Registration register(String label) {
        Account identity = newIdentity(label);
        ApiResponse answer = http.register(identity.email(), identity.password(), "Parley validator " + label);
        String token = answer.json().path("access_token").asText("");
        String userId = answer.json().path("user").path("id").asText("");
        Account account = answer.status() == 201 && !token.isEmpty()
                ? new Account(identity.email(), identity.password(), token, userId.isEmpty() ? null : userId)
                : null;
        return new Registration(identity, answer, account);
    }

    record Registration(Account identity, ApiResponse answer, Account account) {
        boolean ok() {
            return account != null;
        }

        String describe() {
            return "POST /auth/register answered " + answer.status() + " " + Frames.excerpt(answer.body());
        }
    }

    private static byte[] bytes(int count) {
        byte[] bytes = new byte[count];
        RANDOM.nextBytes(bytes);
        return bytes;
    }
}
