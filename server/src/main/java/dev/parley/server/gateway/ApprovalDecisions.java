package dev.parley.server.gateway;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;

/** Reads a decision on an approval, as the socket's {@code approve_tool} and {@code POST /api/approvals/{id}} send it. */
final class ApprovalDecisions {
    static final int MAX_REASON_CHARS = 500;

    private ApprovalDecisions() {
    }

    /** True for {@code approve}, false for {@code reject}; anything else is refused with {@code code}. */
    static boolean approve(String decision, ErrorCode code) {
        return switch (decision) {
            case "approve" -> true;
            case "reject" -> false;
            default -> throw new ProtocolException(code, "The field 'decision' must be 'approve' or 'reject'.");
        };
    }

    static String reason(String reason, ErrorCode code) {
        if (reason != null && reason.length() > MAX_REASON_CHARS) {
            throw new ProtocolException(code, "The field 'reason' must be at most " + MAX_REASON_CHARS
                    + " characters long.");
        }
        return reason;
    }
}
