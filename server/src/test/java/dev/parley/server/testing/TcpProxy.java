package dev.parley.server.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP relay on 127.0.0.1 in front of a service (Redis, PostgreSQL) that a test can cut and restore, as a network
 * failure or a restart of the service would: {@link #cut()} drops every relayed connection and refuses new ones
 * (accepts and closes them at once) until {@link #restore()}. The process boundary is where this sits; the server
 * under test talks to the real service through it.
 */
public final class TcpProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final String targetHost;
    private final int targetPort;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile boolean cut;
    private volatile boolean silent;
    private volatile byte[] cutOnAnswer;
    private volatile boolean closed;

    private TcpProxy(ServerSocket listener, String targetHost, int targetPort) {
        this.listener = listener;
        this.targetHost = targetHost;
        this.targetPort = targetPort;
    }

    public static TcpProxy to(String host, int port) {
        try {
            ServerSocket listener = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
            TcpProxy proxy = new TcpProxy(listener, host, port);
            Thread.ofVirtual().name("tcp-proxy-accept").start(proxy::acceptLoop);
            return proxy;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return listener.getLocalPort();
    }

    /** Drops every connection and refuses new ones. */
    public void cut() {
        cut = true;
        for (Socket socket : open) {
            quietlyClose(socket);
        }
        open.clear();
    }

    /**
     * Goes silent, as a database host that vanished behind a firewall: open connections stay open but carry nothing
     * more, new ones are accepted and never answered.
     */
    public void blackHole() {
        silent = true;
    }

    /**
     * Cuts, as {@link #cut()} does, the moment the service next sends bytes that contain {@code marker}, before they
     * are relayed: the service acted on a request (a commit went through) and its answer is lost with the connection.
     * A marker split across two reads of the relay is not seen.
     */
    public void cutOnAnswer(byte[] marker) {
        cutOnAnswer = marker.clone();
    }

    /** Relays again (connections held while silent are dropped: their protocol state is lost). */
    public void restore() {
        if (silent) {
            silent = false;
            for (Socket socket : open) {
                quietlyClose(socket);
            }
            open.clear();
        }
        cut = false;
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            if (cut) {
                quietlyClose(client);
                continue;
            }
            if (silent) {
                open.add(client);
                continue;
            }
            Thread.ofVirtual().start(() -> relay(client));
        }
    }

    private void relay(Socket client) {
        Socket server = new Socket();
        try {
            server.connect(new InetSocketAddress(targetHost, targetPort), 2000);
            server.setTcpNoDelay(true);
            client.setTcpNoDelay(true);
        } catch (IOException e) {
            quietlyClose(client);
            quietlyClose(server);
            return;
        }
        open.add(client);
        open.add(server);
        if (cut) {
            cut();
            return;
        }
        Thread.ofVirtual().start(() -> pump(client, server, false));
        pump(server, client, true);
    }

    private void pump(Socket from, Socket to, boolean answers) {
        byte[] buffer = new byte[16384];
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            int read;
            while ((read = in.read(buffer)) >= 0) {
                if (silent) {
                    continue; // swallowed
                }
                byte[] marker = cutOnAnswer;
                if (answers && marker != null && contains(buffer, read, marker)) {
                    cutOnAnswer = null;
                    cut();
                    return;
                }
                out.write(buffer, 0, read);
                out.flush();
            }
        } catch (IOException e) {
            // one side went away: close both
        } finally {
            quietlyClose(from);
            quietlyClose(to);
            open.remove(from);
            open.remove(to);
        }
    }

    private static boolean contains(byte[] buffer, int length, byte[] marker) {
        for (int at = 0; at + marker.length <= length; at++) {
            if (Arrays.equals(buffer, at, at + marker.length, marker, 0, marker.length)) {
                return true;
            }
        }
        return false;
    }

    private static void quietlyClose(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // already gone
        }
    }

    @Override
    public void close() {
        closed = true;
        cut();
        try {
            listener.close();
        } catch (IOException e) {
            // already closed
        }
    }
}
