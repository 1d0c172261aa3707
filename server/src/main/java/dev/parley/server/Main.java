package dev.parley.server;

import dev.parley.server.config.Config;
import dev.parley.server.config.ConfigException;
import dev.parley.server.logging.LogSetup;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the server from the environment; stops it gracefully on SIGTERM or SIGINT. {@code train [TURNS]} runs the
 * workload that trains the JDK's AOT cache instead ({@link Training}) and exits.
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        String command = args.length == 0 ? "serve" : args[0];
        if (command.equals("train")) {
            train(args);
            return;
        }
        if (!command.equals("serve")) {
            System.err.println("parley: unknown command '" + command + "' (the server knows: serve, train [TURNS])");
            System.exit(2);
        }
        Config config;
        try {
            config = Config.from(System.getenv());
        } catch (ConfigException e) {
            System.err.println("parley: the configuration has " + e.problems().size() + " problem(s):");
            e.problems().forEach(problem -> System.err.println("  " + problem));
            System.exit(2);
            return;
        }
        LogSetup.configure(config.logging());
        Logger log = LoggerFactory.getLogger(Main.class);
        log.info("Starting Parley: {}", config.summary());
        Config.unknownVariables(System.getenv()).forEach(warning -> log.warn("Setting: {}", warning));
        App app;
        try {
            app = App.start(config, Clock.systemUTC());
        } catch (RuntimeException e) {
            log.error("Parley could not start: {}", e.getMessage(), e);
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("parley-shutdown").unstarted(app::close));
        long uptime = ManagementFactory.getRuntimeMXBean().getUptime();
        log.info("Parley ready on port {} ({} ms after JVM start)", app.port(), uptime);
    }

    private static void train(String[] args) {
        int turns;
        try {
            turns = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_TRAINING_TURNS;
        } catch (NumberFormatException e) {
            turns = -1;
        }
        if (turns < 1) {
            System.err.println("parley: train takes a number of turns per client (1 or more), got '" + args[1] + "'");
            System.exit(2);
        }
        LogSetup.configure(Config.from(Training.settings(Path.of("."))).logging());
        long started = System.nanoTime();
        int done = new Training(turns).run();
        System.err.println("parley: training ran " + done + " turns in " + (System.nanoTime() - started) / 1_000_000
                + " ms");
        System.exit(0);
    }

    /**
     * Turns per training client: enough that the classes a turn loads only under sustained load (the JIT's and the
     * contended paths') are loaded too; a training of one turn per client leaves some of them out.
     */
    static final int DEFAULT_TRAINING_TURNS = 500;
}
