package dev.parley.server.config;

import java.util.List;

/** The configuration cannot be used; {@link #problems()} holds one line per problem, each naming its variable. */
public final class ConfigException extends RuntimeException {
    private final List<String> problems;

    public ConfigException(List<String> problems) {
        super("Invalid configuration:\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}
