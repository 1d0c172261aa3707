package dev.parley.client;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** How a socket presents its access token: the three forms of the protocol, or none at all. */
public sealed interface Credentials {
    record BearerHeader(String token) implements Credentials {
    }

    /** {@code Sec-WebSocket-Protocol: jwt-auth, jwt.<base64url(token)>}. */
    record Subprotocol(String token) implements Credentials {
        public String encoded() {
            return "jwt." + Base64.getUrlEncoder().withoutPadding().encodeToString(token.getBytes(StandardCharsets.UTF_8));
        }
    }

    record Ticket(String ticket) implements Credentials {
    }

    record None() implements Credentials {
    }
}
