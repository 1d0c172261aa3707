package dev.parley.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The /auth calls the tests make over real HTTP, and hand-made JWTs for the rejection cases. */
final class AuthFlows {
    static final String PASSWORD = "correct horse battery staple";

    private AuthFlows() {
    }

    static String uniqueEmail() {
        return "user-" + UUID.randomUUID().toString().substring(0, 8) + "@example.org";
    }

    static TestApp.Response register(TestApp app, String email, String password) {
        ObjectNode body = Json.object().put("email", email).put("password", password);
        return app.post("/auth/register", Json.write(body), null);
    }

    /** Registers a fresh account and returns its token pair, failing the test when that does not work. */
    static JsonNode registered(TestApp app) {
        TestApp.Response response = register(app, uniqueEmail(), PASSWORD);
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        return response.json();
    }

    static TestApp.Response login(TestApp app, String email, String password) {
        return login(app, email, password, null);
    }

    static TestApp.Response login(TestApp app, String email, String password, String forwardedFor) {
        ObjectNode body = Json.object().put("email", email).put("password", password);
        HttpRequest.Builder request = app.request("/auth/login", null)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(body)));
        if (forwardedFor != null) {
            request.header("X-Forwarded-For", forwardedFor);
        }
        return app.send(request.build());
    }

    static TestApp.Response refresh(TestApp app, String refreshToken) {
        return app.post("/auth/refresh", Json.write(Json.object().put("refresh_token", refreshToken)), null);
    }

    static TestApp.Response logout(TestApp app, String accessToken) {
        return app.post("/auth/logout", "", accessToken);
    }

    static TestApp.Response me(TestApp app, String accessToken) {
        return app.get("/auth/me", accessToken);
    }

    static String errorCode(TestApp.Response response) {
        return response.json().path("error").path("code").asText();
    }

    /** The decoded header or claims part of a JWT. */
    static ObjectNode part(String jwt, int index) {
        String[] parts = jwt.split("\\.");
        return Json.parseObject(new String(Base64.getUrlDecoder().decode(parts[index]), StandardCharsets.UTF_8));
    }

    /** A JWT with this header and these claims, its signature an HMAC with the given JCA algorithm and key. */
    static String hmacSigned(ObjectNode header, ObjectNode claims, String macAlgorithm, byte[] key) {
        String signingInput = encode(header) + "." + encode(claims);
        try {
            Mac mac = Mac.getInstance(macAlgorithm);
            mac.init(new SecretKeySpec(key, macAlgorithm));
            byte[] signature = mac.doFinal(signingInput.getBytes(StandardCharsets.US_ASCII));
            return signingInput + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(signature);
        } catch (java.security.GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static String unsigned(ObjectNode header, ObjectNode claims) {
        return encode(header) + "." + encode(claims) + ".";
    }

    static ObjectNode header(String alg) {
        return Json.object().put("alg", alg).put("typ", "JWT");
    }

    static byte[] testSecret() {
        return TestApp.SECRET.getBytes(StandardCharsets.UTF_8);
    }

    private static String encode(ObjectNode node) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(Json.write(node).getBytes(StandardCharsets.UTF_8));
    }
}
