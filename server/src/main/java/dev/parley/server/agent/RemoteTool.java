package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.ToolSpecification;

/**
 * A tool that another process serves (a Model Context Protocol server's): {@code name} is what the model calls,
 * {@code <server>__<toolName>}; {@code specification} carries that name, the description and the argument schema;
 * {@code readOnly} is the server's {@code readOnlyHint}, which makes the default policy {@code auto}.
 */
public record RemoteTool(String name, String server, String toolName, String description,
                         ToolSpecification specification, boolean readOnly) {
    /** The {@code source} of this tool's events. */
    JsonNode source() {
        return RunEvents.mcpSource(server);
    }
}
