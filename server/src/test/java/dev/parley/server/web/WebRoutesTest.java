package dev.parley.server.web;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.ClassServer;
import dev.parley.server.testing.TestApp;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The page and its assets over plain HTTP: content types, caching, conditional requests and the security policy. */
class WebRoutesTest {
    private static final Pattern ASSET_URL = Pattern.compile("(?:src|href)=\"(/assets/([0-9a-f]+)/([^\"]+))\"");
    private static final Pattern IMPORT = Pattern.compile("from '\\./([^']+)'");

    @RegisterExtension
    static final ClassServer server = new ClassServer();

    @Test
    void pageIsServedUncachedWithAStrictContentSecurityPolicy() {
        TestApp.Response page = server.app().get("/", null);

        assertThat(page.status()).isEqualTo(200);
        assertThat(page.header("Content-Type")).isEqualTo("text/html; charset=utf-8");
        assertThat(page.header("Cache-Control")).isEqualTo("no-cache");
        assertThat(page.header("ETag")).matches("\"[0-9a-f]{32}\"");
        assertThat(page.header("X-Content-Type-Options")).isEqualTo("nosniff");
        assertThat(page.header("X-Frame-Options")).isEqualTo("DENY");
        assertThat(page.header("Referrer-Policy")).isEqualTo("no-referrer");
        String host = "127.0.0.1:" + server.app().app().port();
        assertThat(page.header("Content-Security-Policy"))
                .contains("default-src 'none'", "script-src 'self';", "style-src 'self';",
                        "connect-src 'self' ws://" + host + " wss://" + host + ";", "frame-ancestors 'none'",
                        "object-src 'none'", "base-uri 'none'", "require-trusted-types-for 'script'")
                .doesNotContain("unsafe-inline", "unsafe-eval", "*");
        assertThat(page.body()).contains("<title>Parley</title>");
        assertThat(server.app().get("/index.html", null).body()).isEqualTo(page.body());
    }

    @Test
    void pageHasNoInlineScriptStyleOrEventHandlers() {
        String html = server.app().get("/", null).body();

        Matcher scripts = Pattern.compile("<script([^>]*)>(.*?)</script>", Pattern.DOTALL).matcher(html);
        int count = 0;
        while (scripts.find()) {
            count++;
            assertThat(scripts.group(1)).contains("type=\"module\"").contains("src=\"/assets/");
            assertThat(scripts.group(2)).isBlank();
        }
        assertThat(count).isEqualTo(1);
        assertThat(html).doesNotContainPattern("(?i)<style").doesNotContainPattern("(?i)\\sstyle=")
                .doesNotContainPattern("(?i)\\son[a-z]+=").doesNotContain("{{assets}}");
    }

    @Test
    void assetsAreVersionedByContentAndCachedForAYear() {
        List<String> urls = assetUrls();
        assertThat(urls).anyMatch(url -> url.endsWith("/app.js")).anyMatch(url -> url.endsWith("/app.css"))
                .anyMatch(url -> url.endsWith("/icon.svg"));
        Set<String> versions = new LinkedHashSet<>();
        for (String url : urls) {
            TestApp.Response asset = server.app().get(url, null);
            assertThat(asset.status()).as(url).isEqualTo(200);
            assertThat(asset.header("Cache-Control")).as(url).isEqualTo("public, max-age=31536000, immutable");
            assertThat(asset.header("ETag")).as(url).isNotBlank();
            assertThat(asset.header("Content-Security-Policy")).as(url).contains("script-src 'self'");
            versions.add(url.split("/")[2]);
        }
        assertThat(versions).hasSize(1);
        assertThat(server.app().get(urls.stream().filter(u -> u.endsWith(".js")).findFirst().orElseThrow(), null)
                .header("Content-Type")).isEqualTo("text/javascript; charset=utf-8");
        assertThat(server.app().get(urls.stream().filter(u -> u.endsWith(".css")).findFirst().orElseThrow(), null)
                .header("Content-Type")).isEqualTo("text/css; charset=utf-8");
        assertThat(server.app().get(urls.stream().filter(u -> u.endsWith(".svg")).findFirst().orElseThrow(), null)
                .header("Content-Type")).isEqualTo("image/svg+xml");
    }

