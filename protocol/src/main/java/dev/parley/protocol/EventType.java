package dev.parley.protocol;

/** Server-to-client event type names. */
public final class EventType {
    public static final String CONNECTION_ESTABLISHED = "connection_established";
    public static final String AGENT_STARTED = "agent_started";
    public static final String AGENT_THINKING = "agent_thinking";
    public static final String TOOL_EXECUTING = "tool_executing";
    public static final String TOOL_COMPLETED = "tool_completed";
    public static final String PARTIAL_RESULT = "partial_result";
    public static final String APPROVAL_REQUIRED = "approval_required";
    public static final String APPROVAL_RESOLVED = "approval_resolved";
    public static final String AGENT_COMPLETED = "agent_completed";
    public static final String AGENT_ERROR = "agent_error";
    public static final String COST_UPDATED = "cost_updated";
    public static final String BUDGET_WARNING = "budget_warning";
    public static final String ERROR = "error";
    public static final String PONG = "pong";
    public static final String HEARTBEAT = "heartbeat";
    public static final String HEARTBEAT_ACK = "heartbeat_ack";
    public static final String RESUMED = "resumed";
    public static final String RESUME_FAILED = "resume_failed";
    public static final String THREAD_HISTORY = "thread_history";
    public static final String AUTH_REFRESHED = "auth_refreshed";
    public static final String AUTH_EXPIRING = "auth_expiring";
    public static final String SERVER_SHUTDOWN = "server_shutdown";

    private EventType() {
    }

    /** Whether an event of this type ends a run. */
    public static boolean isTerminal(String type) {
        return AGENT_COMPLETED.equals(type) || AGENT_ERROR.equals(type);
    }
}
