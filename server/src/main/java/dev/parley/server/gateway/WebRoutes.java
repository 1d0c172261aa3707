package dev.parley.server.gateway;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The chat web page: {@code GET /} (and {@code /index.html}) and its static assets under
 * {@code /assets/<version>/<name>}, read once from the classpath folder {@code web/}.
 *
 * <p>Caching: the page itself is {@code no-cache} with an ETag, so a browser always asks and usually gets a 304; the
 * assets live under a version that is a hash of all of their contents, so they are cached for a year as immutable
 * and a new build changes every asset URL at once. The modules import each other by relative path, so they resolve
 * inside the same version. A request for another version (an old page during a rolling deploy) still gets today's
 * file, but with {@code no-cache}, so nothing stale is pinned.
 *
 * <p>Every answer carries a strict Content-Security-Policy: scripts, styles and images only from this origin (no
 * inline script or style), sockets only to this host, no framing, no plugins, and Trusted Types required, so the
 * page cannot assign HTML strings to the DOM at all.
 */
public final class WebRoutes implements HttpService {
    static final String ROOT = "web";
    static final String ASSETS = "assets";
    static final String VERSION_PLACEHOLDER = "{{assets}}";
    static final String PAGE_CACHE = "no-cache";
    static final String ASSET_CACHE = "public, max-age=31536000, immutable";
    static final String UNVERSIONED_ASSET_CACHE = "no-cache";
    private static final HeaderName CSP = HeaderNames.create("Content-Security-Policy");
    private static final HeaderName REFERRER_POLICY = HeaderNames.create("Referrer-Policy");
    private static final HeaderName FRAME_OPTIONS = HeaderNames.create("X-Frame-Options");
    private static final HeaderName OPENER_POLICY = HeaderNames.create("Cross-Origin-Opener-Policy");
    private static final HeaderName PERMISSIONS_POLICY = HeaderNames.create("Permissions-Policy");
    private static final Pattern ASSET_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*\\.[a-z0-9]{1,12}");
    private static final Pattern HOST = Pattern.compile(
            "(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]{2,45}\\])(?::[0-9]{1,5})?");
    private static final Map<String, String> TYPES = Map.ofEntries(
            Map.entry("html", "text/html; charset=utf-8"),
            Map.entry("js", "text/javascript; charset=utf-8"),
            Map.entry("mjs", "text/javascript; charset=utf-8"),
            Map.entry("css", "text/css; charset=utf-8"),
            Map.entry("svg", "image/svg+xml"),
            Map.entry("png", "image/png"),
            Map.entry("ico", "image/x-icon"),
            Map.entry("json", "application/json"),
            Map.entry("webmanifest", "application/manifest+json"),
            Map.entry("txt", "text/plain; charset=utf-8"));

    /** One file ready to send: its bytes, content type and strong ETag. */
    record Resource(byte[] bytes, String contentType, String etag) {
        static Resource of(String name, byte[] bytes) {
            return new Resource(bytes, WebRoutes.contentType(name), "\"" + hash(List.of(bytes)).substring(0, 32) + "\"");
        }
    }

    private final String version;
    private final Resource page;
    private final Map<String, Resource> assets;
    private final Optional<URI> publicUrl;

    private WebRoutes(String version, Resource page, Map<String, Resource> assets, Optional<URI> publicUrl) {
        this.version = version;
        this.page = page;
        this.assets = assets;
        this.publicUrl = publicUrl;
    }

    /**
     * Loads the page and its assets from the classpath.
     *
     * @param publicUrl the server's public URL when configured (PARLEY_PUBLIC_URL): its socket origin is allowed too
     */
    public static WebRoutes fromClasspath(Optional<URI> publicUrl) {
        Map<String, byte[]> files = readAssets();
        List<byte[]> parts = new java.util.ArrayList<>();
        files.forEach((name, bytes) -> {
            parts.add(name.getBytes(StandardCharsets.UTF_8));
            parts.add(bytes);
        });
        String version = hash(parts).substring(0, 12);
        Map<String, Resource> assets = new TreeMap<>();
        files.forEach((name, bytes) -> assets.put(name, Resource.of(name, bytes)));
        String html = new String(readResource(ROOT + "/index.html"), StandardCharsets.UTF_8)
                .replace(VERSION_PLACEHOLDER, "/" + ASSETS + "/" + version);
        Resource page = Resource.of("index.html", html.getBytes(StandardCharsets.UTF_8));
        return new WebRoutes(version, page, Map.copyOf(assets), publicUrl);
    }

    /** The version segment of asset URLs: a hash of every asset's name and content. */
    public String version() {
        return version;
    }

    @Override
    public void routing(HttpRules rules) {
        for (String path : List.of("/", "/index.html")) {
            rules.get(path, (request, response) -> send(request, response, page, PAGE_CACHE));
            rules.head(path, (request, response) -> send(request, response, page, PAGE_CACHE));
        }
        rules.get("/" + ASSETS + "/{version}/{name}", this::asset);
        rules.head("/" + ASSETS + "/{version}/{name}", this::asset);
    }

