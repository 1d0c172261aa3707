package dev.parley.protocol;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The client-to-server message types, with the aliases that older clients send. */
public enum MessageType {
    START_AGENT("start_agent", "execute_agent"),
    USER_MESSAGE("user_message", "chat_message", "message"),
    STOP_AGENT("stop_agent"),
    RESUME("resume"),
    GET_THREAD_HISTORY("get_thread_history"),
    AUTH_REFRESH("auth_refresh"),
    APPROVE_TOOL("approve_tool"),
    PING("ping"),
    HEARTBEAT("heartbeat"),
    HEARTBEAT_ACK("heartbeat_ack"),
    PONG("pong");

    private static final Map<String, MessageType> BY_NAME = new HashMap<>();

    static {
        for (MessageType type : values()) {
            for (String name : type.names) {
                BY_NAME.put(name, type);
            }
        }
    }

    private final List<String> names;

    MessageType(String... names) {
        this.names = List.of(names);
    }

    /** The canonical wire name. */
    public String wireName() {
        return names.getFirst();
    }

    public List<String> names() {
        return names;
    }

    public static Optional<MessageType> fromWire(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }
}
