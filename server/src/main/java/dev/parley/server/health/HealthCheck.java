package dev.parley.server.health;

import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

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

    /** A dependency the instance cannot serve without: {@code down} makes readiness 503. */
    static HealthCheck required(String name, BooleanSupplier up) {
        return new Check(name, () -> up.getAsBoolean() ? State.UP : State.DOWN,
                () -> up.getAsBoolean() ? "up" : "down");
    }

    /**
     * A dependency whose loss leaves the instance serving in a reduced mode: {@code degraded} while {@code impaired}
     * holds, never down; readiness shows {@code describe}'s word.
     */
    static HealthCheck degradable(String name, BooleanSupplier impaired, Supplier<String> describe) {
        return new Check(name, () -> impaired.getAsBoolean() ? State.DEGRADED : State.UP, describe);
    }

    /** A check readiness only reports: always up, showing {@code describe}'s word. */
    static HealthCheck reported(String name, Supplier<String> describe) {
        return new Check(name, () -> State.UP, describe);
    }

    /** The one implementation behind the factories above. */
    record Check(String name, Supplier<State> stateOf, Supplier<String> describeOf) implements HealthCheck {
        @Override
        public State state() {
            return stateOf.get();
        }

        @Override
        public String describe() {
            return describeOf.get();
        }
    }
}
