package dev.parley.cli.validate;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The options of {@code parley validate} after their rules: checked together, every problem reported, one line each,
 * naming the option. {@code json} is the JSON report's file, if any; {@code jsonOnStdout} says it goes to standard
 * output instead.
 */
record Options(URI url, Credentials credentials, int users, Path report, Path json, boolean jsonOnStdout,
               Duration timeout, List<String> warnings) {
    /** Where a password or token comes from when it is not on the command line (which {@code ps} shows to all). */
    static final String PASSWORD_ENV = "PARLEY_VALIDATE_PASSWORD";
    static final String TOKEN_ENV = "PARLEY_VALIDATE_TOKEN";

    static final int DEFAULT_USERS = 5;
    static final int MAX_USERS = 200;
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    /** How the validator gets its first user: a fresh registration, an existing account, or a given token. */
    sealed interface Credentials {
        record Register() implements Credentials {
        }

        record Login(String email, String password) implements Credentials {
        }

        record Token(String token) implements Credentials {
        }

        default String describe() {
            return switch (this) {
                case Register r -> "register";
                case Login l -> "login as " + l.email();
                case Token t -> "token";
            };
        }
    }

    /** The value of {@code --json} that prints the JSON report on standard output instead of into a file. */
    static final String STDOUT = "-";

    /** The command line as given, before any rule is applied; null for an option that is absent. */
    record Arguments(String url, boolean register, String email, String password, String passwordFile, String token,
                     String tokenFile, String users, String report, String json, String timeout) {
    }

    /** A command line that cannot be run; the message lists every problem, one per line. */
    static final class UsageException extends Exception {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /**
     * Applies the rules to the command line: every problem, those already in {@code problems} included, is reported
     * at once. {@code env} and {@code stdin} supply a password or token kept off the command line.
     */
    static Options from(Arguments arguments, Map<String, String> env, InputStream stdin, List<String> problems)
            throws UsageException {
        problems = new ArrayList<>(problems);
        List<String> warnings = new ArrayList<>();
        String url = arguments.url();
        String email = arguments.email();
        String password = arguments.password();
        String token = arguments.token();
        boolean register = arguments.register();
        if (password != null) {
            warnings.add("--password on the command line is visible to every user of this machine"
                    + " (ps); use " + PASSWORD_ENV + " or --password-file");
        }
        if (token != null) {
            warnings.add("--token on the command line is visible to every user of this machine (ps);"
                    + " use " + TOKEN_ENV + " or --token-file");
        }

        URI base = null;
        if (url == null) {
            problems.add("--url is required");
        } else {
            base = parseUrl(url, problems);
        }

        if (arguments.passwordFile() != null) {
            if (password != null) {
                problems.add("choose one of --password and --password-file");
            }
            password = firstLine(arguments.passwordFile(), "--password-file", stdin, problems);
        } else if (password == null && email != null) {
            password = blankToNull(env.get(PASSWORD_ENV));
        }
        if (arguments.tokenFile() != null) {
            if (token != null) {
                problems.add("choose one of --token and --token-file");
            }
            token = firstLine(arguments.tokenFile(), "--token-file", stdin, problems);
        } else if (token == null && email == null && !register) {
            token = blankToNull(env.get(TOKEN_ENV));
        }

        int modes = (register ? 1 : 0) + (token != null ? 1 : 0) + (email != null || password != null ? 1 : 0);
        if (modes > 1) {
            problems.add("choose one of --register, --token, or --email with --password");
        }
        if ((email == null) != (password == null)) {
            problems.add(email == null ? "a password needs --email"
                    : "--email needs a password: " + PASSWORD_ENV + " or --password-file");
        }
        if (token != null && token.isBlank()) {
            problems.add("--token must not be empty");
        }
        Credentials credentials = token != null ? new Credentials.Token(token)
                : email != null && password != null ? new Credentials.Login(email, password)
                : new Credentials.Register();

        int userCount = DEFAULT_USERS;
        String users = arguments.users();
        if (users != null) {
            try {
                userCount = Integer.parseInt(users);
                if (userCount < 0 || userCount > MAX_USERS) {
                    problems.add("--users must be between 0 and " + MAX_USERS + ", not " + users);
                }
            } catch (NumberFormatException e) {
                problems.add("--users must be a whole number, not '" + users + "'");
            }
        }

        Duration wait = DEFAULT_TIMEOUT;
        String timeout = arguments.timeout();
        if (timeout != null) {
            try {
                double seconds = Double.parseDouble(timeout);
                if (!(seconds > 0 && seconds <= 3600)) {
                    problems.add("--timeout must be more than 0 and at most 3600 seconds, not " + timeout);
                } else {
                    wait = Duration.ofMillis(Math.round(seconds * 1000));
                }
            } catch (NumberFormatException e) {
                problems.add("--timeout must be a number of seconds, not '" + timeout + "'");
            }
        }

        String report = arguments.report();
        String json = arguments.json();
        if (report != null && report.isBlank()) {
            problems.add("--report needs a file name");
        }
        if (json != null && json.isBlank()) {
            problems.add("--json needs a file name, or none to print the report on standard output");
        }

        if (!problems.isEmpty()) {
            throw new UsageException(String.join("\n", problems));
        }
        boolean jsonOnStdout = STDOUT.equals(json);
        return new Options(base, credentials, userCount, report == null ? null : Path.of(report),
                json == null || jsonOnStdout ? null : Path.of(json), jsonOnStdout, wait, List.copyOf(warnings));
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.strip();
    }

    /** The first line of a file, or of stdin for {@code -}, stripped; a problem when it cannot be read or is empty. */
    private static String firstLine(String file, String option, InputStream stdin, List<String> problems) {
        try (BufferedReader reader = file.equals("-")
                ? new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8))
                : Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
            String line = blankToNull(reader.readLine());
            if (line == null) {
                problems.add(option + " " + file + " is empty");
            }
            return line;
        } catch (IOException | RuntimeException e) {
            problems.add(option + " " + file + " cannot be read: " + e.getMessage());
            return null;
        }
    }

    /** Accepts http(s) and, for convenience, ws(s) URLs of the server's base; ws becomes http, wss https. */
    private static URI parseUrl(String url, List<String> problems) {
        try {
            URI uri = new URI(url);
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            String http = switch (scheme) {
                case "http", "ws" -> "http";
                case "https", "wss" -> "https";
                default -> null;
            };
            if (http == null) {
                problems.add("--url must start with http:// or https://, not '" + url + "'");
                return null;
            }
            if (uri.getHost() == null) {
                problems.add("--url has no host: '" + url + "'");
                return null;
            }
            if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                problems.add("--url must be the server's base URL, without a query or fragment: '" + url + "'");
                return null;
            }
            String path = uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "");
            return new URI(http + "://" + uri.getRawAuthority() + path);
        } catch (URISyntaxException e) {
            problems.add("--url is not a URL: " + e.getMessage());
            return null;
        }
    }
}
