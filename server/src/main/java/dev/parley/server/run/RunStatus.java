package dev.parley.server.run;

import java.util.Locale;

/** Where a run stands; {@link #wire()} is the word on the wire and in the database. */
public enum RunStatus {
    RUNNING, COMPLETED, CANCELLED, FAILED, BUDGET_EXHAUSTED;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean ended() {
        return this != RUNNING;
    }

    static RunStatus fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
