package dev.parley.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A WebSocket client written against the socket itself, for what java.net.http will not do: read a refused
 * upgrade's status and body, send oversized, binary or non-UTF-8 frames, send and await control frames, and be a
 * client that never reads.
 */
public final class RawSocket implements AutoCloseable {
    public static final int CONTINUATION = 0x0;
    public static final int TEXT = 0x1;
    public static final int BINARY = 0x2;
    public static final int CLOSE = 0x8;
    public static final int PING = 0x9;
    public static final int PONG = 0xA;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** The answer to the upgrade request. */
    public record Handshake(int status, Map<String, String> headers, String body) {
        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /** One frame from the server. */
    public record Frame(int opcode, boolean fin, byte[] payload) {
        public String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        public int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF) : 1005;
        }

        public String closeReason() {
            return payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private Handshake handshake;

    private RawSocket(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Sends an upgrade request to {@code pathAndQuery} with the given extra headers and reads the answer head. */
    public static RawSocket upgrade(int port, String pathAndQuery, Map<String, String> headers) {
        return upgrade(port, pathAndQuery, headers, 0);
    }

    /** The same, with a small receive buffer when {@code receiveBuffer} is positive (a client that reads little). */
    public static RawSocket upgrade(int port, String pathAndQuery, Map<String, String> headers, int receiveBuffer) {
        try {
            Socket socket = new Socket();
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(10_000);
            RawSocket raw = new RawSocket(socket);
            byte[] key = new byte[16];
            RANDOM.nextBytes(key);
            StringBuilder request = new StringBuilder()
                    .append("GET ").append(pathAndQuery).append(" HTTP/1.1\r\n")
                    .append("Host: 127.0.0.1:").append(port).append("\r\n")
                    .append("Upgrade: websocket\r\n")
                    .append("Connection: Upgrade\r\n")
                    .append("Sec-WebSocket-Key: ").append(Base64.getEncoder().encodeToString(key)).append("\r\n")
                    .append("Sec-WebSocket-Version: 13\r\n");
            headers.forEach((name, value) -> request.append(name).append(": ").append(value).append("\r\n"));
            request.append("\r\n");
            raw.out.write(request.toString().getBytes(StandardCharsets.US_ASCII));
            raw.out.flush();
            raw.handshake = raw.readHandshake();
            return raw;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Handshake handshake() {
        return handshake;
    }

    private Handshake readHandshake() throws IOException {
        String statusLine = readLine();
        int status = Integer.parseInt(statusLine.split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        String line;
        while (!(line = readLine()).isEmpty()) {
            int colon = line.indexOf(':');
            headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
        }
        String body = "";
        if (status != 101 && headers.containsKey("content-length")) {
            body = new String(in.readNBytes(Integer.parseInt(headers.get("content-length"))), StandardCharsets.UTF_8);
        }
        return new Handshake(status, headers, body);
    }

    private String readLine() throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                break;
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    public void sendText(String text) {
        sendFrame(TEXT, true, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends one masked frame, as a client must. */
    public void sendFrame(int opcode, boolean fin, byte[] payload) {
        try {
            ByteArrayOutputStream frame = new ByteArrayOutputStream(payload.length + 14);
            frame.write((fin ? 0x80 : 0) | opcode);
            if (payload.length < 126) {
                frame.write(0x80 | payload.length);
            } else if (payload.length < 65_536) {
                frame.write(0x80 | 126);
                frame.write(payload.length >>> 8);
                frame.write(payload.length & 0xFF);
            } else {
                frame.write(0x80 | 127);
                for (int shift = 56; shift >= 0; shift -= 8) {
                    frame.write((int) (((long) payload.length >>> shift) & 0xFF));
                }
            }
            byte[] mask = new byte[4];
            RANDOM.nextBytes(mask);
            frame.write(mask);
            for (int i = 0; i < payload.length; i++) {
                frame.write(payload[i] ^ mask[i % 4]);
            }
            out.write(frame.toByteArray());
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends only the head of a masked frame that announces {@code length} payload bytes. */
    public void sendFrameHead(int opcode, long length) {
        try {
            ByteArrayOutputStream head = new ByteArrayOutputStream(14);
            head.write(0x80 | opcode);
            head.write(0x80 | 127);
            for (int shift = 56; shift >= 0; shift -= 8) {
                head.write((int) ((length >>> shift) & 0xFF));
            }
            head.write(new byte[4]);
            out.write(head.toByteArray());
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads the next frame from the server (servers do not mask). */
    public Frame readFrame() {
        try {
            int first = in.read();
            if (first == -1) {
                throw new IOException("the connection ended");
            }
            int second = in.read();
            long length = second & 0x7F;
            if (length == 126) {
                length = ((in.read() & 0xFF) << 8) | (in.read() & 0xFF);
            } else if (length == 127) {
                length = 0;
                for (int i = 0; i < 8; i++) {
                    length = (length << 8) | (in.read() & 0xFF);
                }
            }
            byte[] payload = in.readNBytes((int) length);
            return new Frame(first & 0x0F, (first & 0x80) != 0, payload);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads frames until a close frame, which it returns; data frames before it are skipped. */
    public Frame awaitClose() {
        while (true) {
            Frame frame = readFrame();
            if (frame.opcode() == CLOSE) {
                return frame;
            }
        }
    }

    /** Reads frames until one with the given opcode arrives. */
    public Frame await(int opcode) {
        while (true) {
            Frame frame = readFrame();
            if (frame.opcode() == opcode) {
                return frame;
            }
        }
    }

    public void readTimeout(Duration timeout) {
        try {
            socket.setSoTimeout((int) timeout.toMillis());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public InputStream input() {
        return in;
    }

    /** The raw connection, for frames this class does not build (unmasked, reserved bits, several at once). */
    public OutputStream output() {
        return out;
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            // closing a test socket: nothing to do
        }
    }
}