    @Test
    void everyModuleImportResolvesWithinTheSameVersion() {
        String entry = assetUrls().stream().filter(url -> url.endsWith("/app.js")).findFirst().orElseThrow();
        String base = entry.substring(0, entry.lastIndexOf('/') + 1);
        Set<String> seen = new LinkedHashSet<>();
        List<String> queue = new ArrayList<>(List.of("app.js"));
        while (!queue.isEmpty()) {
            String name = queue.removeFirst();
            if (!seen.add(name)) {
                continue;
            }
            TestApp.Response module = server.app().get(base + name, null);
            assertThat(module.status()).as(name).isEqualTo(200);
            Matcher imports = IMPORT.matcher(module.body());
            while (imports.find()) {
                queue.add(imports.group(1));
            }
        }
        assertThat(seen).contains("app.js", "page.js", "signin.js", "live.js", "threads.js", "composer.js", "tools.js",
                "budget.js", "usage.js", "session.js", "socket.js", "runs.js", "conversation.js", "markdown.js",
                "errors.js");
    }

    @Test
    void conditionalRequestsAreAnsweredWithNotModified() {
        TestApp app = server.app();
        TestApp.Response page = app.get("/", null);
        TestApp.Response again = app.send(app.request("/", null).header("If-None-Match", page.header("ETag")).GET()
                .build());
        assertThat(again.status()).isEqualTo(304);
        assertThat(again.body()).isEmpty();
        assertThat(again.header("Cache-Control")).isEqualTo("no-cache");

        String css = assetUrls().stream().filter(url -> url.endsWith(".css")).findFirst().orElseThrow();
        String etag = app.get(css, null).header("ETag");
        TestApp.Response weak = app.send(app.request(css, null).header("If-None-Match", "\"other\", W/" + etag).GET()
                .build());
        assertThat(weak.status()).isEqualTo(304);
        TestApp.Response changed = app.send(app.request(css, null).header("If-None-Match", "\"other\"").GET().build());
        assertThat(changed.status()).isEqualTo(200);
    }

    @Test
    void headAnswersWithTheHeadersOfGet() {
        TestApp app = server.app();
        TestApp.Response get = app.get("/", null);
        TestApp.Response head = app.send(app.request("/", null).method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build());
        assertThat(head.status()).isEqualTo(200);
        assertThat(head.body()).isEmpty();
        assertThat(head.header("Content-Length"))
                .isEqualTo(Integer.toString(get.body().getBytes(StandardCharsets.UTF_8).length));
        assertThat(head.header("ETag")).isEqualTo(get.header("ETag"));
    }

    @Test
    void anOlderVersionGetsTodaysFileWithoutTheLongCache() {
        String css = assetUrls().stream().filter(url -> url.endsWith(".css")).findFirst().orElseThrow();
        String old = css.replaceFirst("/assets/[0-9a-f]+/", "/assets/0123456789ab/");

        TestApp.Response response = server.app().get(old, null);

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("Cache-Control")).isEqualTo("no-cache");
        assertThat(response.body()).isEqualTo(server.app().get(css, null).body());
    }

    @Test
    void unknownFilesAreContractErrorsNotPages() {
        String version = assetUrls().getFirst().split("/")[2];
        for (String path : List.of("/assets/" + version + "/missing.js", "/assets/" + version + "/index.html",
                "/assets/" + version + "/..%2Fapp.js", "/assets/" + version + "/.hidden.js", "/favicon.ico")) {
            TestApp.Response response = server.app().get(path, null);
            assertThat(response.status()).as(path).isEqualTo(404);
            assertThat(response.json().path("error").path("code").asText()).as(path).isEqualTo("not_found");
            assertThat(response.header("Content-Type")).as(path).isEqualTo("application/json");
        }
    }

    @Test
    void aHostHeaderThatIsNotAPlainHostLeavesOnlySelfForSockets() throws IOException {
        String headers = rawGet("evil_host.example");
        assertThat(headers).startsWith("HTTP/1.1 200");
        String policy = headers.lines().filter(line -> line.regionMatches(true, 0, "Content-Security-Policy:", 0, 24))
                .findFirst().orElseThrow();
        assertThat(policy).contains("connect-src 'self';").doesNotContain("evil");

        String named = rawGet("chat.example.org:8443");
        assertThat(named).contains("connect-src 'self' ws://chat.example.org:8443 wss://chat.example.org:8443;");
    }

    /** The response headers of GET / sent with exactly this Host header (java.net.http will not send one). */
    private static String rawGet(String host) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", server.app().app().port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder head = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0) {
                head.append((char) b);
                if (head.length() >= 4 && head.substring(head.length() - 4).equals("\r\n\r\n")) {
                    break;
                }
            }
            return head.toString().strip();
        }
    }

    private static List<String> assetUrls() {
        Matcher matcher = ASSET_URL.matcher(server.app().get("/", null).body());
        List<String> urls = new ArrayList<>();
        while (matcher.find()) {
            urls.add(matcher.group(1));
        }
        return urls;
    }
}
