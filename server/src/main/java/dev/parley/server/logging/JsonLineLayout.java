package dev.parley.server.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.LayoutBase;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import java.time.Instant;
import java.util.Map;

/**
 * One JSON object per line with the fields Google Cloud Logging reads ({@code severity}, {@code message},
 * {@code time}), plus the logger, the thread, every MDC entry (request, connection, user, thread and run ids)
 * and the stack trace when there is one.
 */
public final class JsonLineLayout extends LayoutBase<ILoggingEvent> {
    @Override
    public String doLayout(ILoggingEvent event) {
        ObjectNode line = Json.object();
        line.put("time", ServerEvent.formatTimestamp(Instant.ofEpochMilli(event.getTimeStamp())));
        line.put("severity", severity(event.getLevel()));
        line.put("logger", event.getLoggerName());
        line.put("thread", event.getThreadName());
        StringBuilder message = new StringBuilder(event.getFormattedMessage());
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            message.append('\n').append(ThrowableProxyUtil.asString(thrown));
        }
        line.put("message", message.toString());
        Map<String, String> mdc = event.getMDCPropertyMap();
        if (mdc != null) {
            mdc.forEach(line::put);
        }
        return Json.write(line) + "\n";
    }

    static String severity(Level level) {
        return switch (level.toInt()) {
            case Level.ERROR_INT -> "ERROR";
            case Level.WARN_INT -> "WARNING";
            case Level.INFO_INT -> "INFO";
            default -> "DEBUG";
        };
    }
}
