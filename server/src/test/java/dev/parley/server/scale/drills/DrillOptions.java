package dev.parley.server.scale.drills;

import java.nio.file.Path;

/**
 * How the drills run: {@code shortForm} for CI (fewer runs and users, a shorter Redis outage), where the server jar
 * is, which PostgreSQL (a fresh schema of it per drill) and which {@code redis-server} binary and port to use.
 */
record DrillOptions(boolean shortForm, Path serverJar, String java, String databaseUrl, String redisServer,
                    int redisPort, Path outputDir, java.util.Set<String> only) {

    int runs() {
        return shortForm ? 20 : 100;
    }

    int outageSeconds() {
        return shortForm ? 10 : 30;
    }

    int latencyUsers() {
        return shortForm ? 200 : 1000;
    }

    boolean wants(String drill) {
        return only.isEmpty() || only.contains(drill);
    }
}
