package dev.parley.server.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import dev.parley.server.config.Config;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Points Logback at standard output in the configured format: readable text, or JSON lines for Cloud Logging.
 *
 * <p>Logback configures itself once, when the first logger is asked for, through {@link LogConfigurator} (found by
 * Logback's service lookup; there is no logback.xml to parse). When {@link #configure} runs before any logger exists,
 * as it does at start, that first configuration is already the requested one and nothing is set up twice.
 */
public final class LogSetup {
    static final Config.Logging DEFAULT = new Config.Logging(Config.LogFormat.TEXT, "INFO");

    private static volatile Config.Logging requested;
    private static volatile Config.Logging applied;

    private LogSetup() {
    }

    public static void configure(Config.Logging logging) {
        requested = logging;
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        synchronized (LogSetup.class) {
            if (!logging.equals(applied)) {
                context.reset();
                apply(context, logging);
            }
        }
    }

    /** Logback's own start: the settings {@link #configure} was called with, else text at INFO. */
    static void applyInitial(LoggerContext context) {
        Config.Logging logging = requested;
        synchronized (LogSetup.class) {
            apply(context, logging == null ? DEFAULT : logging);
        }
    }

    private static void apply(LoggerContext context, Config.Logging logging) {
        Encoder<ILoggingEvent> encoder;
        if (logging.format() == Config.LogFormat.JSON) {
            LayoutWrappingEncoder<ILoggingEvent> json = new LayoutWrappingEncoder<>();
            JsonLineLayout layout = new JsonLineLayout();
            layout.setContext(context);
            layout.start();
            json.setLayout(layout);
            encoder = json;
        } else {
            PatternLayoutEncoder text = new PatternLayoutEncoder();
            text.setPattern("%d{HH:mm:ss.SSS} %-5level %logger{24} %mdc{request_id:-}%mdc{connection_id:-} - %msg%n");
            encoder = text;
        }
        encoder.setContext(context);
        encoder.start();
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("console");
        console.setEncoder(encoder);
        console.start();
        ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(logging.level(), Level.INFO));
        root.addAppender(console);
        context.getLogger("com.zaxxer.hikari").setLevel(Level.WARN);
        context.getLogger("io.helidon").setLevel(Level.WARN);
        context.getLogger("io.lettuce").setLevel(Level.WARN);
        context.getLogger("io.netty").setLevel(Level.WARN);
        applied = logging;
    }
}
