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
 * The options of {@code parley validate}, parsed once and checked together: every problem is reported, one line
 * each, naming the option.
 */
record Options(URI url, Credentials credentials, int users, Path report, Path json, Duration timeout,
               List<String> warnings) {
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

    static final String USAGE = """
            Usage: parley validate --url URL [--email E [--password-file F] | --token-file F | --register]
                                   [--users N] [--report FILE.md] [--json FILE.json] [--timeout S]

            Checks a running Parley server against the wire contract and reports what it measured.

              --url URL          the server's base URL (http://host:port or https://host)
              --register         register a fresh user with a generated email (the default)
              --email E          log in as an existing user; the password comes from
                                 PARLEY_VALIDATE_PASSWORD or --password-file
              --password-file F  read the password from the first line of F ('-' for stdin)
              --token-file F     use the access token on the first line of F ('-' for stdin) for the
                                 first user; PARLEY_VALIDATE_TOKEN set (without --email or --register)
                                 does the same
              --password P, --token T
                                 accepted, with a warning: every user of the machine sees them in ps
              --users N          users for the concurrent_users check (default 5; 0 skips it)
              --report FILE.md   write the report as Markdown
              --json FILE.json   write the report as JSON
              --timeout S        the longest wait, in seconds, for any one answer: an HTTP response,
                                 a socket frame, a run's completion (default 30)
              --help             show this text

            The isolation and concurrent_users checks register further users whatever the options.

            Exit codes: 0 every check passed (a skip requested by the options excepted),
                        1 a check failed or could not run, 2 usage error,
                        3 the target could not be reached, 4 a report could not be written.
            """;

    /** A command line that cannot be run; the message lists every problem, one per line. */
    static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    /** Thrown for {@code --help}: not an error. */
    static final class HelpRequested extends Exception {
        HelpRequested() {
            super("help");
        }
    }

    static Options parse(String[] args) throws UsageException, HelpRequested {
        return parse(args, Map.of(), InputStream.nullInputStream());
    }

    static Options parse(String[] args, Map<String, String> env, InputStream stdin)
            throws UsageException, HelpRequested {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        String passwordFile = null;
        String tokenFile = null;
        String url = null;
        String email = null;
        String password = null;
        String token = null;
        boolean register = false;
        String users = null;
        String report = null;
        String json = null;
        String timeout = null;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String name = arg;
            String value = null;
            int equals = arg.indexOf('=');
            if (arg.startsWith("--") && equals > 0) {
                name = arg.substring(0, equals);
                value = arg.substring(equals + 1);
            }
            switch (name) {
                case "--help", "-h" -> throw new HelpRequested();
                case "--register" -> {
                    if (value != null) {
                        problems.add("--register takes no value");
                    }
                    register = true;
                }
                case "--url", "--email", "--password", "--token", "--users", "--report", "--json", "--timeout",
                     "--password-file", "--token-file" -> {
                    if (value == null) {
                        if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                            problems.add(name + " needs a value");
                            continue;
                        }
                        value = args[++i];
                    }
                    switch (name) {
                        case "--url" -> url = value;
                        case "--email" -> email = value;
                        case "--password" -> {
                            password = value;
                            warnings.add("--password on the command line is visible to every user of this machine"
                                    + " (ps); use " + PASSWORD_ENV + " or --password-file");
                        }
                        case "--token" -> {
                            token = value;
                            warnings.add("--token on the command line is visible to every user of this machine (ps);"
                                    + " use " + TOKEN_ENV + " or --token-file");
                        }
                        case "--password-file" -> passwordFile = value;
                        case "--token-file" -> tokenFile = value;
                        case "--users" -> users = value;
                        case "--report" -> report = value;
                        case "--json" -> json = value;
                        default -> timeout = value;
                    }
                }
                default -> problems.add("unknown option '" + arg + "'");
            }
        }

        URI base = null;
        if (url == null) {
            problems.add("--url is required");
        } else {
            base = parseUrl(url, problems);
        }

        if (passwordFile != null) {
            if (password != null) {
                problems.add("choose one of --password and --password-file");
            }
            password = firstLine(passwordFile, "--password-file", stdin, problems);
        } else if (password == null && email != null) {
            password = blankToNull(env.get(PASSWORD_ENV));
        }
        if (tokenFile != null) {
            if (token != null) {
                problems.add("choose one of --token and --token-file");
            }
            token = firstLine(tokenFile, "--token-file", stdin, problems);
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

        if (report != null && report.isBlank()) {
            problems.add("--report needs a file name");
        }
        if (json != null && json.isBlank()) {
            problems.add("--json needs a file name");
        }

        if (!problems.isEmpty()) {
            throw new UsageException(String.join("\n", problems));
        }
        return new Options(base, credentials, userCount, report == null ? null : Path.of(report),
                json == null ? null : Path.of(json), wait, List.copyOf(warnings));
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
