package dev.parley.server.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;

/**
 * The PostgreSQL that contract tests run against: {@code PARLEY_TEST_DATABASE_URL}, each caller in a schema of its
 * own. Without the variable the PostgreSQL cases are skipped; with {@code PARLEY_TEST_REQUIRE_SERVICES=true}
 * (as CI sets it) a missing variable fails instead.
 */
public final class TestDatabases {
    private TestDatabases() {
    }

    public static boolean servicesRequired() {
        return "true".equalsIgnoreCase(System.getenv("PARLEY_TEST_REQUIRE_SERVICES"));
    }

    /** A JDBC URL of a fresh, empty schema in the test PostgreSQL. */
    public static String freshPostgresSchema() {
        String base = System.getenv("PARLEY_TEST_DATABASE_URL");
        if (base == null || base.isBlank()) {
            if (servicesRequired()) {
                throw new IllegalStateException("PARLEY_TEST_REQUIRE_SERVICES=true but PARLEY_TEST_DATABASE_URL is not set");
            }
            Assumptions.abort("PARLEY_TEST_DATABASE_URL is not set: PostgreSQL cases skipped");
        }
        String schema = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16).toLowerCase(Locale.ROOT);
        try (Connection connection = DriverManager.getConnection(base);
             Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot reach the test PostgreSQL at PARLEY_TEST_DATABASE_URL", e);
        }
        return base + (base.contains("?") ? "&" : "?") + "currentSchema=" + schema;
    }
}
