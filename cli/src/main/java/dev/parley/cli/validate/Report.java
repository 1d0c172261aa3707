package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ServerEvent;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The validation report, as Markdown for people and JSON for tools. It holds only what the run observed: the
 * target and times, what the server said about itself, and for each check its result, duration, measured figures
 * and, for a failure, each expectation with what came back. Secrets are blanked (see {@link Frames#redact}).
 */
final class Report {
    private Report() {
    }

    static ObjectNode json(Validator.Outcome outcome) {
        Target target = outcome.target();
        ObjectNode root = Json.object();
        root.put("target", target.base().toString());
        root.put("started_at", ServerEvent.formatTimestamp(outcome.started()));
        root.put("finished_at", ServerEvent.formatTimestamp(outcome.finished()));
        root.put("duration_ms", Duration.between(outcome.started(), outcome.finished()).toMillis());
        ObjectNode server = root.putObject("server");
        putIfPresent(server, "service", target.serverService);
        putIfPresent(server, "version", target.serverVersion);
        putIfPresent(server, "revision", target.serverRevision);
        ObjectNode options = root.putObject("options");
        options.put("credentials", credentialsLabel(target.options));
        options.put("users", target.options.users());
        options.put("timeout_ms", target.options.timeout().toMillis());
        if (target.socketForm != null) {
            root.put("socket_credentials_used", target.socketForm.name().toLowerCase(Locale.ROOT));
        }
        ObjectNode summary = root.putObject("summary");
        summary.put("passed", outcome.passed());
        summary.put("failed", outcome.failed());
        summary.put("skipped", outcome.skipped());
        summary.put("target_unreachable", outcome.unreachable());
        summary.put("exit_code", outcome.exitCode());
        ArrayNode checks = root.putArray("checks");
        for (CheckResult result : outcome.results()) {
            ObjectNode check = checks.addObject();
            check.put("id", result.id());
            check.put("result", result.status().wire());
            if (result.status() == CheckResult.Status.SKIP) {
                check.put("reason", result.reason());
                check.put("skip_cause", result.skipCause().name().toLowerCase(Locale.ROOT));
                continue;
            }
            check.put("duration_ms", result.durationMs());
            ObjectNode measured = check.putObject("measured");
            result.measured().forEach((name, value) -> put(measured, name, value));
            if (!result.mismatches().isEmpty()) {
                ArrayNode failures = check.putArray("failures");
                for (CheckResult.Mismatch mismatch : result.mismatches()) {
                    failures.addObject().put("expected", Frames.redact(mismatch.expected()))
                            .put("actual", Frames.redact(mismatch.actual()));
                }
            }
        }
        return root;
    }

    static String markdown(Validator.Outcome outcome) {
        Target target = outcome.target();
        StringBuilder md = new StringBuilder();
        md.append("# Parley validation report\n\n");
        md.append("- Target: ").append(target.base()).append('\n');
        md.append("- Started: ").append(ServerEvent.formatTimestamp(outcome.started()))
                .append(", finished: ").append(ServerEvent.formatTimestamp(outcome.finished()))
                .append(" (").append(Duration.between(outcome.started(), outcome.finished()).toMillis()).append(" ms)\n");
        md.append("- Server (as GET /health reported it): ");
        if (target.serverVersion == null && target.serverRevision == null) {
            md.append("no version reported\n");
        } else {
            md.append(target.serverService == null ? "" : target.serverService + " ")
                    .append("version ").append(orDash(target.serverVersion))
                    .append(", revision ").append(orDash(target.serverRevision)).append('\n');
        }
        md.append("- Options: credentials ").append(credentialsLabel(target.options))
                .append(", users ").append(target.options.users())
                .append(", timeout ").append(target.options.timeout().toMillis()).append(" ms\n");
        if (target.socketForm != null) {
            md.append("- Sockets of the later checks opened with: ")
                    .append(target.socketForm.name().toLowerCase(Locale.ROOT)).append('\n');
        }
        md.append("- Result: ").append(outcome.passed()).append(" passed, ").append(outcome.failed())
                .append(" failed, ").append(outcome.skipped()).append(" skipped")
                .append(outcome.unreachable() ? "; the target could not be reached" : "")
                .append("; exit code ").append(outcome.exitCode()).append("\n\n");

        md.append("| Check | Result | Duration | Measured |\n|---|---|---|---|\n");
        for (CheckResult result : outcome.results()) {
            md.append("| `").append(result.id()).append("` | ").append(result.status().wire()).append(" | ");
            if (result.status() == CheckResult.Status.SKIP) {
                md.append("– | ").append(cell(result.reason())).append(" |\n");
            } else {
                md.append(result.durationMs()).append(" ms | ").append(cell(figures(result, Integer.MAX_VALUE)))
                        .append(" |\n");
            }
        }

        boolean anyFailure = outcome.results().stream().anyMatch(CheckResult::failed);
        if (anyFailure) {
            md.append("\n## Failures\n");
            for (CheckResult result : outcome.results()) {
                if (!result.failed()) {
                    continue;
                }
                md.append("\n### `").append(result.id()).append("`\n\n");
                for (CheckResult.Mismatch mismatch : result.mismatches()) {
                    md.append("- Expected: ").append(inline(mismatch.expected())).append('\n');
                    md.append("  Got: ").append(inline(mismatch.actual())).append('\n');
                }
            }
        }
        return md.toString();
    }

    /** "connect_ms=3, first_frame_ms=1" for the first {@code limit} figures. */
    static String figures(CheckResult result, int limit) {
        Map<String, Object> measured = result.measured();
        String listed = measured.entrySet().stream().limit(limit)
                .map(e -> e.getKey() + "=" + Frames.redact(String.valueOf(e.getValue())))
                .collect(Collectors.joining(", "));
        return measured.size() > limit ? listed + ", …" : listed;
    }

    private static String credentialsLabel(Options options) {
        return switch (options.credentials()) {
            case Options.Credentials.Register r -> "register";
            case Options.Credentials.Login l -> "login";
            case Options.Credentials.Token t -> "token";
        };
    }

    private static void put(ObjectNode node, String name, Object value) {
        switch (value) {
            case Integer i -> node.put(name, i);
            case Long l -> node.put(name, l);
            case Double d -> node.put(name, d);
            case Boolean b -> node.put(name, b);
            default -> node.put(name, Frames.redact(String.valueOf(value)));
        }
    }

    private static void putIfPresent(ObjectNode node, String name, String value) {
        if (value != null) {
            node.put(name, value);
        }
    }

    private static String orDash(String value) {
        return value == null ? "–" : value;
    }

    /** Table cells: one line, pipes escaped. */
    private static String cell(String text) {
        return Frames.redact(text).replace("\\", "\\\\").replace("|", "\\|").replaceAll("\\s+", " ");
    }

    /** Inline text in a list item: one line, with backticks so that JSON reads as code. */
    private static String inline(String text) {
        String flat = Frames.redact(text).replaceAll("\\s+", " ");
        if (flat.contains("{")) {
            String fence = flat.contains("`") ? "``" : "`";
            return fence + " " + flat + " " + fence;
        }
        return flat;
    }
}
