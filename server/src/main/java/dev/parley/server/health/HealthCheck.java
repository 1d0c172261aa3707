package dev.parley.server.health;

/** One named dependency that readiness reports, such as {@code database} or {@code fanout}. */
public interface HealthCheck {
    enum State {
        /** Working. */
        UP,
        /** Working in a reduced mode that still serves (for example fan-out limited to this instance). */
        DEGRADED,
        /** Not working: the instance cannot serve. */
        DOWN
    }

    String name();

    State state();

    /** The word readiness shows for this check, such as {@code up}, {@code local} or {@code offline}. */
    String describe();
}
