package dev.parley.server.health;

import java.util.concurrent.atomic.AtomicReference;

/** The process's serving phase, which readiness reports: starting, ready, then draining once shutdown begins. */
public final class Lifecycle {
    public enum Phase { STARTING, READY, DRAINING }

    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.STARTING);

    public Phase phase() {
        return phase.get();
    }

    public void ready() {
        phase.compareAndSet(Phase.STARTING, Phase.READY);
    }

    /** Moves to draining; returns false when shutdown had already begun. */
    public boolean drain() {
        return phase.getAndSet(Phase.DRAINING) != Phase.DRAINING;
    }

    public boolean draining() {
        return phase.get() == Phase.DRAINING;
    }
}
