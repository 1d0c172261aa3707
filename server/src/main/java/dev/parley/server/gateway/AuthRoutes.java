package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.protocol.ServerEvent;
import dev.parley.server.auth.Accounts;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenPair;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.auth.User;
import dev.parley.server.auth.oidc.OidcSignIn;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.util.List;
import java.util.Optional;

/**
 * The /auth routes of the contract: register, login, refresh, logout, me, config and dev login (sign-in with
 * OpenID providers is {@link OidcRoutes}). Request bodies are
 * small JSON objects (at most {@value #MAX_BODY_BYTES} bytes); answers are token pairs or the error bodies of the
 * contract.
 *
 * <p>Over HTTP a request without credentials gets 401 {@code unauthorized}; credentials that are present but not a
 * valid access token get 401 {@code invalid_token}, or the more precise {@code token_expired} (refresh and retry) or
 * {@code token_revoked} (sign in again).
 */
public final class AuthRoutes implements HttpService {
    static final int MAX_BODY_BYTES = 16 * 1024;

    private final Accounts accounts;
    private final TokenVerifier verifier;
    private final int trustedProxyHops;
    private final List<OidcSignIn.Provider> providers;

    public AuthRoutes(Accounts accounts, TokenVerifier verifier, int trustedProxyHops) {
        this(accounts, verifier, trustedProxyHops, List.of());
    }

    /** With the sign-in providers that GET /auth/config lists (see {@link OidcRoutes}). */
    public AuthRoutes(Accounts accounts, TokenVerifier verifier, int trustedProxyHops,
                      List<OidcSignIn.Provider> providers) {
        this.accounts = accounts;
        this.verifier = verifier;
        this.trustedProxyHops = trustedProxyHops;
        this.providers = List.copyOf(providers);
    }

    @Override
    public void routing(HttpRules rules) {
        rules.post("/auth/register", this::register)
                .post("/auth/login", this::login)
                .post("/auth/refresh", this::refresh)
                .post("/auth/logout", this::logout)
                .get("/auth/me", this::me)
                .get("/auth/config", this::config)
                .post("/auth/dev/login", this::devLogin);
    }

    private void register(ServerRequest request, ServerResponse response) {
        if (!accounts.settings().registrationOpen()) {
            // Before reading the body: whatever it holds, the answer is the same.
            throw new ProtocolException(ErrorCode.REGISTRATION_CLOSED,
                    "This server does not accept new accounts; ask its operator for one.");
        }
        ObjectNode body = Http.jsonBody(request, MAX_BODY_BYTES);
        String email = Http.requireText(body, "email");
        String password = Http.requireText(body, "password");
        Optional<String> name = Http.optionalText(body, "name");
        Http.json(response, 201, pair(accounts.register(email, password, name,
                Http.clientAddress(request, trustedProxyHops))));
    }

    private void login(ServerRequest request, ServerResponse response) {
        ObjectNode body = Http.jsonBody(request, MAX_BODY_BYTES);
        String email = requireNonEmpty(body, "email");
        String password = requireNonEmpty(body, "password");
        Http.json(response, 200, pair(accounts.login(email, password, Http.clientAddress(request, trustedProxyHops))));
    }

    private void refresh(ServerRequest request, ServerResponse response) {
        ObjectNode body = Http.jsonBody(request, MAX_BODY_BYTES);
        // refreshToken and token: the spellings the replaced system also accepted.
        String token = Http.optionalText(body, "refresh_token")
                .or(() -> Http.optionalText(body, "refreshToken"))
                .or(() -> Http.optionalText(body, "token"))
                .filter(value -> !value.isBlank())
                .orElseThrow(() -> new ProtocolException(ErrorCode.INVALID_REQUEST,
                        "The field 'refresh_token' is required."));
        Http.json(response, 200, pair(accounts.refresh(token)));
    }

    private void logout(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, verifier);
        accounts.logout(principal);
        Http.json(response, 200, Json.object().put("status", "logged_out"));
    }

    private void me(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, verifier);
        User user = accounts.findUser(principal.userId()).orElseThrow(() ->
                new ProtocolException(ErrorCode.UNAUTHORIZED, "The account of this token no longer exists."));
        ObjectNode body = Json.object()
                .put("id", user.id())
                .put("email", user.email())
                .put("name", user.name())
                .put("created_at", ServerEvent.formatTimestamp(user.createdAt()));
        Http.json(response, 200, body);
    }

    private void config(ServerRequest request, ServerResponse response) {
        Accounts.Settings settings = accounts.settings();
        ObjectNode body = Json.object();
        ArrayNode list = body.putArray("providers");
        for (OidcSignIn.Provider provider : providers) {
            list.addObject()
                    .put("id", provider.id())
                    .put("name", provider.name())
                    .put("login_url", "/auth/login?provider=" + provider.id());
        }
        body.put("dev_login", settings.devLogin())
                .put("access_token_ttl_s", settings.accessTokenTtlSeconds())
                .put("registration_open", settings.registrationOpen());
        Http.json(response, 200, body);
    }

    private void devLogin(ServerRequest request, ServerResponse response) {
        if (!accounts.settings().devLogin()) {
            // Before reading the body: with dev login off the route does not exist.
            throw new ProtocolException(ErrorCode.NOT_FOUND, "Not found.");
        }
        ObjectNode body = Http.jsonBody(request, MAX_BODY_BYTES);
        Http.json(response, 200, pair(accounts.devLogin(Http.optionalText(body, "email"))));
    }

    static ObjectNode pair(TokenPair pair) {
        ObjectNode body = Json.object()
                .put("access_token", pair.accessToken())
                .put("refresh_token", pair.refreshToken())
                .put("token_type", "Bearer")
                .put("expires_in", pair.expiresInSeconds());
        body.putObject("user")
                .put("id", pair.user().id())
                .put("email", pair.user().email())
                .put("name", pair.user().name());
        return body;
    }

    private static String requireNonEmpty(JsonNode body, String field) {
        String value = Http.requireText(body, field);
        if (value.isBlank()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field '" + field + "' is required.");
        }
        return value;
    }
}
