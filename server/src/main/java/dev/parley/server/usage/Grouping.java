package dev.parley.server.usage;

import java.util.Locale;
import java.util.Optional;

/** The dimension usage is aggregated by. {@link #MODEL} groups by provider and model together. */
public enum Grouping {
    MODEL, PROVIDER, FEATURE, DAY;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<Grouping> fromWire(String name) {
        for (Grouping grouping : values()) {
            if (grouping.wireName().equals(name)) {
                return Optional.of(grouping);
            }
        }
        return Optional.empty();
    }
}
