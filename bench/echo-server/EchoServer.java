import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.websocket.WsRouting;
import io.helidon.websocket.WsListener;
import io.helidon.websocket.WsSession;

/**
 * The baseline of the ping benchmark: a bare Helidon SE WebSocket endpoint on {@code /ws} that sends every text
 * frame straight back from the connection's own thread, with no authentication, no JSON, no routing and no send
 * queue. Same Helidon version and libraries as the Parley server; {@code GET /health} answers 200 for readiness.
 *
 * <p>Runs as a single source file on the server's class path (bench/run.sh does this):
 * {@code java -cp 'server/target/parley-server.jar:server/target/libs/*' bench/echo-server/EchoServer.java PORT}.
 * A second argument {@code plain} makes Helidon use blocking sockets instead of NIO channels (its {@code use-nio}
 * setting), to see what the per-connection buffers of each cost.
 */
public final class EchoServer {
    private EchoServer() {
    }

    public static void main(String[] args) {
        int port = Integer.parseInt(args.length > 0 ? args[0] : System.getenv().getOrDefault("PORT", "8080"));
        boolean nio = args.length < 2 || !args[1].equals("plain");
        WsListener echo = new WsListener() {
            @Override
            public void onMessage(WsSession session, String text, boolean last) {
                session.send(text, last);
            }
        };
        WebServer server = WebServer.builder()
                .host("127.0.0.1")
                .port(port)
                .backlog(4096)
                .useNio(nio)
                .routing(HttpRouting.builder().get("/health", (request, response) -> response.send("ok")))
                .addRouting(WsRouting.builder().endpoint("/ws", echo))
                .build()
                .start();
        System.out.println("echo server ready on port " + server.port() + (nio ? "" : " (blocking sockets)"));
    }
}
