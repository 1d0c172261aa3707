package dev.parley.server.testing;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition with a deadline, checking it every few milliseconds; fails the test at the deadline. */
public final class Await {
    private Await() {
    }

    public static void until(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what);
            }
            LockSupport.parkNanos(Duration.ofMillis(10).toNanos());
        }
    }

    /** Waits until the supplier returns {@code expected} and returns the last value seen. */
    public static <T> T value(String what, Duration timeout, Supplier<T> supplier, T expected) {
        Object[] last = {null};
        until(what + " (last seen: " + last[0] + ")", timeout, () -> {
            last[0] = supplier.get();
            return expected.equals(last[0]);
        });
        @SuppressWarnings("unchecked")
        T value = (T) last[0];
        return value;
    }
}
