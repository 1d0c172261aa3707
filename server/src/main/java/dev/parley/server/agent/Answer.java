package dev.parley.server.agent;

/** The final answer of a run, in Markdown. The usage is whatever the agent recorded through {@link AgentRun#addUsage}. */
public record Answer(String text) {
}
