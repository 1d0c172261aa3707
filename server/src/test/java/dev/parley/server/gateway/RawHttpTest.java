package dev.parley.server.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import dev.parley.server.testing.Servers;
import dev.parley.server.testing.TestApp;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Requests that break HTTP before any route sees them, written byte by byte: each gets one answer with the
 * contract's JSON error body, and a connection whose next bytes cannot be trusted is closed after it.
 */
class RawHttpTest {
    @RegisterExtension
    static final Servers servers = new Servers();

    private static TestApp app;

    @BeforeAll
    static void start() {
        app = servers.start(Map.of());
    }

    /** What came back on one connection: every byte until the server closed it, or until a 3 s silence. */
    private record Exchange(String text, boolean closedByServer) {
        int status() {
            return Integer.parseInt(text.substring(9, 12));
        }

        int responses() {
            return (int) Pattern.compile("HTTP/1\\.1 \\d{3} ").matcher(text).results().count();
        }

        JsonNode error() {
            String body = text.substring(text.indexOf("\r\n\r\n") + 4);
            return Json.parse(body).path("error");
        }

        String header(String name) {
            for (String line : text.substring(0, text.indexOf("\r\n\r\n")).split("\r\n")) {
                if (line.regionMatches(true, 0, name + ":", 0, name.length() + 1)) {
                    return line.substring(name.length() + 1).strip();
                }
            }
            return null;
        }
    }

    private static Exchange exchange(byte[] request) {
        try (Socket socket = new Socket("127.0.0.1", app.app().port())) {
            socket.setSoTimeout(3000);
            socket.getOutputStream().write(request);
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = in.read(buffer)) != -1; ) {
                    out.write(buffer, 0, n);
                }
                return new Exchange(out.toString(StandardCharsets.ISO_8859_1), true);
            } catch (SocketTimeoutException e) {
                return new Exchange(out.toString(StandardCharsets.ISO_8859_1), false);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Exchange exchange(String request) {
        return exchange(request.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static void assertCoded(Exchange exchange, int status, String code) {
        assertThat(exchange.responses()).as(exchange.text()).isEqualTo(1);
        assertThat(exchange.status()).as(exchange.text()).isEqualTo(status);
        assertThat(exchange.header("Content-Type")).isEqualTo("application/json");
        assertThat(exchange.error().path("code").asText()).isEqualTo(code);
        assertThat(exchange.error().path("request_id").asText()).isEqualTo(exchange.header("X-Request-Id"));
        assertThat(exchange.closedByServer()).as("the connection is closed after the answer").isTrue();
    }

    @Test
    void oversizedHeadersAre431() {
        assertCoded(exchange("GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + "a".repeat(65_536)
                + "\r\n\r\n"), 431, "invalid_request");
    }

    @Test
    void aLongTokenWithinTheHeaderLimitIs401() {
        Exchange exchange = exchange("GET /auth/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "
                + "a".repeat(10_000) + "\r\n\r\n");
        assertThat(exchange.status()).isEqualTo(401);
        assertThat(exchange.error().path("code").asText()).isEqualTo("invalid_token");
    }

    @Test
    void anIllegalMethodIs400() {
        assertCoded(exchange("G@T / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "invalid_request");
        assertCoded(exchange("G\0T / HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "invalid_request");
    }

    @Test
    void aRequestLineOverTheLimitIs414() {
        assertCoded(exchange("GET /" + "a".repeat(70_000) + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414, "invalid_request");
    }

    @Test
    void http10Is505() {
        assertCoded(exchange("GET / HTTP/1.0\r\nHost: x\r\n\r\n"), 505, "invalid_request");
    }

    @Test
    void aBadChunkSizeGetsOne400AndTheRestOfTheConnectionIsNotReadAsARequest() {
        String body = "{\"email\":\"a@example.org\",\"password\":\"x\"}";
        assertCoded(exchange("POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nZZ\r\n" + body + "\r\n0\r\n\r\n"
                + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), 400, "invalid_request");
    }

    // 1.2 MB against the default PARLEY_MAX_REQUEST_BYTES of 1 MiB.
    @Test
    void aBodyOverTheRequestLimitIsReadToItsEndAnsweredWith413AndTheConnectionServesTheNextRequest() {
        String chunk = "p".repeat(8192);
        StringBuilder chunked = new StringBuilder("POST /auth/login HTTP/1.1\r\nHost: x\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 150; i++) {
            chunked.append(Integer.toHexString(chunk.length())).append("\r\n").append(chunk).append("\r\n");
        }
        chunked.append("0\r\n\r\n");
        String sized = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 1200000\r\n\r\n" + "p".repeat(1_200_000);
        for (String oversized : List.of(chunked.toString(), sized)) {
            Exchange exchange = exchange(oversized + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
            assertThat(exchange.responses()).as(exchange.text()).isEqualTo(2);
            assertThat(exchange.status()).isEqualTo(413);
            assertThat(exchange.text()).contains("\"code\":\"message_too_large\"");
            assertThat(exchange.text().substring(exchange.text().lastIndexOf("HTTP/1.1 "))).startsWith("HTTP/1.1 200 ");
            assertThat(exchange.closedByServer()).isFalse();
        }
    }

    @Test
    void connectionCloseClosesTheConnectionAfterTheResponse() {
        Exchange exchange = exchange("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(exchange.status()).isEqualTo(200);
        assertThat(exchange.header("Connection")).isEqualTo("close");
        assertThat(exchange.closedByServer()).isTrue();
        // Without it the connection stays open for the next request.
        assertThat(exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").closedByServer()).isFalse();
    }
}
