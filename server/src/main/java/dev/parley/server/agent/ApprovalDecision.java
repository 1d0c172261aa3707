package dev.parley.server.agent;

/** How a person's approval of a tool call was settled, when the run went on to hear it. */
public enum ApprovalDecision {
    APPROVED, REJECTED, EXPIRED
}
