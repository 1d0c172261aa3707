package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.oidc.OidcSignIn;
import dev.parley.server.failure.Failures;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.SetCookie;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sign-in with OpenID Connect providers over HTTP: GET /auth/login?provider=… sends the browser to the provider,
 * GET /auth/callback takes it back and sends it on to the web page with a one-time code in the fragment
 * ({@code /#oauth_code=…}), and POST /auth/exchange {code} turns that code into the contract's token pair. No token
 * ever travels in a URL.
 *
 * <p>The two GET routes are browser navigations. When they fail, a request that accepts {@code text/html} (a browser)
 * is sent to the web page with the error in the fragment ({@code /#oauth_error=<code>&message=<sentence>&request_id=…}),
 * never a stack trace or a raw exception; any other client gets the contract's JSON error body with the status of the
 * error table. The sign-in is tied to the browser that started it by an HttpOnly cookie, so that nobody can finish a
 * sign-in of theirs in someone else's browser.
 */
public final class OidcRoutes implements HttpService {
    private static final Logger LOG = LoggerFactory.getLogger(OidcRoutes.class);

    /** The cookie that ties a sign-in to its browser; it holds a random key whose hash the sign-in keeps. */
    static final String COOKIE = "parley_oidc";
    /** Where the web page lives; the browser comes back here from every sign-in, successful or not. */
    static final String WEB_PAGE = "/";
    private static final HeaderName REFERRER_POLICY = HeaderNames.create("Referrer-Policy");

    private final OidcSignIn signIn;
    private final int trustedProxyHops;
    private final String cookiePath;
    private final boolean secureCookie;

    public OidcRoutes(OidcSignIn signIn, int trustedProxyHops) {
        this.signIn = signIn;
        this.trustedProxyHops = trustedProxyHops;
        Optional<URI> redirect = signIn.redirectUri();
        this.cookiePath = redirect.map(OidcRoutes::parentPath).orElse("/");
        this.secureCookie = redirect.map(uri -> "https".equalsIgnoreCase(uri.getScheme())).orElse(false);
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/auth/login", this::login)
                .get("/auth/callback", this::callback)
                // The path the replaced system also answered on, for providers registered with it.
                .get("/auth/oauth/callback", this::callback)
                .post("/auth/exchange", this::exchange);
    }

    private void login(ServerRequest request, ServerResponse response) {
        try {
            Optional<String> provider = single(request, "provider");
            List<OidcSignIn.Provider> configured = signIn.providers();
            String providerId = provider.orElseGet(() -> configured.size() == 1 ? configured.getFirst().id() : null);
            if (providerId == null) {
                throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                        "The parameter 'provider' is required: say which provider to sign in with.");
            }
            OidcSignIn.Started started = signIn.start(providerId, browserKey(request),
                    Http.clientAddress(request, trustedProxyHops));
            response.headers().addCookie(SetCookie.builder(COOKIE, started.browserKey())
                    .path(cookiePath)
                    .maxAge(OidcSignIn.LOGIN_TTL)
                    .httpOnly(true)
                    .secure(secureCookie)
                    .sameSite(SetCookie.SameSite.LAX)
                    .build());
            redirect(response, started.authorizationUri().toString());
        } catch (ProtocolException e) {
            fail(request, response, e);
        } catch (RuntimeException e) {
            failUnexpectedly(request, response, e);
        }
    }

    private void callback(ServerRequest request, ServerResponse response) {
        try {
            OidcSignIn.Callback callback = new OidcSignIn.Callback(single(request, "state"), single(request, "code"),
                    single(request, "error"), single(request, "iss"), browserKey(request));
            String code = signIn.finish(callback);
            redirect(response, WEB_PAGE + "#oauth_code=" + code);
        } catch (ProtocolException e) {
            fail(request, response, e);
        } catch (RuntimeException e) {
            failUnexpectedly(request, response, e);
        }
    }

    private void exchange(ServerRequest request, ServerResponse response) {
        ObjectNode body = Http.jsonBody(request, AuthRoutes.MAX_BODY_BYTES);
        String code = Http.requireText(body, "code");
        if (code.isBlank()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The field 'code' is required.");
        }
        Http.json(response, 200, AuthRoutes.pair(signIn.exchange(code)));
    }

    private void fail(ServerRequest request, ServerResponse response, ProtocolException e) {
        // The person gets the sentence; the log gets what went wrong, cause by cause, never a token.
        String reason = e.getCause() == null ? e.getMessage() : causes(e.getCause());
        if (e.code() == ErrorCode.ACCESS_DENIED) {
            LOG.info("Sign-in {} failed: {}: {}", request.path().path(), e.code().code(), reason);
        } else {
            LOG.warn("Sign-in {} failed: {}: {}", request.path().path(), e.code().code(), reason);
        }
        if (!isBrowser(request)) {
            Http.error(response, Failures.coded(e, Http.requestId(request)));
            return;
        }
        redirectWithError(request, response, e.code(), e.getMessage());
    }

    private void failUnexpectedly(ServerRequest request, ServerResponse response, RuntimeException e) {
        if (!isBrowser(request)) {
            throw e;
        }
        LOG.error("request {} {} failed", request.prologue().method().text(), request.path().path(), e);
        redirectWithError(request, response, ErrorCode.INTERNAL,
                "Something went wrong on our side; quote the request id if you report it.");
    }

    private static String causes(Throwable failure) {
        StringBuilder text = new StringBuilder();
        int depth = 0;
        for (Throwable t = failure; t != null && depth < 5; t = t.getCause(), depth++) {
            text.append(depth == 0 ? "" : " <- ").append(t.getClass().getSimpleName()).append(": ")
                    .append(t.getMessage());
        }
        return text.toString();
    }

    private static void redirectWithError(ServerRequest request, ServerResponse response, ErrorCode code,
                                          String message) {
        redirect(response, WEB_PAGE + "#oauth_error=" + code.code()
                + "&message=" + URLEncoder.encode(message, StandardCharsets.UTF_8)
                + "&request_id=" + URLEncoder.encode(Http.requestId(request), StandardCharsets.UTF_8));
    }

    private static void redirect(ServerResponse response, String location) {
        response.status(Status.FOUND_302);
        response.header(HeaderNames.LOCATION, location);
        response.header(HeaderNames.CACHE_CONTROL, "no-store");
        // The provider's page and ours must not learn each other's URLs (codes, states) through Referer.
        response.header(REFERRER_POLICY, "no-referrer");
        response.send();
    }

    /** A browser navigation asks for HTML first; API clients and scripts do not. */
    private static boolean isBrowser(ServerRequest request) {
        return request.headers().values(HeaderNames.ACCEPT).stream()
                .anyMatch(value -> value.toLowerCase(Locale.ROOT).contains("text/html"));
    }

    private static Optional<String> browserKey(ServerRequest request) {
        return request.headers().cookies().first(COOKIE).asOptional();
    }

    /** A query parameter given at most once (OAuth 2.0 forbids repeating one; a repeat smells of tampering). */
    private static Optional<String> single(ServerRequest request, String name) {
        List<String> values = request.query().all(name, List::of);
        if (values.size() > 1) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The parameter '" + name + "' is repeated.",
                    Map.of());
        }
        return values.stream().findFirst();
    }

    /** The directory of the callback path: {@code /auth/callback} gives {@code /auth}, where login lives too. */
    private static String parentPath(URI redirect) {
        String path = redirect.getPath() == null ? "" : redirect.getPath();
        int slash = path.lastIndexOf('/');
        return slash <= 0 ? "/" : path.substring(0, slash);
    }
}
