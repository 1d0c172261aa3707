package dev.parley.server.gateway;

import io.helidon.common.buffers.BufferData;
import io.helidon.webserver.ConnectionContext;
import io.helidon.webserver.websocket.WsConnection;
import io.helidon.websocket.WsSession;
import java.lang.reflect.Field;
import java.util.List;
import java.util.concurrent.locks.Lock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a socket's text frames on the wire, several in one write when several are waiting: the events of a run that
 * the journal publishes together reach a socket together, and one system call (one TCP segment on loopback) for all
 * of them costs both ends far less than one per frame. Helidon's {@link WsSession} sends one frame per write; for a
 * run of frames this class encodes them (RFC 6455, unmasked, as a server sends) into one buffer and writes it to the
 * connection under the lock Helidon's own sends take, so that a frame Helidon writes itself (the close it answers a
 * client's close with) never lands inside the batch.
 *
 * <p>That lock is a private field of Helidon's {@link WsConnection}. Where it cannot be reached (another Helidon
 * version, another {@link WsSession}), {@link #of} falls back to one {@link WsSession#send} per frame and says so
 * once in the log; {@code SocketFramesTest} fails when the Helidon on the class path no longer has it.
 *
 * <p>Threads: used by the socket's writer thread only.
 */
final class FrameWriter {
    /** Frames beyond this many bytes in one batch wait for the next write. */
    static final int MAX_BATCH_BYTES = 32 * 1024;
    private static final Logger LOG = LoggerFactory.getLogger(FrameWriter.class);
    private static final Field SEND_LOCK = sendLockField();

    private final WsSession ws;
    private final ConnectionContext connection; // null: one Helidon send per frame
    private final Lock sendLock;

    private FrameWriter(WsSession ws, ConnectionContext connection, Lock sendLock) {
        this.ws = ws;
        this.connection = connection;
        this.sendLock = sendLock;
    }

    static FrameWriter of(WsSession ws) {
        if (SEND_LOCK != null && ws instanceof WsConnection helidon
                && ws.socketContext() instanceof ConnectionContext connection) {
            try {
                return new FrameWriter(ws, connection, (Lock) SEND_LOCK.get(helidon));
            } catch (IllegalAccessException | ClassCastException e) {
                LOG.debug("Socket frames go out one per write: {}", e.toString());
            }
        }
        return new FrameWriter(ws, null, null);
    }

    /** Whether this Helidon's connections let a run of frames go out in one write. */
    static boolean reachesSendLock() {
        return SEND_LOCK != null;
    }

    /** Sends the frames in order; each is a whole text message. Throws what the connection throws. */
    void send(List<SendQueue.Text> texts) {
        if (connection == null) {
            for (SendQueue.Text text : texts) {
                ws.send(text.text(), true);
            }
            return;
        }
        int total = 0;
        for (SendQueue.Text text : texts) {
            total += headerLength(text.bytes()) + text.bytes();
        }
        byte[] out = new byte[total];
        int at = 0;
        for (SendQueue.Text text : texts) {
            at = writeHeader(out, at, text.bytes());
            System.arraycopy(text.utf8(), 0, out, at, text.bytes());
            at += text.bytes();
        }
        sendLock.lock();
        try {
            connection.dataWriter().writeNow(BufferData.create(out));
        } finally {
            sendLock.unlock();
        }
    }

    static int headerLength(int payloadLength) {
        return payloadLength < 126 ? 2 : payloadLength <= 0xFFFF ? 4 : 10;
    }

    /** Writes the header of a final, unmasked text frame of {@code length} bytes at {@code at}; returns where it ends. */
    static int writeHeader(byte[] out, int at, int length) {
        out[at++] = (byte) 0x81; // FIN, opcode 1 (text)
        if (length < 126) {
            out[at++] = (byte) length;
        } else if (length <= 0xFFFF) {
            out[at++] = 126;
            out[at++] = (byte) (length >>> 8);
            out[at++] = (byte) length;
        } else {
            out[at++] = 127;
            for (int shift = 56; shift >= 0; shift -= 8) {
                out[at++] = (byte) ((long) length >>> shift);
            }
        }
        return at;
    }

    private static Field sendLockField() {
        try {
            Field field = WsConnection.class.getDeclaredField("sendLock");
            field.setAccessible(true);
            return field;
        } catch (NoSuchFieldException | RuntimeException e) {
            LOG.info("This Helidon's WebSocket connection has no reachable send lock ({}); socket frames go out one per "
                    + "write", e.toString());
            return null;
        }
    }
}
