package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Optional;

/**
 * The tools that other processes serve (Model Context Protocol servers), as the agent sees them: the ones known now,
 * and a call. Implementations keep each server's list cached; listing never waits for a server.
 */
public interface RemoteTools {
    /** No remote tools. */
    RemoteTools NONE = new RemoteTools() {
        @Override
        public List<RemoteTool> tools() {
            return List.of();
        }

        @Override
        public Optional<RemoteTool> find(String name) {
            return Optional.empty();
        }

        @Override
        public JsonNode call(RemoteTool tool, String userId, JsonNode arguments) {
            throw new IllegalStateException("no remote tools");
        }
    };

    /**
     * Why the user cannot call the tool at all, as the {@code tool_completed} result to give (such as a server that
     * needs the user's own credential and has none); empty when the call may go ahead. Asked before any approval.
     */
    default Optional<JsonNode> refusal(RemoteTool tool, String userId) {
        return Optional.empty();
    }

    /** The tools offered to the model now, from every server whose list is known. */
    List<RemoteTool> tools();

    Optional<RemoteTool> find(String name);

    /**
     * Calls the tool for the run's user and returns its result. A stop interrupts the calling thread; the call then
     * tells the server it is cancelled and throws {@link InterruptedException}.
     *
     * @throws RemoteToolException when the server is unavailable, times out, or the tool reports an error
     */
    JsonNode call(RemoteTool tool, String userId, JsonNode arguments) throws InterruptedException;
}
