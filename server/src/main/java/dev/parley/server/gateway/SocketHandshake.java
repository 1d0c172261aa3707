package dev.parley.server.gateway;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.SocketTickets;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.failure.Failures;
import dev.parley.server.health.Lifecycle;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.Headers;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * Decides, before any socket exists, whether a WebSocket upgrade may go ahead: the origin (403), the credentials
 * (401), the user's socket limit (429), and whether the server is draining (503). Runs as an HTTP filter, which
 * Helidon applies to upgrade requests of WebSocket routes; a refusal is the contract's JSON error body.
 *
 * <p>An accepted upgrade leaves its {@link Accepted} handshake in {@link #PENDING}, a thread-local: Helidon runs the
 * filter, {@code WsListener.onHttpUpgrade} and {@code onOpen} of one connection on that connection's thread, one
 * after the other, so the listener picks the handshake up there (and checks that it belongs to the same
 * connection). The filter sets or clears it on every upgrade request, so a value never outlives its connection's
 * next request.
 */
final class SocketHandshake {
    static final Set<String> PATHS = Set.of("/ws", "/api/v1/websocket");
    static final HeaderName PROTOCOL = HeaderNames.create("Sec-WebSocket-Protocol");
    static final String JWT_AUTH = "jwt-auth";
    static final String BEARER = "bearer";
    static final ThreadLocal<Accepted> PENDING = new ThreadLocal<>();

    /**
     * An upgrade that passed every check: who it is, the subprotocol to select (or null), and the connection and
     * path it was checked for.
     */
    record Accepted(Principal principal, String connectionId, String subprotocol, String socketKey, String path,
                    String method) {
    }

    private final TokenVerifier verifier;
    private final SocketTickets tickets;
    private final SocketRegistry registry;
    private final Origins origins;
    private final Lifecycle lifecycle;
    private final SocketMetrics metrics;

    SocketHandshake(TokenVerifier verifier, SocketTickets tickets, SocketRegistry registry, Origins origins,
                    Lifecycle lifecycle, SocketMetrics metrics) {
        this.verifier = verifier;
        this.tickets = tickets;
        this.registry = registry;
        this.origins = origins;
        this.lifecycle = lifecycle;
        this.metrics = metrics;
    }

    static boolean isUpgrade(RoutingRequest request) {
        return PATHS.contains(request.path().path())
                && request.headers().first(HeaderNames.UPGRADE).map(v -> v.equalsIgnoreCase("websocket")).orElse(false);
    }

    void filter(FilterChain chain, RoutingRequest request, RoutingResponse response) {
        PENDING.remove(); // on every request: a handshake never outlives the request that made it
        if (!isUpgrade(request)) {
            chain.proceed();
            return;
        }
        Accepted accepted;
        try {
            accepted = check(request);
        } catch (ProtocolException e) {
            metrics.refused(e.code().code());
            Http.error(response, Failures.coded(e, Http.requestId(request)));
            return;
        }
        PENDING.set(accepted);
        chain.proceed();
    }

    private Accepted check(RoutingRequest request) {
        if (lifecycle.draining()) {
            throw new ProtocolException(ErrorCode.NOT_READY, "The server is shutting down; connect again in a moment.");
        }
        Headers headers = request.headers();
        Optional<String> origin = headers.first(HeaderNames.ORIGIN);
        if (origin.isPresent() && !origins.allows(origin.get(), headers.first(HeaderNames.HOST).orElse(null))) {
            throw new ProtocolException(ErrorCode.FORBIDDEN_ORIGIN, "Sockets may not be opened from this origin.");
        }
        List<String> offered = offeredProtocols(headers);
        Credentials credentials = credentials(request, offered);
        String connectionId = UUID.randomUUID().toString();
        if (!registry.reserve(credentials.principal().userId(), connectionId)) {
            throw new ProtocolException(ErrorCode.TOO_MANY_CONNECTIONS,
                    "This account has too many open sockets; close one first.");
        }
        String socketKey = request.serverSocketId() + " " + request.socketId();
        return new Accepted(credentials.principal(), connectionId, select(offered, credentials.fromEntry()), socketKey,
                request.path().path(), credentials.method());
    }

    private record Credentials(Principal principal, String method, String fromEntry) {
    }

    /** Finds the credentials in the contract's order; the first form present decides, with no falling through. */
    private Credentials credentials(RoutingRequest request, List<String> offered) {
        Optional<String> authorization = request.headers().first(HeaderNames.AUTHORIZATION);
        if (authorization.isPresent()) {
            String value = authorization.get().trim();
            if (!value.regionMatches(true, 0, "Bearer ", 0, 7) || value.substring(7).isBlank()) {
                throw new ProtocolException(ErrorCode.UNAUTHORIZED,
                        "The Authorization header must be 'Bearer <access token>'.");
            }
            return new Credentials(verifier.verifyAccess(value.substring(7).trim()), "authorization", null);
        }
        for (String entry : offered) {
            for (String prefix : List.of("jwt.", "jwt-auth.", "bearer.")) {
                if (entry.startsWith(prefix)) {
                    String token = tokenOf(entry.substring(prefix.length()));
                    String family = prefix.startsWith(BEARER) ? BEARER : JWT_AUTH;
                    return new Credentials(verifier.verifyAccess(token), "subprotocol", family);
                }
            }
        }
        Optional<String> ticket = request.query().first("ticket").asOptional();
        if (ticket.isPresent()) {
            return new Credentials(tickets.redeem(ticket.get()), "ticket", null);
        }
        throw new ProtocolException(ErrorCode.UNAUTHORIZED, "Open the socket with an access token: "
                + "'Authorization: Bearer <token>', 'Sec-WebSocket-Protocol: jwt-auth, jwt.<base64url token>', "
                + "or '?ticket=' from POST /api/websocket/ticket.");
    }

    /** A token from a subprotocol entry: base64url of the JWT, or (bearer only in the contract) the JWT itself. */
    static String tokenOf(String encoded) {
        if (encoded.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_TOKEN, "The subprotocol entry carries no token.");
        }
        if (encoded.indexOf('.') >= 0) {
            return encoded; // a raw JWT: base64url never contains '.'
        }
        try {
            String padded = encoded + "=".repeat((4 - encoded.length() % 4) % 4);
            return new String(Base64.getUrlDecoder().decode(padded), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.INVALID_TOKEN, "The subprotocol token is not base64url.");
        }
    }

    static List<String> offeredProtocols(Headers headers) {
        List<String> offered = new ArrayList<>();
        for (String value : headers.all(PROTOCOL, List::of)) {
            for (String part : value.split(",")) {
                String trimmed = part.trim();
                if (!trimmed.isEmpty()) {
                    offered.add(trimmed);
                }
            }
        }
        return offered;
    }

    /**
     * The subprotocol to select: {@code jwt-auth} or {@code bearer} when the client offered that bare name (the one
     * matching its token entry first), never a token-bearing entry, and none when neither bare name was offered.
     */
    static String select(List<String> offered, String tokenFamily) {
        if (tokenFamily != null && offered.contains(tokenFamily)) {
            return tokenFamily;
        }
        for (String entry : offered) {
            if (entry.equals(JWT_AUTH) || entry.equals(BEARER)) {
                return entry;
            }
        }
        return null;
    }

    /** The JSON body of a refusal that Helidon itself answers (its origin check runs before the filter). */
    static String forbiddenOriginBody() {
        return dev.parley.protocol.ErrorBody.http(ErrorCode.FORBIDDEN_ORIGIN, "Sockets may not be opened from this origin.",
                Map.of(), Failures.newRequestId());
    }
}
