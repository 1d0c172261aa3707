package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * How a deploy ends, in one place: a failure's message and next steps on standard error; the result for people on
 * standard output, or with {@code --json} the summary of everything known (whatever the outcome) as JSON.
 */
final class DeployReport {
    /** What a finished deploy reports as its {@code result}. */
    enum Result {
        PROMOTED, VALIDATED, FAILED;

        String jsonName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final DeployContext context;

    DeployReport(DeployContext context) {
        this.context = context;
    }

    /** Prints the end of the deploy and returns its exit status. */
    int finish(DeployState state, Result result, DeployExit exit, DeployFailure failure) {
        PrintStream err = context.cli().err();
        PrintStream out = context.cli().out();
        if (failure != null) {
            failure.getMessage().lines().forEach(line -> err.println("parley deploy: " + line));
            failure.nextSteps().forEach(line -> err.println("  " + line));
            err.printf("parley deploy: failed (exit %d, %s)%n", exit.code(), exit.name().toLowerCase(Locale.ROOT));
        }
        if (context.options().json()) {
            ObjectNode summary = Json.object();
            summary.put("result", result.jsonName()).put("exit_code", exit.code());
            if (failure != null) {
                ObjectNode error = summary.putObject("failure");
                error.put("class", exit.name().toLowerCase(Locale.ROOT)).put("message", failure.getMessage());
                ArrayNode next = error.putArray("next_steps");
                failure.nextSteps().forEach(next::add);
            }
            facts(summary, state);
            out.println(Json.write(summary));
        } else if (failure == null) {
            human(out, state, result);
        }
        return exit.code();
    }

    private void human(PrintStream out, DeployState state, Result result) {
        DeployOptions options = context.options();
        if (result == Result.VALIDATED) {
            out.println("Validated " + state.revision() + " (image " + state.image() + ").");
            if (state.newService()) {
                out.println("As the new service's first revision it already serves all traffic: "
                        + state.serviceUrl());
            } else {
                out.println("It has no traffic; its tag URL reaches it: " + state.tagUrl());
                out.println("Promote: " + Gcloud.line(Gcloud.moveTraffic(options.service(), options.region(),
                        options.project(), state.revision(), context.tag())));
            }
        } else {
            out.println("Deployed " + state.revision() + " (image " + state.image() + ") to " + options.service()
                    + " in " + options.project() + "/" + options.region() + ".");
            out.println("Service URL: " + state.serviceUrl());
            out.println("Traffic: " + TrafficTarget.describe(state.trafficAfter()));
            state.rollback(options).ifPresent(line -> out.println("Roll back: " + line));
        }
        out.println("Validation report: " + (state.validation() == null ? null : state.validation().report()));
    }

    /** The facts every JSON summary carries, a dry run's included. */
    void facts(ObjectNode summary, DeployState state) {
        DeployOptions options = context.options();
        summary.put("project", options.project()).put("region", options.region()).put("service", options.service());
        summary.put("image", state.image()).put("tag", context.tag()).put("revision", state.revision())
                .put("tag_url", state.tagUrl()).put("service_url", state.serviceUrl())
                .put("new_service", state.newService()).put("account", state.account())
                .put("project_number", state.projectNumber());
        targets(summary.putArray("traffic_before"), state.trafficBefore());
        targets(summary.putArray("traffic_after"), state.trafficAfter());
        state.rollback(options).ifPresent(line -> summary.put("rollback_command", line));
        if (state.validation() != null) {
            summary.putObject("validation").put("exit_code", state.validation().exitCode())
                    .put("report", String.valueOf(state.validation().report()))
                    .put("json", String.valueOf(state.validation().json()));
        } else {
            summary.putNull("validation");
        }
        ArrayNode list = summary.putArray("commands");
        context.progress().commands().forEach(list::add);
    }

    private static void targets(ArrayNode into, List<TrafficTarget> targets) {
        targets.forEach(t -> {
            ObjectNode node = into.addObject().put("revision", t.revision()).put("percent", t.percent());
            if (t.tag() != null) {
                node.put("tag", t.tag());
            }
        });
    }
}
