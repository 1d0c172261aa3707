package dev.parley.server.auth.oidc;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * An OpenID provider on a real socket, speaking the real wire format: a discovery document, an authorization endpoint
 * that "consents" at once and redirects back with a code and the state, a token endpoint that authenticates the
 * client, checks the PKCE verifier against the stored challenge and answers an ID token signed with an RSA key made
 * here, and the key set. Tests choose who signs in next and can make the ID token wrong in one way at a time.
 */
final class FakeOpenIdProvider implements AutoCloseable {
    static final String CLIENT_ID = "parley-test-client";
    static final String CLIENT_SECRET = "parley-test-client-secret-0123456789";

    enum ClientAuth { BASIC, POST }

    /** Who signs in at the provider: {@code emailVerified} may be a boolean, a string or null (claim left out). */
    record Person(String subject, String email, Object emailVerified, String name) {
        static Person verified(String email) {
            return new Person("sub-" + UUID.randomUUID(), email, true, "Ada Lovelace");
        }
    }

    /** What the authorization endpoint stored for a code. */
    private record Grant(String redirectUri, String challenge, String nonce, Person person) {
    }

    private final HttpServer server;
    private final String issuer;
    private final ClientAuth clientAuth;
    private final Map<String, Grant> grants = new ConcurrentHashMap<>();
    private final List<Map<String, String>> authorizeRequests = new CopyOnWriteArrayList<>();
    private final AtomicInteger discoveryRequests = new AtomicInteger();
    private final AtomicInteger keyRequests = new AtomicInteger();
    private final AtomicInteger tokenRequests = new AtomicInteger();
    private final AtomicInteger pkceFailures = new AtomicInteger();
    private volatile RSAKey signingKey;
    /** When set, ID tokens are signed ES256 with it (published beside the RSA key). */
    private volatile ECKey ecKey;
    private volatile String keysCacheControl;
    private volatile Person next;
    private volatile String nextError;
    private volatile Consumer<JWTClaimsSet.Builder> tamper = builder -> { };
    private volatile RSAKey forgedKey;
    private volatile boolean unsigned;
    private volatile boolean hmacWithClientSecret;
    private volatile URI tokenEndpoint;
    private volatile CountDownLatch discoveryGate = new CountDownLatch(0);
    private volatile boolean discoveryBroken;

    private FakeOpenIdProvider(HttpServer server, ClientAuth clientAuth) {
        this.server = server;
        this.issuer = "http://127.0.0.1:" + server.getAddress().getPort();
        this.clientAuth = clientAuth;
        this.signingKey = newKey();
        this.next = Person.verified("ada@example.org");
        this.tokenEndpoint = URI.create(issuer + "/token");
    }

    static FakeOpenIdProvider start() {
        return start(ClientAuth.BASIC);
    }

