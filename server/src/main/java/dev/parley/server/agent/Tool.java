package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.agent.tool.ToolSpecification;

/**
 * A typed tool that both the offline team and a language model call: its specification (name, description, JSON
 * schema of the arguments) is what the model sees; {@link #parse} turns the JSON arguments into {@code A} or refuses
 * them with {@link ToolInputException}; {@link #execute} does the work for one user; {@link #render} is the JSON the
 * {@code tool_completed} event and the model get back.
 */
interface Tool<A, R> {
    ToolSpecification specification();

    default String name() {
        return specification().name();
    }

    A parse(JsonNode arguments);

    /** Runs for the run's user only; the user id never comes from the arguments. */
    R execute(String userId, A arguments) throws InterruptedException;

    JsonNode render(R result);
}
