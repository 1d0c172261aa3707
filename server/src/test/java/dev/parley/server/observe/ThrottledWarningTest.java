package dev.parley.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class ThrottledWarningTest {
    @Test
    void aRepeatedWarningIsWrittenOncePerPeriodWithHowManyTimesItHappenedMeanwhile() {
        Logger logger = (Logger) LoggerFactory.getLogger("throttled-warning-test");
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        AtomicLong now = new AtomicLong(1_000);
        ThrottledWarning warning = new ThrottledWarning(logger, "request failed", Duration.ofSeconds(10), now::get);
        try {
            warning.warn("GET /a");
            for (int i = 0; i < 5; i++) {
                now.addAndGet(Duration.ofSeconds(1).toNanos());
                warning.warn("GET /b");
            }
            now.addAndGet(Duration.ofSeconds(5).toNanos());
            warning.warn("GET /c");
            warning.warn("GET /d");
        } finally {
            logger.detachAppender(appender);
        }

        assertThat(appender.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly(
                "request failed: GET /a",
                "request failed: GET /c (5 more since the last such line)");
    }
}