    static FakeOpenIdProvider start(ClientAuth clientAuth) {
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            FakeOpenIdProvider provider = new FakeOpenIdProvider(server, clientAuth);
            server.createContext("/.well-known/openid-configuration", provider::discovery);
            server.createContext("/authorize", provider::authorize);
            server.createContext("/token", provider::token);
            server.createContext("/jwks", provider::keys);
            server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
            server.start();
            return provider;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A loopback URL where nothing listens: a provider, or one of its endpoints, that is down. */
    static String unreachableUrl() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return "http://127.0.0.1:" + socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String issuer() {
        return issuer;
    }

    /** The environment that configures this provider as {@code id} in the app. */
    Map<String, String> env(String id, String displayName) {
        String prefix = "PARLEY_OIDC_" + id.toUpperCase(java.util.Locale.ROOT) + "_";
        return Map.of(prefix + "ISSUER", issuer, prefix + "CLIENT_ID", CLIENT_ID, prefix + "CLIENT_SECRET",
                CLIENT_SECRET, prefix + "DISPLAY_NAME", displayName);
    }

    /** Who signs in at the next authorization. */
    void nextSignIn(Person person) {
        this.next = person;
    }

    /** The next authorization ends with this error (such as {@code access_denied}) instead of a code. */
    void failNextAuthorization(String error) {
        this.nextError = error;
    }

    /** Changes every later ID token's claims. */
    void tamperWithIdTokens(Consumer<JWTClaimsSet.Builder> change) {
        this.tamper = change;
    }

    /** Signs later ID tokens with a key that is not published, under the published key's id. */
    void signWithUnpublishedKey() {
        this.forgedKey = newKey(signingKey.getKeyID());
    }

    /** Sends later ID tokens unsigned ({@code alg: none}). */
    void sendUnsignedIdTokens() {
        this.unsigned = true;
    }

    /** Signs later ID tokens with HS256 keyed by the client secret, which a client must not accept. */
    void signWithClientSecret() {
        this.hmacWithClientSecret = true;
    }

    /** Replaces the signing key with a new one under a new key id, publishing only the new one. */
    /** Signs from now on with a new P-256 key (ES256) under a new key id; called again, rotates it. */
    void signWithNewEcKey() {
        try {
            this.ecKey = new ECKeyGenerator(Curve.P_256).keyID(UUID.randomUUID().toString()).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The Cache-Control header of the key set from now on (none by default). */
    void cacheKeysFor(String cacheControl) {
        this.keysCacheControl = cacheControl;
    }

    void rotateKey() {
        this.signingKey = newKey();
    }

    /** Advertises a token endpoint where nothing listens. */
    void takeTokenEndpointDown() {
        this.tokenEndpoint = URI.create(unreachableUrl() + "/token");
    }

    /** Holds discovery requests until {@link #releaseDiscovery()}: a provider that does not answer. */
    void stallDiscovery() {
        this.discoveryGate = new CountDownLatch(1);
    }

    void releaseDiscovery() {
        discoveryGate.countDown();
    }

    /** Makes the discovery document answer 503, or answer again. */
    void breakDiscovery(boolean broken) {
        this.discoveryBroken = broken;
    }

    List<Map<String, String>> authorizeRequests() {
        return authorizeRequests;
    }

    int discoveryRequests() {
        return discoveryRequests.get();
    }

    int keyRequests() {
        return keyRequests.get();
    }

    int tokenRequests() {
        return tokenRequests.get();
    }

    int pkceFailures() {
        return pkceFailures.get();
    }

    private void discovery(HttpExchange exchange) throws IOException {
        discoveryRequests.incrementAndGet();
        try {
            if (!discoveryGate.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("discovery was never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        if (discoveryBroken) {
            respond(exchange, 503, "{\"error\":\"temporarily_unavailable\"}");
            return;
        }
        ObjectNode document = Json.object()
                .put("issuer", issuer)
                .put("authorization_endpoint", issuer + "/authorize")
                .put("token_endpoint", tokenEndpoint.toString())
                .put("jwks_uri", issuer + "/jwks");
        document.putArray("response_types_supported").add("code");
        document.putArray("subject_types_supported").add("public");
        document.putArray("id_token_signing_alg_values_supported").add("RS256").add("ES256");
        document.putArray("code_challenge_methods_supported").add("S256");
        document.putArray("scopes_supported").add("openid").add("email").add("profile");
        ArrayNode methods = document.putArray("token_endpoint_auth_methods_supported");
        methods.add(clientAuth == ClientAuth.BASIC ? "client_secret_basic" : "client_secret_post");
        respond(exchange, 200, Json.write(document));
    }

    private void authorize(HttpExchange exchange) throws IOException {
        Map<String, String> query = form(exchange.getRequestURI().getRawQuery());
        authorizeRequests.add(query);
        String redirectUri = query.get("redirect_uri");
        boolean valid = "code".equals(query.get("response_type")) && CLIENT_ID.equals(query.get("client_id"))
                && redirectUri != null && query.getOrDefault("scope", "").contains("openid")
                && "S256".equals(query.get("code_challenge_method")) && query.get("code_challenge") != null;
        if (!valid) {
            respond(exchange, 400, "{\"error\":\"invalid_request\"}");
            return;
        }
        String state = URLEncoder.encode(query.getOrDefault("state", ""), StandardCharsets.UTF_8);
        String error = nextError;
        if (error != null) {
            nextError = null;
            redirect(exchange, redirectUri + "?error=" + error + "&state=" + state);
            return;
        }
        String code = UUID.randomUUID().toString();
        grants.put(code, new Grant(redirectUri, query.get("code_challenge"), query.get("nonce"), next));
        redirect(exchange, redirectUri + "?code=" + code + "&state=" + state);
    }

    private void token(HttpExchange exchange) throws IOException {
        tokenRequests.incrementAndGet();
        Map<String, String> form = form(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        if (!clientAuthenticated(exchange, form)) {
            respond(exchange, 401, "{\"error\":\"invalid_client\"}");
            return;
        }
        Grant grant = grants.remove(form.getOrDefault("code", ""));
        if (!"authorization_code".equals(form.get("grant_type")) || grant == null
                || !grant.redirectUri().equals(form.get("redirect_uri"))) {
            respond(exchange, 400, "{\"error\":\"invalid_grant\"}");
            return;
        }
        String verifier = form.get("code_verifier");
        if (verifier == null || !s256(verifier).equals(grant.challenge())) {
            pkceFailures.incrementAndGet();
            respond(exchange, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"PKCE verification failed\"}");
            return;
        }
        ObjectNode body = Json.object()
                .put("access_token", UUID.randomUUID().toString())
                .put("token_type", "Bearer")
                .put("expires_in", 300)
                .put("id_token", idToken(grant));
        respond(exchange, 200, Json.write(body));
    }

    private void keys(HttpExchange exchange) throws IOException {
        keyRequests.incrementAndGet();
        ECKey ec = ecKey;
        JWKSet keys = ec == null ? new JWKSet(signingKey.toPublicJWK())
                : new JWKSet(List.of(signingKey.toPublicJWK(), ec.toPublicJWK()));
        if (keysCacheControl != null) {
            exchange.getResponseHeaders().set("Cache-Control", keysCacheControl);
        }
        respond(exchange, 200, keys.toString());
    }

    private String idToken(Grant grant) {
        Instant now = Instant.now();
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .subject(grant.person().subject())
                .audience(CLIENT_ID)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofMinutes(5))))
                .claim("nonce", grant.nonce())
                .claim("name", grant.person().name());
        if (grant.person().email() != null) {
            claims.claim("email", grant.person().email());
        }
        if (grant.person().emailVerified() != null) {
            claims.claim("email_verified", grant.person().emailVerified());
        }
        tamper.accept(claims);
        if (unsigned) {
            return new PlainJWT(claims.build()).serialize();
        }
        if (hmacWithClientSecret) {
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims.build());
            try {
                jwt.sign(new MACSigner(CLIENT_SECRET.getBytes(StandardCharsets.UTF_8)));
            } catch (JOSEException e) {
                throw new IllegalStateException(e);
            }
            return jwt.serialize();
        }
        ECKey ec = ecKey;
        if (ec != null && forgedKey == null) {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).keyID(ec.getKeyID())
                    .type(JOSEObjectType.JWT).build(), claims.build());
            try {
                jwt.sign(new ECDSASigner(ec));
            } catch (JOSEException e) {
                throw new IllegalStateException(e);
            }
            return jwt.serialize();
        }
        RSAKey key = forgedKey != null ? forgedKey : signingKey;
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims.build());
        try {
            jwt.sign(new RSASSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
        return jwt.serialize();
    }

    private boolean clientAuthenticated(HttpExchange exchange, Map<String, String> form) {
        if (clientAuth == ClientAuth.POST) {
            return CLIENT_ID.equals(form.get("client_id")) && CLIENT_SECRET.equals(form.get("client_secret"))
                    && exchange.getRequestHeaders().getFirst("Authorization") == null;
        }
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.startsWith("Basic ") || form.containsKey("client_secret")) {
            return false;
        }
        String[] parts = new String(Base64.getDecoder().decode(header.substring(6)), StandardCharsets.UTF_8).split(":", 2);
        return parts.length == 2 && CLIENT_ID.equals(URLDecoder.decode(parts[0], StandardCharsets.UTF_8))
                && CLIENT_SECRET.equals(URLDecoder.decode(parts[1], StandardCharsets.UTF_8));
    }

    static String s256(String verifier) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, String> form(String encoded) {
        Map<String, String> values = new LinkedHashMap<>();
        if (encoded == null || encoded.isEmpty()) {
            return values;
        }
        for (String pair : encoded.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            values.put(name, value);
        }
        return values;
    }

    private static RSAKey newKey() {
        return newKey(UUID.randomUUID().toString());
    }

    private static RSAKey newKey(String keyId) {
        try {
            return new RSAKeyGenerator(2048).keyID(keyId).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void redirect(HttpExchange exchange, String location) throws IOException {
        exchange.getResponseHeaders().add("Location", location);
        exchange.sendResponseHeaders(302, -1);
        exchange.close();
    }

    private static void respond(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        if (!exchange.getResponseHeaders().containsKey("Cache-Control")) {
            exchange.getResponseHeaders().add("Cache-Control", "no-store");
        }
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Override
    public void close() {
        releaseDiscovery();
        server.stop(0);
    }
}
