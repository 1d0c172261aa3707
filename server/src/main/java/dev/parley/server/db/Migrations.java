package dev.parley.server.db;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The schema's versioned SQL scripts ({@code V<version>__<description>.sql} in one class path directory) and what
 * applies the ones a database has not had yet. The record of what was applied is Flyway's table,
 * {@code flyway_schema_history}, with Flyway's columns, values and checksums, so databases made by Flyway carry on
 * and a database made here could go back to Flyway.
 *
 * <p>A current schema costs one query: the history is read and checked against the scripts. Otherwise each missing
 * script runs in a transaction of its own with its history row: on PostgreSQL the transaction first takes an
 * advisory lock (per schema), so instances starting at once take turns and each re-reads the history under it; on
 * SQLite every transaction begins {@code IMMEDIATE} (the URL says so), which serialises them the same way.
 *
 * <p>The server refuses to start, as Flyway's validation did, when an applied script's checksum or description
 * differs from the file, when a row records a failed script, when an applied version has no script although newer
 * scripts exist, or when a script is missing below the newest applied version. A database with versions newer
 * than every script this server has (a newer release migrated it) is served with a warning, as Flyway's default
 * did: a revision that traffic is rolled back to must still start.
 *
 * <p>Instances hold no mutable state; {@link #apply} may run from any thread.
 */
public final class Migrations {
    private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);
    static final String HISTORY = "flyway_schema_history";
    private static final Pattern NAME = Pattern.compile("V([0-9]+(?:[._][0-9]+)*)__(.+)\\.sql");
    private static final String SELECT_HISTORY =
            "SELECT version, description, type, script, checksum, success FROM " + HISTORY + " ORDER BY installed_rank";
    // Flyway's own definitions of the table, so that Flyway would recognise it.
    private static final String CREATE_HISTORY_POSTGRESQL = """
            CREATE TABLE IF NOT EXISTS flyway_schema_history (
                installed_rank INT NOT NULL,
                version VARCHAR(50),
                description VARCHAR(200) NOT NULL,
                type VARCHAR(20) NOT NULL,
                script VARCHAR(1000) NOT NULL,
                checksum INTEGER,
                installed_by VARCHAR(100) NOT NULL,
                installed_on TIMESTAMP NOT NULL DEFAULT now(),
                execution_time INTEGER NOT NULL,
                success BOOLEAN NOT NULL,
                CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank)
            );
            CREATE INDEX IF NOT EXISTS flyway_schema_history_s_idx ON flyway_schema_history (success);
            """;
    private static final String CREATE_HISTORY_SQLITE = """
            CREATE TABLE IF NOT EXISTS flyway_schema_history (
                installed_rank INT NOT NULL PRIMARY KEY,
                version VARCHAR(50),
                description VARCHAR(200) NOT NULL,
                type VARCHAR(20) NOT NULL,
                script VARCHAR(1000) NOT NULL,
                checksum INT,
                installed_by VARCHAR(100) NOT NULL,
                installed_on TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')),
                execution_time INT NOT NULL,
                success BOOLEAN NOT NULL
            );
            CREATE INDEX IF NOT EXISTS flyway_schema_history_s_idx ON flyway_schema_history (success);
            """;

    private final String location;
    private final TreeMap<Version, Script> scripts;

    private Migrations(String location, TreeMap<Version, Script> scripts) {
        this.location = location;
        this.scripts = scripts;
    }

    /** The scripts in a class path directory ({@code db/sqlite}, {@code db/migration}). */
    public static Migrations load(String location) {
        TreeMap<Version, Script> scripts = new TreeMap<>();
        for (Map.Entry<String, byte[]> file : readDirectory(location).entrySet()) {
            Matcher name = NAME.matcher(file.getKey());
            if (!name.matches()) {
                throw new IllegalStateException("migration script " + location + "/" + file.getKey()
                        + " is not named V<version>__<description>.sql");
            }
            Script script = Script.of(name.group(1).replace('_', '.'), name.group(2).replace('_', ' '),
                    file.getKey(), file.getValue());
            Script clash = scripts.put(script.version(), script);
            if (clash != null) {
                throw new IllegalStateException("migration scripts " + clash.name() + " and " + script.name()
                        + " in " + location + " have the same version");
            }
        }
        if (scripts.isEmpty()) {
            throw new IllegalStateException("no migration scripts in " + location + " on the class path");
        }
        return new Migrations(location, scripts);
    }

    List<Script> scripts() {
        return List.copyOf(scripts.values());
    }

    /**
     * Brings the database's schema up to date and returns how many scripts it applied.
     *
     * @throws IllegalStateException if the database's history disagrees with the scripts (see the class comment)
     */
    public int apply(DataSource dataSource, boolean postgres) {
        try (Connection connection = dataSource.getConnection()) {
            Optional<List<Applied>> history = findHistory(connection);
            if (history.isPresent() && pending(history.get()).isEmpty()) {
                return 0;
            }
            int applied = 0;
            while (applyNext(connection, postgres)) {
                applied++;
            }
            return applied;
        } catch (SQLException e) {
            throw new IllegalStateException("cannot migrate the schema (" + location + "): " + e.getMessage(), e);
        }
    }

    /** The history in one query, or empty if the table does not exist yet. */
    private static Optional<List<Applied>> findHistory(Connection connection) throws SQLException {
        if (!connection.getAutoCommit()) {
            connection.setAutoCommit(true);
        }
        try (Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery(SELECT_HISTORY)) {
            return Optional.of(readHistory(rows));
        } catch (SQLException e) {
            if (isMissingTable(e)) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private static boolean isMissingTable(SQLException e) {
        // PostgreSQL: undefined_table; SQLite has no code of its own for it.
        return "42P01".equals(e.getSQLState())
                || (e.getMessage() != null && e.getMessage().contains("no such table: " + HISTORY));
    }

    private static List<Applied> readHistory(ResultSet rows) throws SQLException {
        List<Applied> history = new ArrayList<>();
        while (rows.next()) {
            int checksum = rows.getInt(5);
            boolean noChecksum = rows.wasNull();
            history.add(new Applied(rows.getString(1), rows.getString(2), rows.getString(3), rows.getString(4),
                    noChecksum ? null : checksum, rows.getBoolean(6)));
        }
        return history;
    }

    /** Applies the oldest missing script in a transaction of its own; false if none was missing. */
    private boolean applyNext(Connection connection, boolean postgres) throws SQLException {
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            if (postgres) {
                // Transaction-scoped, so a crash or a failed script cannot leave it held.
                statement.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '." + HISTORY + "'))");
            }
            statement.executeUpdate(postgres ? CREATE_HISTORY_POSTGRESQL : CREATE_HISTORY_SQLITE);
            List<Applied> history;
            int rank;
            try (ResultSet rows = statement.executeQuery(SELECT_HISTORY)) {
                history = readHistory(rows);
            }
            try (ResultSet rows = statement.executeQuery("SELECT COALESCE(MAX(installed_rank), 0) FROM " + HISTORY)) {
                rows.next();
                rank = rows.getInt(1) + 1;
            }
            List<Script> pending = pending(history);
            if (pending.isEmpty()) {
                connection.commit();
                return false;
            }
            Script script = pending.getFirst();
            long started = System.nanoTime();
            try {
                // Each driver runs every statement of the script: PostgreSQL's splits it itself (quotes, comments and
                // dollar quotes understood) and takes results; SQLite's runs all of them only through executeUpdate
                // (sqlite3_exec), while its execute would run the first statement alone.
                if (postgres) {
                    statement.execute(script.sql());
                } else {
                    statement.executeUpdate(script.sql());
                }
            } catch (SQLException e) {
                throw new IllegalStateException("migration " + location + "/" + script.name() + " failed, nothing of it"
                        + " was applied: " + e.getMessage(), e);
            }
            int millis = (int) ((System.nanoTime() - started) / 1_000_000);
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO " + HISTORY
                    + " (installed_rank, version, description, type, script, checksum, installed_by, execution_time,"
                    + " success) VALUES (?, ?, ?, 'SQL', ?, ?, " + (postgres ? "current_user" : "''") + ", ?, ?)")) {
                insert.setInt(1, rank);
                insert.setString(2, script.version().text());
                insert.setString(3, script.description());
                insert.setString(4, script.name());
                insert.setInt(5, script.checksum());
                insert.setInt(6, millis);
                insert.setBoolean(7, true);
                insert.executeUpdate();
            }
            connection.commit();
            LOG.info("Applied schema migration {}/{} in {} ms", location, script.name(), millis);
            return true;
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(true);
        }
    }

    /**
     * The scripts the history lacks, oldest first, after checking that the history agrees with the scripts.
     *
     * @throws IllegalStateException naming what disagrees
     */
    List<Script> pending(List<Applied> history) {
        Version newestKnown = scripts.lastKey();
        Version newestApplied = null;
        TreeMap<Version, Applied> applied = new TreeMap<>();
        List<String> future = new ArrayList<>();
        for (Applied row : history) {
            if (row.version() == null) {
                continue; // Flyway's record that it created the schema: no script
            }
            if (!row.success()) {
                throw refuse("it records that " + row.script() + " (version " + row.version() + ") failed; repair the"
                        + " schema by hand and delete that row");
            }
            if (!"SQL".equals(row.type())) {
                throw refuse("version " + row.version() + " is of type " + row.type() + ", which this server does"
                        + " not apply (only SQL scripts)");
            }
            Version version = Version.parse(row.version());
            applied.put(version, row);
            if (newestApplied == null || version.compareTo(newestApplied) > 0) {
                newestApplied = version;
            }
            Script script = scripts.get(version);
            if (script == null) {
                if (version.compareTo(newestKnown) > 0) {
                    future.add(row.script());
                    continue;
                }
                throw refuse("version " + row.version() + " (" + row.script() + ") was applied but this server has no"
                        + " such script");
            }
            if (row.checksum() == null || row.checksum() != script.checksum()) {
                throw refuse(script.name() + " has checksum " + script.checksum() + " but was applied with checksum "
                        + row.checksum() + ": the script was changed after it was applied");
            }
            if (!script.description().equals(row.description())) {
                throw refuse(script.name() + " was applied with the description '" + row.description() + "'");
            }
        }
        if (!future.isEmpty()) {
            LOG.warn("The schema is newer than this server knows ({} applied after {}); serving it as it is", future,
                    scripts.lastEntry().getValue().name());
        }
        List<Script> pending = new ArrayList<>();
        for (Script script : scripts.values()) {
            if (!applied.containsKey(script.version())) {
                if (newestApplied != null && script.version().compareTo(newestApplied) < 0) {
                    throw refuse(script.name() + " was never applied, but the newer version " + newestApplied.text()
                            + " was");
                }
                pending.add(script);
            }
        }
        return pending;
    }

    private IllegalStateException refuse(String why) {
        return new IllegalStateException("the database's schema history (" + HISTORY + ") disagrees with the"
                + " migration scripts in " + location + ": " + why);
    }

    private static Map<String, byte[]> readDirectory(String location) {
        URL url = Migrations.class.getClassLoader().getResource(location);
        if (url == null) {
            throw new IllegalStateException("no migration scripts in " + location + " on the class path");
        }
        Map<String, byte[]> files = new TreeMap<>();
        try {
            if ("jar".equals(url.getProtocol())) {
                JarURLConnection connection = (JarURLConnection) url.openConnection();
                connection.setUseCaches(false);
                try (JarFile jar = connection.getJarFile()) {
                    String prefix = location + "/";
                    Enumeration<JarEntry> entries = jar.entries();
                    while (entries.hasMoreElements()) {
                        JarEntry entry = entries.nextElement();
                        String name = entry.getName();
                        if (name.startsWith(prefix) && !entry.isDirectory() && name.indexOf('/', prefix.length()) < 0) {
                            try (InputStream in = jar.getInputStream(entry)) {
                                files.put(name.substring(prefix.length()), in.readAllBytes());
                            }
                        }
                    }
                }
            } else if ("file".equals(url.getProtocol())) {
                try (Stream<Path> list = Files.list(Path.of(url.toURI()))) {
                    for (Path file : list.filter(Files::isRegularFile).toList()) {
                        files.put(file.getFileName().toString(), Files.readAllBytes(file));
                    }
                }
            } else {
                throw new IllegalStateException("cannot list the migration scripts at " + url);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the migration scripts at " + url, e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot read the migration scripts at " + url, e);
        }
        return files;
    }

    /** A script: its version, its description (underscores read as spaces), file name, text and Flyway checksum. */
    record Script(Version version, String description, String name, String sql, int checksum) {
        static Script of(String version, String description, String name, byte[] bytes) {
            String text = new String(bytes, StandardCharsets.UTF_8);
            if (text.startsWith("\uFEFF")) {
                text = text.substring(1);
            }
            return new Script(Version.parse(version), description, name, text, checksum(text));
        }

        /**
         * Flyway's checksum: CRC-32 over the script's lines in UTF-8 without their line terminators (and without a
         * byte order mark), as a signed int.
         */
        static int checksum(String text) {
            CRC32 crc = new CRC32();
            try (BufferedReader lines = new BufferedReader(new StringReader(text))) {
                for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    crc.update(line.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return (int) crc.getValue();
        }
    }

    /** A row of the history table. */
    record Applied(String version, String description, String type, String script, Integer checksum,
                   boolean success) {
    }

    /** A version as Flyway orders them: dot-separated whole numbers compared numerically, trailing zeros ignored. */
    record Version(String text, List<BigInteger> parts) implements Comparable<Version> {
        static Version parse(String text) {
            List<BigInteger> parts = new ArrayList<>();
            for (String part : text.split("\\.", -1)) {
                if (part.isEmpty() || !part.chars().allMatch(Character::isDigit)) {
                    throw new IllegalStateException("'" + text + "' is not a migration version");
                }
                parts.add(new BigInteger(part));
            }
            while (parts.size() > 1 && parts.getLast().signum() == 0) {
                parts.removeLast();
            }
            return new Version(text, List.copyOf(parts));
        }

        @Override
        public int compareTo(Version other) {
            for (int i = 0; i < Math.max(parts.size(), other.parts.size()); i++) {
                BigInteger mine = i < parts.size() ? parts.get(i) : BigInteger.ZERO;
                BigInteger theirs = i < other.parts.size() ? other.parts.get(i) : BigInteger.ZERO;
                int order = mine.compareTo(theirs);
                if (order != 0) {
                    return order;
                }
            }
            return 0;
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Version version && compareTo(version) == 0;
        }

        @Override
        public int hashCode() {
            return parts.hashCode();
        }
    }
}
