package dev.parley.cli.validate;

import dev.parley.cli.validate.CheckResult.SkipCause;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Function;

/**
 * Runs the checks in order against one target, one at a time, and prints one progress line per check. A check whose
 * prerequisite is missing (no user, no working socket form, no golden run) is skipped and says which one; when the
 * target cannot be reached at all, every check after {@code health} is skipped.
 */
final class Validator {
    /** Every check, in the order it runs. */
    static final List<String> CHECK_IDS = List.of(
            "health", "readiness",
            "auth.register", "auth.login", "auth.me",
            "socket.bearer", "socket.subprotocol", "socket.ticket", "socket.refuses_without_credentials",
            "socket.welcome", "socket.ping", "malformed_frame",
            "golden_path", "run_events", "isolation", "stop", "resume", "concurrent_users");

    /** The body of a check: measures into the probe and records what did not meet the contract. */
    @FunctionalInterface
    interface Body {
        void run(Target target, Probe probe) throws Exception;
    }

    /** What a run produced, for the report and the exit code. */
    record Outcome(Target target, List<CheckResult> results, boolean unreachable, Instant started, Instant finished) {
        long passed() {
            return results.stream().filter(CheckResult::passed).count();
        }

        long failed() {
            return results.stream().filter(CheckResult::failed).count();
        }

        long skipped() {
            return results.stream().filter(r -> r.status() == CheckResult.Status.SKIP).count();
        }

        /** 3 when the target could not be reached, 1 when a check failed or could not run, otherwise 0. */
        int exitCode() {
            if (unreachable) {
                return ValidateCommand.EXIT_UNREACHABLE;
            }
            boolean incomplete = results.stream().anyMatch(r -> r.failed() || r.skipCause() == SkipCause.BLOCKED);
            return incomplete ? ValidateCommand.EXIT_FAILED : ValidateCommand.EXIT_PASSED;
        }
    }

    private final Target target;
    private final PrintStream progress;
    private final Clock clock;
    private final List<CheckResult> results = new ArrayList<>();
    private boolean unreachable;

    Validator(Options options, PrintStream progress, Clock clock) {
        this.target = new Target(options);
        this.progress = progress;
        this.clock = clock;
    }

    Outcome run() {
        Instant started = clock.instant();
        Options options = target.options;
        progress.println("parley validate: " + target.base() + " (credentials: " + options.credentials().describe()
                + ", users: " + options.users() + ", timeout: " + options.timeout().toMillis() / 1000.0 + " s)");

        check("health", t -> Optional.empty(), ServerChecks::health);
        check("readiness", t -> Optional.empty(), ServerChecks::readiness);

        switch (options.credentials()) {
            case Options.Credentials.Register r -> {
                check("auth.register", t -> Optional.empty(), AuthChecks::register);
                check("auth.login", t -> t.primary == null
                        ? Optional.of("auth.register did not create a user to log in as") : Optional.empty(),
                        AuthChecks::loginAsRegistered);
            }
            case Options.Credentials.Login login -> {
                skip("auth.register", SkipCause.REQUESTED, "an existing account was given (--email)");
                check("auth.login", t -> Optional.empty(), (t, p) -> AuthChecks.login(t, p, login));
            }
            case Options.Credentials.Token token -> {
                skip("auth.register", SkipCause.REQUESTED, "a token was given (--token)");
                skip("auth.login", SkipCause.REQUESTED, "a token was given (--token)");
                target.primary = new Account(null, null, token.token(), null);
            }
        }
        check("auth.me", t -> t.primary == null ? Optional.of("no access token: auth.register/auth.login failed")
                : Optional.empty(), AuthChecks::me);

        for (SocketForm form : SocketForm.values()) {
            check(form.checkId(), needsAccount(), (t, p) -> SocketChecks.connect(t, p, form));
        }
        check("socket.refuses_without_credentials", t -> Optional.empty(), SocketChecks::refusesWithoutCredentials);
        check("socket.welcome", needsSocket(), SocketChecks::welcome);
        check("socket.ping", needsSocket(), SocketChecks::ping);
        check("malformed_frame", needsSocket(), SocketChecks::malformedFrame);

        check("golden_path", needsSocket(), RunChecks::goldenPath);
        check("run_events", t -> t.goldenRunId == null
                ? Optional.of("golden_path did not start a run") : Optional.empty(), RunChecks::runEvents);
        check("isolation", needsSocket(), IsolationCheck::run);
        check("stop", needsSocket(), RunChecks::stop);
        check("resume", needsSocket(), RunChecks::resume);
        if (options.users() == 0) {
            skip("concurrent_users", SkipCause.REQUESTED, "--users 0");
        } else {
            check("concurrent_users", needsSocket(), ConcurrentUsersCheck::run);
        }
        return new Outcome(target, List.copyOf(results), unreachable, started, clock.instant());
    }

