package dev.parley.server.agent;

import java.time.Duration;

/** Waits between the offline team's steps; must end with {@link InterruptedException} when the run is stopped. */
@FunctionalInterface
public interface Sleeper {
    Sleeper THREAD = duration -> Thread.sleep(duration);

    void sleep(Duration duration) throws InterruptedException;
}
