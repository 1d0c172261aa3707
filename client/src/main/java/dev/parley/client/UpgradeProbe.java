package dev.parley.client;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;

/**
 * One WebSocket opening handshake sent by hand over a plain (or TLS) socket, to see exactly how a server refuses an
 * upgrade: status, headers and body. {@link java.net.http.WebSocket} reports a refused upgrade without its body, and
 * the protocol promises a JSON error body there.
 *
 * <p>When the server switches protocols (101) the connection is dropped at once without a close handshake: the
 * probe only wants to know that the upgrade was accepted.
 */
public final class UpgradeProbe {
    /** What the server answered: the status, the headers (names in lower case) and the body, read up to 64 KiB. */
    public record Answer(int status, Map<String, List<String>> headers, String body, Duration elapsed) {
        public boolean upgraded() {
            return status == 101;
        }

        public String header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null || values.isEmpty() ? null : values.getFirst();
        }
    }

    private static final int MAX_BODY_BYTES = 64 * 1024;
    private static final SecureRandom RANDOM = new SecureRandom();

    private UpgradeProbe() {
    }

    /**
     * Sends {@code GET path} with the upgrade headers of RFC 6455 plus {@code headers} to the host of {@code base}
     * ({@code http}/{@code ws} in the clear, {@code https}/{@code wss} over TLS with the host name verified).
     */
    public static Answer attempt(URI base, String path, Map<String, String> headers, Duration timeout) throws IOException {
        String scheme = base.getScheme().toLowerCase(Locale.ROOT);
        boolean tls = scheme.equals("https") || scheme.equals("wss");
        String host = base.getHost();
        int port = base.getPort() != -1 ? base.getPort() : tls ? 443 : 80;
        String prefix = base.getRawPath() == null ? "" : base.getRawPath().replaceAll("/+$", "");
        long started = System.nanoTime();
        try (Socket socket = open(host, port, tls, timeout)) {
            byte[] key = new byte[16];
            RANDOM.nextBytes(key);
            StringBuilder request = new StringBuilder()
                    .append("GET ").append(prefix).append(path).append(" HTTP/1.1\r\n")
                    .append("Host: ").append(host).append(base.getPort() == -1 ? "" : ":" + port).append("\r\n")
                    .append("Upgrade: websocket\r\n")
                    .append("Connection: Upgrade\r\n")
                    .append("Sec-WebSocket-Key: ").append(Base64.getEncoder().encodeToString(key)).append("\r\n")
                    .append("Sec-WebSocket-Version: 13\r\n");
            headers.forEach((name, value) -> request.append(name).append(": ").append(value).append("\r\n"));
            request.append("\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();

            InputStream in = socket.getInputStream();
            String statusLine = readLine(in);
            String[] parts = statusLine.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
                throw new IOException("not an HTTP answer: " + statusLine);
            }
            int status = Integer.parseInt(parts[1]);
            Map<String, List<String>> answerHeaders = new LinkedHashMap<>();
            for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    answerHeaders.computeIfAbsent(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                            .add(line.substring(colon + 1).trim());
                }
            }
            String body = status == 101 ? "" : readBody(in, answerHeaders);
            return new Answer(status, answerHeaders, body, Duration.ofNanos(System.nanoTime() - started));
        }
    }

    private static Socket open(String host, int port, boolean tls, Duration timeout) throws IOException {
        int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        Socket plain = new Socket();
        try {
            plain.connect(new InetSocketAddress(host, port), millis);
            plain.setSoTimeout(millis);
            if (!tls) {
                return plain;
            }
            SSLSocket secure = (SSLSocket) ((SSLSocketFactory) SSLSocketFactory.getDefault())
                    .createSocket(plain, host, port, true);
            SSLParameters parameters = secure.getSSLParameters();
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
            parameters.setServerNames(List.of(new SNIHostName(host)));
            secure.setSSLParameters(parameters);
            secure.startHandshake();
            return secure;
        } catch (IOException | RuntimeException e) {
            plain.close();
            throw e;
        }
    }

    private static String readBody(InputStream in, Map<String, List<String>> headers) throws IOException {
        List<String> encoding = headers.getOrDefault("transfer-encoding", List.of());
        List<String> length = headers.getOrDefault("content-length", List.of());
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (encoding.stream().anyMatch(value -> value.toLowerCase(Locale.ROOT).contains("chunked"))) {
            while (body.size() < MAX_BODY_BYTES) {
                String sizeLine = readLine(in);
                int semicolon = sizeLine.indexOf(';');
                int size = Integer.parseInt((semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
                if (size == 0) {
                    break;
                }
                copy(in, body, size);
                readLine(in);
            }
        } else if (!length.isEmpty()) {
            copy(in, body, (int) Math.min(MAX_BODY_BYTES, Long.parseLong(length.getFirst())));
        } else {
            byte[] buffer = new byte[4096];
            for (int n = in.read(buffer); n > 0 && body.size() < MAX_BODY_BYTES; n = in.read(buffer)) {
                body.write(buffer, 0, n);
            }
        }
        return body.toString(StandardCharsets.UTF_8);
    }

    private static void copy(InputStream in, ByteArrayOutputStream out, int count) throws IOException {
        byte[] bytes = in.readNBytes(count);
        if (bytes.length < count) {
            throw new EOFException("the body ended after " + bytes.length + " of " + count + " bytes");
        }
        out.write(bytes);
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b == -1) {
                if (line.size() == 0) {
                    throw new EOFException("the connection closed before the answer was complete");
                }
                break;
            }
            if (line.size() > 16 * 1024) {
                throw new IOException("a header line is longer than 16 KiB");
            }
            line.write(b);
        }
        String text = line.toString(StandardCharsets.ISO_8859_1);
        return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
    }
}