    /** A user with an access token and a known id (from the token pair, or from /auth/me for a given token). */
    private static Function<Target, Optional<String>> needsAccount() {
        return t -> hasAccount(t) ? Optional.empty()
                : Optional.of("no user: the auth checks did not yield a working access token");
    }

    private static boolean hasAccount(Target t) {
        return t.primary != null && t.primary.accessToken() != null && t.primary.userId() != null;
    }

    private static Function<Target, Optional<String>> needsSocket() {
        return t -> {
            if (!hasAccount(t)) {
                return Optional.of("no user: the auth checks did not yield a working access token");
            }
            return t.socketForm == null
                    ? Optional.of("no socket could be opened (socket.bearer, socket.subprotocol and socket.ticket failed)")
                    : Optional.empty();
        };
    }

    private void check(String id, Function<Target, Optional<String>> prerequisite, Body body) {
        if (unreachable) {
            skip(id, SkipCause.BLOCKED, "the target could not be reached");
            return;
        }
        Optional<String> missing = prerequisite.apply(target);
        if (missing.isPresent()) {
            skip(id, SkipCause.BLOCKED, missing.get());
            return;
        }
        Probe probe = new Probe();
        long started = System.nanoTime();
        try {
            body.run(target, probe);
        } catch (Probe.Stop stop) {
            // The mismatch that ended the check is recorded.
        } catch (UncheckedIOException e) {
            if (id.equals("health")) {
                unreachable = true;
                probe.mismatch("an answer from " + target.base(), "could not reach the target: " + e.getMessage());
            } else {
                probe.mismatch("an answer from the server", "no answer: " + e.getMessage());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            probe.mismatch("the check to run to its end", "interrupted");
        } catch (Exception e) {
            probe.mismatch("the check to run to its end", rootMessage(e));
        }
        long durationMs = Frames.millisBetween(started, System.nanoTime());
        record(CheckResult.finished(id, durationMs, probe.measured(), probe.mismatches()));
    }

    private void skip(String id, SkipCause cause, String reason) {
        record(CheckResult.skipped(id, cause, reason));
    }

    private void record(CheckResult result) {
        results.add(result);
        progress.println(progressLine(results.size(), CHECK_IDS.size(), result));
        progress.flush();
    }

    static String progressLine(int index, int total, CheckResult result) {
        String head = String.format(Locale.ROOT, "[%2d/%d] %-36s %-4s", index, total, result.id(),
                result.status().wire());
        return switch (result.status()) {
            case SKIP -> head + "           " + result.reason();
            case PASS -> head + String.format(Locale.ROOT, " %6d ms  ", result.durationMs()) + Report.figures(result, 6);
            case FAIL -> head + String.format(Locale.ROOT, " %6d ms  ", result.durationMs())
                    + "expected " + result.mismatches().getFirst().expected() + "; got "
                    + Frames.excerpt(result.mismatches().getFirst().actual())
                    + (result.mismatches().size() > 1 ? " (+" + (result.mismatches().size() - 1) + " more)" : "");
        };
    }

    private static String rootMessage(Throwable error) {
        Throwable cause = error;
        while (cause.getCause() != null && cause.getCause() != cause
                && (cause instanceof UncheckedIOException || cause instanceof java.util.concurrent.CompletionException
                || cause instanceof java.util.concurrent.ExecutionException)) {
            cause = cause.getCause();
        }
        String message = cause.getMessage();
        return cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
