package dev.parley.server.observe;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;

/**
 * A warning that would otherwise repeat for every request while a dependency is down: written at most once per
 * period, with how many times it happened since the last line, so that an outage under load is a few lines a
 * minute in the log, not one per request. Thread-safe.
 */
public final class ThrottledWarning {
    private final Logger log;
    private final String what;
    private final long periodNanos;
    private final LongSupplier nanoTime;
    private final AtomicLong nextAt;
    private final AtomicLong suppressed = new AtomicLong();

    public ThrottledWarning(Logger log, String what, Duration period) {
        this(log, what, period, System::nanoTime);
    }

    ThrottledWarning(Logger log, String what, Duration period, LongSupplier nanoTime) {
        this.log = log;
        this.what = what;
        this.periodNanos = period.toNanos();
        this.nanoTime = nanoTime;
        this.nextAt = new AtomicLong(nanoTime.getAsLong());
    }

    /** Writes the warning with this occurrence's detail, unless one was written within the period. */
    public void warn(String detail) {
        long now = nanoTime.getAsLong();
        long next = nextAt.get();
        if (now - next >= 0 && nextAt.compareAndSet(next, now + periodNanos)) {
            long more = suppressed.getAndSet(0);
            if (more == 0) {
                log.warn("{}: {}", what, detail);
            } else {
                log.warn("{}: {} ({} more since the last such line)", what, detail, more);
            }
        } else {
            suppressed.incrementAndGet();
        }
    }
}
