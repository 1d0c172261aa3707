package dev.parley.server.auth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.TestApp;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The /auth calls of the auth tests beyond {@link TestUsers} (sign-out, who am I), and hand-made JWTs for the
 * rejection cases.
 */
final class AuthFlows {
    private AuthFlows() {
    }

    static TestApp.Response logout(TestApp app, String accessToken) {
        return app.post("/auth/logout", "", accessToken);
    }

    static TestApp.Response me(TestApp app, String accessToken) {
        return app.get("/auth/me", accessToken);
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
