package dev.parley.server.auth.oidc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.TestApp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A browser, as far as sign-in needs one: it opens one URL at a time (redirects are followed by the test, step by
 * step, so that each can be looked at), asks for HTML first as browsers do on navigation, keeps the cookies the app
 * sets and sends them back to it, and resolves the app's public host name ({@value #PUBLIC_ORIGIN}) to the app on its
 * random port, as a hosts-file entry would. Every URL it opens is recorded.
 */
final class Browser {
    static final String PUBLIC_ORIGIN = "http://parley.test";
    static final String REDIRECT_URI = PUBLIC_ORIGIN + "/auth/callback";
    private static final String ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    private final TestApp app;
    private final HttpClient http = HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final Map<String, String> cookies = new ConcurrentHashMap<>();
    private final List<String> setCookieHeaders = new CopyOnWriteArrayList<>();
    private final List<String> visited = new CopyOnWriteArrayList<>();

    Browser(TestApp app) {
        this.app = app;
    }

    /** Opens one URL: absolute, or a path on the app. */
    HttpResponse<String> open(String url) {
        visited.add(url);
        boolean toApp = url.startsWith("/") || url.startsWith(PUBLIC_ORIGIN + "/");
        String target = url.startsWith("/") ? app.baseUrl() + url
                : toApp ? app.baseUrl() + url.substring(PUBLIC_ORIGIN.length()) : url;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(target))
                .timeout(Duration.ofSeconds(20))
                .header("Accept", ACCEPT)
                .GET();
        if (toApp && !cookies.isEmpty()) {
            request.header("Cookie", String.join("; ",
                    cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList()));
        }
        try {
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (toApp) {
                response.headers().allValues("Set-Cookie").forEach(this::keep);
            }
            return response;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Opens the URL and answers where it redirects to, failing the test when it does not redirect. */
    String redirectOf(String url) {
        HttpResponse<String> response = open(url);
        assertThat(response.statusCode()).as("%s answered %s", url, response.body()).isEqualTo(302);
        return response.headers().firstValue("Location").orElseThrow();
    }

    /** Opens the URL and follows redirects until one points at the web page ({@code /#…}); answers that one. */
    String navigate(String url) {
        String location = url;
        for (int hop = 0; hop < 10; hop++) {
            location = redirectOf(location);
            if (location.startsWith("/#") || location.startsWith(PUBLIC_ORIGIN + "/#")) {
                return location;
            }
        }
        throw new AssertionError("too many redirects, last " + location);
    }

    /** Starts a sign-in and lets the provider consent; answers the callback URL without opening it. */
    String consentAt(String loginPath) {
        String provider = redirectOf(loginPath);
        assertThat(provider).doesNotStartWith(PUBLIC_ORIGIN).doesNotStartWith("/");
        String callback = redirectOf(provider);
        assertThat(callback).startsWith(REDIRECT_URI + "?");
        return callback;
    }

    /** The parameters in a web page location's fragment, decoded as the page decodes them (URLSearchParams). */
    static Map<String, String> fragment(String location) {
        assertThat(location).startsWith("/#");
        return FakeOpenIdProvider.form(location.substring(2));
    }

    List<String> visited() {
        return visited;
    }

    List<String> setCookieHeaders() {
        return setCookieHeaders;
    }

    void forgetCookies() {
        cookies.clear();
    }

    private void keep(String header) {
        setCookieHeaders.add(header);
        String pair = header.split(";", 2)[0];
        int eq = pair.indexOf('=');
        String name = pair.substring(0, eq).trim();
        String value = pair.substring(eq + 1).trim();
        boolean expired = header.toLowerCase(Locale.ROOT).contains("max-age=0");
        if (expired || value.isEmpty()) {
            cookies.remove(name);
        } else {
            cookies.put(name, URLDecoder.decode(value, StandardCharsets.UTF_8));
        }
    }
}
