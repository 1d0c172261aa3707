package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code parley deploy --dry-run}: the plan of a real run, every command in order (built by the same code the steps
 * run), printed without running any, and the service written as Knative YAML for review or a declarative setup.
 */
final class DryRun {
    private final DeployContext context;

    DryRun(DeployContext context) {
        this.context = context;
    }

    int run() {
        DeployOptions options = context.options();
        String image = options.image().orElse(context.builtImage());
        ServiceSpec spec = ServiceSpec.of(options, image);
        List<String> plan = plan(spec, image);
        writeYaml(spec, options.yaml());
        String replace = Gcloud.line(List.of("run", "services", "replace", options.yaml().toString(), "--project",
                options.project(), "--region", options.region()));
        PrintStream out = context.cli().out();
        if (options.json()) {
            ObjectNode summary = Json.object();
            summary.put("result", "dry_run").put("exit_code", DeployExit.OK.code());
            new DeployReport(context).facts(summary, DeployState.start());
            summary.put("image", image);
            ArrayNode list = summary.putArray("commands");
            plan.stream().filter(line -> !line.startsWith("#")).forEach(list::add);
            summary.put("yaml", options.yaml().toString()).put("replace_command", replace);
            out.println(Json.write(summary));
        } else {
            out.println("# parley deploy --dry-run: nothing was run. A real run runs these, in order:");
            plan.forEach(out::println);
            out.println();
            out.println("# The service as YAML: " + options.yaml());
            out.println("# (the declarative route, without the no-traffic validation: " + replace + ")");
        }
        return DeployExit.OK.code();
    }

    /** The commands of a real run, in order, each step under a {@code #} heading. */
    private List<String> plan(ServiceSpec spec, String image) {
        DeployOptions options = context.options();
        String tag = context.tag();
        List<String> plan = new ArrayList<>();
        plan.add("# preflight");
        plan.add(Gcloud.line(Gcloud.activeAccount()));
        plan.add(Gcloud.line(Gcloud.projectNumber(options.project())));
        plan.add(Gcloud.line(Gcloud.enabledApis(options.project())) + "   # needs "
                + String.join(", ", context.requiredApis()));
        if (options.buildsImage()) {
            plan.add(Gcloud.line(Gcloud.repository(options.repository(), options.region(), options.project())));
        }
        options.secrets().values()
                .forEach(secret -> plan.add(Gcloud.line(Gcloud.secret(secret.name(), options.project()))));
        if (options.buildsImage()) {
            plan.add("# image");
            plan.add(Gcloud.shell(context.imageCommand(image)) + "   # prints IMAGE@sha256:DIGEST, which is deployed");
        }
        plan.add("# service: exists? (exit 1 with \"Cannot find service\" means it does not)");
        plan.add(Gcloud.line(Gcloud.describeService(options.service(), options.region(), options.project())));
        plan.add("# deploy (without --no-traffic when the service does not exist yet)");
        plan.add(Gcloud.line(spec.deployCommand(tag, true)));
        plan.add("# ready: repeated until condition Ready is True");
        plan.add(Gcloud.line(Gcloud.describeRevision("REVISION", options.region(), options.project())));
        plan.add("# validate the tag's own URL");
        plan.add(Gcloud.shell(context.validateCommand("TAG_URL")));
        if (!options.noTraffic()) {
            plan.add("# traffic");
            plan.add(Gcloud.line(Gcloud.moveTraffic(options.service(), options.region(), options.project(), "REVISION",
                    tag)));
            plan.add(Gcloud.line(Gcloud.describeService(options.service(), options.region(), options.project())));
        }
        return plan;
    }

    private static void writeYaml(ServiceSpec spec, Path yaml) {
        try {
            Path parent = yaml.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(yaml, spec.knativeYaml());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + yaml, e);
        }
    }
}