    private void asset(ServerRequest request, ServerResponse response) {
        String name = request.path().pathParameters().get("name");
        Resource resource = ASSET_NAME.matcher(name).matches() ? assets.get(name) : null;
        if (resource == null) {
            throw new ProtocolException(ErrorCode.NOT_FOUND, "There is no such file.");
        }
        boolean current = version.equals(request.path().pathParameters().get("version"));
        send(request, response, resource, current ? ASSET_CACHE : UNVERSIONED_ASSET_CACHE);
    }

    private void send(ServerRequest request, ServerResponse response, Resource resource, String cacheControl) {
        securityHeaders(request, response);
        response.header(HeaderNames.CACHE_CONTROL, cacheControl);
        response.header(HeaderNames.ETAG, resource.etag());
        if (matches(request.headers().values(HeaderNames.IF_NONE_MATCH), resource.etag())) {
            response.status(Status.NOT_MODIFIED_304).send();
            return;
        }
        response.header(HeaderNames.CONTENT_TYPE, resource.contentType());
        if (request.prologue().method() == Method.HEAD) {
            response.header(HeaderNames.CONTENT_LENGTH, Integer.toString(resource.bytes().length));
            response.send();
            return;
        }
        response.send(resource.bytes());
    }

    private void securityHeaders(ServerRequest request, ServerResponse response) {
        response.header(CSP, contentSecurityPolicy(request.headers().first(HeaderNames.HOST).orElse(null), publicUrl));
        response.header(HeaderNames.X_CONTENT_TYPE_OPTIONS, "nosniff");
        response.header(REFERRER_POLICY, "no-referrer");
        response.header(FRAME_OPTIONS, "DENY");
        response.header(OPENER_POLICY, "same-origin");
        response.header(PERMISSIONS_POLICY, "camera=(), microphone=(), geolocation=(), payment=()");
    }

    /**
     * The policy for a request to {@code host}: sockets may go to that host only (ws and wss, so it holds behind a
     * TLS-terminating proxy), plus the public URL's host when one is configured. A Host header that is not a plain
     * host[:port] is left out, and 'self' alone remains.
     */
    static String contentSecurityPolicy(String host, Optional<URI> publicUrl) {
        StringBuilder connect = new StringBuilder("'self'");
        if (host != null && HOST.matcher(host).matches()) {
            String h = host.toLowerCase(Locale.ROOT);
            connect.append(" ws://").append(h).append(" wss://").append(h);
        }
        publicUrl.map(URI::getRawAuthority).filter(a -> HOST.matcher(a).matches()).ifPresent(authority -> {
            String a = authority.toLowerCase(Locale.ROOT);
            if (connect.indexOf("//" + a + " ") < 0 && !connect.toString().endsWith("//" + a)) {
                connect.append(" ws://").append(a).append(" wss://").append(a);
            }
        });
        return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
                + "manifest-src 'self'; connect-src " + connect + "; base-uri 'none'; form-action 'self'; "
                + "frame-ancestors 'none'; object-src 'none'; require-trusted-types-for 'script'; trusted-types 'none'";
    }

    /** Whether an If-None-Match header (a list of tags, weak ones included, or *) matches the tag. */
    static boolean matches(List<String> ifNoneMatch, String etag) {
        for (String header : ifNoneMatch) {
            for (String candidate : header.split(",")) {
                String tag = candidate.trim();
                if (tag.equals("*")) {
                    return true;
                }
                if (tag.startsWith("W/")) {
                    tag = tag.substring(2);
                }
                if (tag.equals(etag)) {
                    return true;
                }
            }
        }
        return false;
    }

    static String contentType(String name) {
        int dot = name.lastIndexOf('.');
        String extension = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
        return TYPES.getOrDefault(extension, "application/octet-stream");
    }

    private static String hash(List<byte[]> parts) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            for (byte[] part : parts) {
                digest.update(part);
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static byte[] readResource(String name) {
        return BundledResources.read(name, "The web page resource " + name + " is missing from the classpath");
    }

    /** Every file directly in web/assets, by name, sorted (so the version hash does not depend on listing order). */
    private static Map<String, byte[]> readAssets() {
        String folder = ROOT + "/" + ASSETS;
        URL url = WebRoutes.class.getClassLoader().getResource(folder);
        if (url == null) {
            throw new IllegalStateException("The web assets folder " + folder + " is missing from the classpath");
        }
        try {
            URI uri = url.toURI();
            if ("jar".equals(uri.getScheme())) {
                try (FileSystem jar = openJar(uri)) {
                    return list(jar.getPath("/" + folder));
                } catch (UnsupportedOperationException e) {
                    // the file system was already open elsewhere and cannot be closed here
                    return list(FileSystems.getFileSystem(uri).getPath("/" + folder));
                }
            }
            return list(Path.of(uri));
        } catch (URISyntaxException | IOException e) {
            throw new IllegalStateException("Cannot read the web assets from " + url, e);
        }
    }

    private static FileSystem openJar(URI uri) throws IOException {
        try {
            return FileSystems.newFileSystem(uri, Map.of());
        } catch (FileSystemAlreadyExistsException e) {
            throw new UnsupportedOperationException(e);
        }
    }

    private static Map<String, byte[]> list(Path folder) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path entry : entries.toList()) {
                String name = entry.getFileName().toString().replace("/", "");
                if (Files.isRegularFile(entry) && ASSET_NAME.matcher(name).matches()) {
                    files.put(name, Files.readAllBytes(entry));
                }
            }
        }
        return files;
    }
}
