package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.SocketTickets;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.config.Config;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;

/** POST /api/websocket/ticket: a single-use, short-lived ticket for opening a socket with {@code ?ticket=}. */
final class TicketRoutes implements HttpService {
    static final int DEFAULT_TTL_SECONDS = 60;
    static final int MIN_TTL_SECONDS = 10;
    static final int MAX_TTL_SECONDS = 300;

    private final SocketTickets tickets;
    private final TokenVerifier verifier;
    private final Config.Server server;

    TicketRoutes(SocketTickets tickets, TokenVerifier verifier, Config.Server server) {
        this.tickets = tickets;
        this.verifier = verifier;
        this.server = server;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.post("/api/websocket/ticket", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            ObjectNode body = Http.jsonBody(request, server.maxRequestBytes());
            int ttl = DEFAULT_TTL_SECONDS;
            JsonNode requested = body.get("ttl_seconds");
            if (requested != null && !requested.isNull()) {
                if (!requested.isIntegralNumber() || requested.asLong() < MIN_TTL_SECONDS
                        || requested.asLong() > MAX_TTL_SECONDS) {
                    throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'ttl_seconds' must be a whole number "
                            + "between " + MIN_TTL_SECONDS + " and " + MAX_TTL_SECONDS + ".");
                }
                ttl = requested.asInt();
            }
            SocketTickets.Issued issued = tickets.issue(principal, Duration.ofSeconds(ttl));
            ObjectNode answer = Json.object();
            answer.put("ticket", issued.ticket());
            answer.put("expires_at", Views.time(issued.expiresAt()));
            answer.put("websocket_url", socketUrl(request) + "?ticket="
                    + URLEncoder.encode(issued.ticket(), StandardCharsets.UTF_8));
            Http.json(response, 201, answer);
        });
    }

    /** The socket URL clients should use: from PARLEY_PUBLIC_URL when set, else from the request's Host. */
    private String socketUrl(ServerRequest request) {
        if (server.publicUrl().isPresent()) {
            URI base = server.publicUrl().get();
            String scheme = "https".equalsIgnoreCase(base.getScheme()) ? "wss" : "ws";
            String path = base.getPath() == null ? "" : base.getPath().replaceAll("/+$", "");
            return scheme + "://" + base.getRawAuthority() + path + "/ws";
        }
        boolean secure = request.isSecure() || request.headers().first(HeaderNames.X_FORWARDED_PROTO)
                .map(proto -> proto.toLowerCase(Locale.ROOT).startsWith("https")).orElse(false);
        String host = request.headers().first(HeaderNames.HOST)
                .orElse(request.localPeer().host() + ":" + request.localPeer().port());
        return (secure ? "wss" : "ws") + "://" + host + "/ws";
    }
}
