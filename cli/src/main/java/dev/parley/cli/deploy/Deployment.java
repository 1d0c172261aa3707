package dev.parley.cli.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.cli.Cli;
import dev.parley.cli.CommandRunner;
import dev.parley.cli.deploy.DeployOptions.SecretRef;
import dev.parley.protocol.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * One run of {@code parley deploy}: the steps in order (preflight, image, service, deploy, ready, validate, traffic),
 * each printing its progress on standard error and throwing a {@link DeployFailure} that names its exit class.
 * Nothing before the last step changes which revision serves traffic, so a failure anywhere leaves traffic where it
 * was. Owned by one thread; created per run.
 */
final class Deployment {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC);
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(30);
    private static final Duration VALIDATE_TIMEOUT = Duration.ofMinutes(15);

    /** One entry of a service's traffic split. */
    record Target(String revision, int percent, String tag) {
        @Override
        public String toString() {
            return revision + " " + percent + "%" + (tag == null ? "" : " (tag " + tag + ")");
        }
    }

    private final Cli cli;
    private final DeployOptions options;
    private final CommandRunner runner;
    private final List<String> commands = new ArrayList<>();
    private final int steps;
    private int step;
    private Gcloud gcloud;

    private String version;
    private String tag;
    private String account;
    private String projectNumber;
    private String image;
    private boolean newService;
    private List<Target> trafficBefore = List.of();
    private List<Target> trafficAfter = List.of();
    private String serviceUrl;
    private String revision;
    private String tagUrl;
    private Integer validatorExit;
    private Path report;
    private Path reportJson;

    Deployment(Cli cli, DeployOptions options) {
        this.cli = cli;
        this.options = options;
        this.runner = new CommandRunner(cli.env(), cli.workDir());
        this.steps = options.noTraffic() ? 6 : 7;
    }

    int run() {
        version = version();
        tag = options.tag().orElse("cand-" + (version.matches("[0-9a-f]{12}") ? version.substring(0, 7) : version));
        if (options.dryRun()) {
            return dryRun();
        }
        cli.err().printf("parley deploy: service %s in project %s, region %s%n", options.service(), options.project(),
                options.region());
        try {
            preflight();
            image();
            readService();
            deploy();
            awaitReady();
            validate();
            if (options.noTraffic()) {
                return finish(DeployExit.OK, "validated", null);
            }
            promote();
            return finish(DeployExit.OK, "promoted", null);
        } catch (DeployFailure failure) {
            return finish(failure.exit(), "failed", failure);
        } catch (RuntimeException e) {
            return finish(DeployExit.INTERNAL, "failed", new DeployFailure(DeployExit.INTERNAL,
                    "unexpected error: " + e, "Report this with the output above."));
        }
    }

    // --- steps --------------------------------------------------------------------------------------------------

    private void preflight() {
        begin("Preflight: gcloud, account, project, APIs, secrets");
        Path executable = runner.find("gcloud").orElseThrow(() -> new DeployFailure(DeployExit.NO_GCLOUD,
                "gcloud is not on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), "
                        + "then run `gcloud auth login`", List.of()));
        gcloud = new Gcloud(runner, executable, this::ran);
        detail("gcloud: " + executable);

        CommandRunner.Result accounts = gcloud.run(Gcloud.activeAccount());
        account = accounts.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).findFirst().orElse(null);
        if (!accounts.ok() || account == null) {
            throw new DeployFailure(DeployExit.NOT_AUTHENTICATED, "gcloud has no active account"
                    + (accounts.ok() ? "" : " (" + Gcloud.error(accounts) + ")")
                    + ": run `gcloud auth login` (on a build machine: `gcloud auth activate-service-account "
                    + "--key-file=KEY.json`)", List.of());
        }
        detail("account: " + account);

        CommandRunner.Result project = gcloud.run(Gcloud.projectNumber(options.project()));
        if (!project.ok()) {
            throw new DeployFailure(DeployExit.PROJECT_UNREACHABLE, "project " + options.project()
                    + " is not reachable as " + account + " (" + Gcloud.error(project) + "): check the id with "
                    + "`gcloud projects list` and that " + account + " has a role on the project", List.of());
        }
        projectNumber = project.stdout().strip();
        detail("project: " + options.project() + " (number " + projectNumber + ")");

        CommandRunner.Result apis = gcloud.run(Gcloud.enabledApis(options.project()));
        if (!apis.ok()) {
            throw new DeployFailure(DeployExit.API_DISABLED, "the enabled APIs of project " + options.project()
                    + " cannot be listed (" + Gcloud.error(apis) + "): " + account + " needs "
                    + "roles/serviceusage.serviceUsageViewer", List.of());
        }
        Set<String> enabled = apis.stdout().lines().map(String::strip).collect(Collectors.toSet());
        List<String> missing = requiredApis().stream().filter(api -> !enabled.contains(api)).toList();
        if (!missing.isEmpty()) {
            throw new DeployFailure(DeployExit.API_DISABLED, missing.stream()
                    .map(api -> "API " + api + " is not enabled in project " + options.project()
                            + ": enable it with `gcloud services enable " + api + " --project " + options.project() + "`")
                    .collect(Collectors.joining("\n")), List.of());
        }
        detail("APIs enabled: " + String.join(", ", requiredApis()));

        if (options.buildsImage()) {
            CommandRunner.Result repository = gcloud.run(Gcloud.repository(options.repository(), options.region(),
                    options.project()));
            if (!repository.ok()) {
                throw new DeployFailure(DeployExit.REPOSITORY_MISSING, "Artifact Registry repository "
                        + options.repository() + " is not usable in " + options.region() + " (" + Gcloud.error(repository)
                        + "): create it with `gcloud artifacts repositories create " + options.repository()
                        + " --repository-format=docker --location=" + options.region() + " --project="
                        + options.project() + "`", List.of());
            }
            if (runner.find("docker-credential-gcloud").isEmpty()) {
                throw new DeployFailure(DeployExit.BUILD_FAILED, "docker-credential-gcloud is not on PATH: the image "
                        + "push authenticates with it; it ships with the Google Cloud CLI, in the same bin directory "
                        + "as gcloud", List.of());
            }
            detail("repository: " + registry());
        }

        List<String> secretProblems = new ArrayList<>();
        for (Map.Entry<String, SecretRef> entry : options.secrets().entrySet()) {
            String name = entry.getValue().name();
            CommandRunner.Result secret = gcloud.run(Gcloud.secret(name, options.project()));
            if (secret.ok()) {
                continue;
            }
            String error = Gcloud.error(secret);
            if (error.contains("NOT_FOUND")) {
                secretProblems.add("secret " + name + " (for " + entry.getKey() + ") does not exist in project "
                        + options.project() + ": create it with `printf %s " + example(entry.getKey())
                        + " | gcloud secrets create " + name + " --data-file=- --project " + options.project() + "`");
            } else {
                secretProblems.add("secret " + name + " (for " + entry.getKey() + ") cannot be read (" + error
                        + "): " + account + " needs roles/secretmanager.viewer on it");
            }
        }
        if (!secretProblems.isEmpty()) {
            throw new DeployFailure(DeployExit.SECRET_MISSING, String.join("\n", secretProblems), List.of());
        }
        detail("secrets present: " + options.secrets().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", ")));
    }

    private void image() {
        if (options.image().isPresent()) {
            begin("Image: " + options.image().get() + " (given)");
            image = options.image().get();
            return;
        }
        String target = registry() + "/parley:" + version;
        begin("Image: building and pushing " + target);
        List<String> command = new ArrayList<>(imageCommand());
        command.addAll(List.of("--push", target));
        ran(Gcloud.shell(command));
        CommandRunner.Result build;
        try {
            build = runner.run(command, BUILD_TIMEOUT, cli.err(), cli.err());
        } catch (CommandRunner.MissingProgramException e) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "the image builder cannot run: " + e.getMessage(),
                    "Run from a Parley checkout (bin/image.sh) or set PARLEY_IMAGE_COMMAND.");
        }
        if (!build.ok()) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "the image build or push failed ("
                    + (build.timedOut() ? "timed out after " + BUILD_TIMEOUT.toMinutes() + " min" : "exit " + build.exitCode())
                    + "); its output is above", "Fix the build, or deploy an existing image with --image REF.");
        }
        String last = build.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).reduce((a, b) -> b).orElse("");
        if (!last.matches("\\S+@sha256:[0-9a-f]{64}")) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "the image builder did not end with the pushed "
                    + "reference and its digest (its last line was '" + last + "')", List.of());
        }
        image = last;
        detail("pushed " + image);
    }

    private void readService() {
        begin("Service: reading " + options.service());
        CommandRunner.Result described = gcloud.run(Gcloud.describeService(options.service(), options.region(),
                options.project()));
        if (!described.ok()) {
            String error = Gcloud.error(described);
            if (!error.contains("Cannot find service")) {
                throw new DeployFailure(DeployExit.DEPLOY_FAILED, "service " + options.service() + " cannot be read ("
                        + error + ")", account + " needs roles/run.developer on the project or the service.");
            }
            newService = true;
            detail("not found: this deploy creates it, and Cloud Run makes a new service's first revision serve at "
                    + "once, so it is validated while it already serves");
            return;
        }
        JsonNode service = parse(described.stdout(), "gcloud run services describe");
        trafficBefore = serving(service);
        serviceUrl = service.path("status").path("url").asText(null);
        detail("serving now: " + describe(trafficBefore));
    }

    private void deploy() {
        ServiceSpec spec = ServiceSpec.of(options, image);
        begin("Deploy: new revision of " + options.service() + " tagged " + tag
                + (newService ? " (new service: it takes traffic at once)" : ", without traffic"));
        List<String> args = spec.deployCommand(tag, !newService);
        CommandRunner.Result deployed = gcloud.run(args, Gcloud.DEPLOY_TIMEOUT);
        if (!deployed.ok()) {
            throw deployFailure(deployed);
        }
        JsonNode service = deployed.stdout().isBlank() ? null : parse(deployed.stdout(), "gcloud run deploy");
        Optional<JsonNode> tagged = service == null ? Optional.empty() : taggedTarget(service);
        if (tagged.isEmpty()) {
            CommandRunner.Result described = gcloud.run(Gcloud.describeService(options.service(), options.region(),
                    options.project()));
            if (described.ok()) {
                service = parse(described.stdout(), "gcloud run services describe");
                tagged = taggedTarget(service);
            }
        }
        if (tagged.isEmpty()) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, "the service has no traffic target tagged " + tag
                    + " after the deploy", "Look at the service: " + Gcloud.line(Gcloud.describeService(
                    options.service(), options.region(), options.project())));
        }
        revision = tagged.get().path("revisionName").asText();
        tagUrl = tagged.get().path("url").asText(null);
        if (tagUrl == null || tagUrl.isBlank()) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, "revision " + revision + " has no URL for tag " + tag,
                    List.of());
        }
        if (service.path("status").hasNonNull("url")) {
            serviceUrl = service.path("status").path("url").asText();
        }
        detail("revision " + revision + " at " + tagUrl);
    }

    private DeployFailure deployFailure(CommandRunner.Result deployed) {
        String error = Gcloud.error(deployed);
        List<String> next = new ArrayList<>();
        deployed.stderr().lines().filter(line -> line.startsWith("Logs URL: ")).findFirst()
                .ifPresent(line -> next.add("Read the revision's logs: " + line.substring("Logs URL: ".length())));
        if (error.contains("is not ready and cannot serve traffic")) {
            if (error.contains("Permission denied on secret")) {
                next.add("Give the revision's service account roles/secretmanager.secretAccessor on the secret named "
                        + "above.");
            } else if (error.contains("Image '") && error.contains("not found")) {
                next.add("Check the image reference; push it first or deploy without --image to build one.");
            } else {
                next.add("The container did not answer its startup probe (/health/ready on port " + ServiceSpec.PORT
                        + "); the logs say why (often configuration: a secret's value, the database URL).");
            }
            next.add(trafficStatement());
            return new DeployFailure(DeployExit.REVISION_NOT_READY, "the new revision did not start: " + error, next);
        }
        if (deployed.timedOut()) {
            next.add("It may still finish: " + Gcloud.line(Gcloud.describeService(options.service(), options.region(),
                    options.project())));
        }
        next.add(trafficStatement());
        return new DeployFailure(DeployExit.DEPLOY_FAILED, "gcloud run deploy failed: " + error, next);
    }

    private void awaitReady() {
        begin("Ready: waiting for revision " + revision);
        Instant deadline = cli.clock().instant().plus(options.readyTimeout());
        while (true) {
            CommandRunner.Result described = gcloud.run(Gcloud.describeRevision(revision, options.region(),
                    options.project()));
            if (!described.ok()) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " cannot be read ("
                        + Gcloud.error(described) + ")", trafficStatement());
            }
            JsonNode ready = condition(parse(described.stdout(), "gcloud run revisions describe"), "Ready");
            String status = ready.path("status").asText("Unknown");
            if (status.equals("True")) {
                detail("revision " + revision + " is Ready");
                return;
            }
            if (status.equals("False")) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " is not Ready: "
                        + ready.path("message").asText(ready.path("reason").asText("no reason given")),
                        List.of(trafficStatement()));
            }
            if (!cli.clock().instant().plus(options.pollInterval()).isBefore(deadline)) {
                throw new DeployFailure(DeployExit.REVISION_NOT_READY, "revision " + revision + " did not become Ready "
                        + "within " + format(options.readyTimeout()) + " (Ready is " + status + ")",
                        List.of(trafficStatement(), "Follow it with: " + Gcloud.line(Gcloud.describeRevision(revision,
                                options.region(), options.project()))));
            }
            pause(options.pollInterval());
        }
    }

    private void validate() {
        begin("Validate: " + tagUrl);
        try {
            Files.createDirectories(options.reportDir());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the report directory " + options.reportDir(), e);
        }
        report = options.reportDir().resolve("validation-" + tag + ".md");
        reportJson = options.reportDir().resolve("validation-" + tag + ".json");
        List<String> command = validateCommand(tagUrl);
        ran(Gcloud.shell(command));
        CommandRunner.Result validation;
        try {
            validation = runner.run(command, VALIDATE_TIMEOUT, cli.err(), cli.err());
        } catch (CommandRunner.MissingProgramException e) {
            throw new DeployFailure(DeployExit.VALIDATION_FAILED, "the validator cannot run: " + e.getMessage(),
                    List.of(trafficStatement(), "Run from a Parley checkout (bin/parley) or set PARLEY_VALIDATE_COMMAND."));
        }
        validatorExit = validation.timedOut() ? -1 : validation.exitCode();
        if (!validation.ok()) {
            List<String> next = new ArrayList<>();
            next.add(trafficStatement());
            next.add("Read the report: " + report + " (JSON: " + reportJson + ")");
            if (newService) {
                next.add("The service is new, so this revision already serves its traffic: fix and deploy again, or "
                        + "delete the service: gcloud run services delete " + options.service() + " --region "
                        + options.region() + " --project " + options.project());
            } else {
                next.add("The revision stays reachable at " + tagUrl + " for a closer look; drop its tag afterwards "
                        + "(an addressable revision keeps its minimum instances running): gcloud run services "
                        + "update-traffic " + options.service() + " --region " + options.region() + " --project "
                        + options.project() + " --remove-tags " + tag);
            }
            throw new DeployFailure(DeployExit.VALIDATION_FAILED, "revision " + revision + " failed validation at "
                    + tagUrl + " (" + (validation.timedOut() ? "timed out" : "validator exit " + validation.exitCode())
                    + ")", next);
        }
        detail("passed; report: " + report);
    }

    private void promote() {
        begin("Traffic: all of it to " + revision);
        CommandRunner.Result moved = gcloud.run(Gcloud.moveTraffic(options.service(), options.region(),
                options.project(), revision, tag));
        if (!moved.ok()) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "moving traffic to " + revision + " failed: "
                    + Gcloud.error(moved), List.of(trafficStatement(), "Try again: " + Gcloud.line(Gcloud.moveTraffic(
                    options.service(), options.region(), options.project(), revision, tag))));
        }
        CommandRunner.Result described = gcloud.run(Gcloud.describeService(options.service(), options.region(),
                options.project()));
        if (!described.ok()) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "the traffic split cannot be read back ("
                    + Gcloud.error(described) + ")", List.of("Check it: " + Gcloud.line(Gcloud.describeService(
                    options.service(), options.region(), options.project()))));
        }
        JsonNode service = parse(described.stdout(), "gcloud run services describe");
        trafficAfter = serving(service);
        serviceUrl = service.path("status").path("url").asText(serviceUrl);
        int share = trafficAfter.stream().filter(t -> t.revision().equals(revision)).mapToInt(Target::percent).sum();
        if (share != 100) {
            throw new DeployFailure(DeployExit.TRAFFIC_FAILED, "after the move " + revision + " serves " + share
                    + "% (traffic: " + describe(trafficAfter) + ")", rollback().map(List::of).orElse(List.of()));
        }
        detail(revision + " serves 100% at " + serviceUrl);
    }

    // --- dry run ------------------------------------------------------------------------------------------------

    private int dryRun() {
        String plannedImage = options.image().orElse(registry() + "/parley:" + version);
        ServiceSpec spec = ServiceSpec.of(options, plannedImage);
        List<String> plan = new ArrayList<>();
        plan.add("# preflight");
        plan.add(Gcloud.line(Gcloud.activeAccount()));
        plan.add(Gcloud.line(Gcloud.projectNumber(options.project())));
        plan.add(Gcloud.line(Gcloud.enabledApis(options.project())) + "   # needs " + String.join(", ", requiredApis()));
        if (options.buildsImage()) {
            plan.add(Gcloud.line(Gcloud.repository(options.repository(), options.region(), options.project())));
        }
        options.secrets().values().forEach(secret -> plan.add(Gcloud.line(Gcloud.secret(secret.name(), options.project()))));
        if (options.buildsImage()) {
            plan.add("# image");
            List<String> build = new ArrayList<>(imageCommand());
            build.addAll(List.of("--push", plannedImage));
            plan.add(Gcloud.shell(build) + "   # prints IMAGE@sha256:DIGEST, which is deployed");
        }
        plan.add("# service: exists? (exit 1 with \"Cannot find service\" means it does not)");
        plan.add(Gcloud.line(Gcloud.describeService(options.service(), options.region(), options.project())));
        plan.add("# deploy (without --no-traffic when the service does not exist yet)");
        plan.add(Gcloud.line(spec.deployCommand(tag, true)));
        plan.add("# ready: repeated until condition Ready is True");
        plan.add(Gcloud.line(Gcloud.describeRevision("REVISION", options.region(), options.project())));
        plan.add("# validate the tag's own URL");
        plan.add(Gcloud.shell(validateCommand("TAG_URL")));
        if (!options.noTraffic()) {
            plan.add("# traffic");
            plan.add(Gcloud.line(Gcloud.moveTraffic(options.service(), options.region(), options.project(), "REVISION",
                    tag)));
            plan.add(Gcloud.line(Gcloud.describeService(options.service(), options.region(), options.project())));
        }
        try {
            Path parent = options.yaml().toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(options.yaml(), spec.knativeYaml());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + options.yaml(), e);
        }
        String replace = Gcloud.line(List.of("run", "services", "replace", options.yaml().toString(), "--project",
                options.project(), "--region", options.region()));
        if (options.json()) {
            ObjectNode summary = Json.object();
            summary.put("result", "dry_run").put("exit_code", 0);
            facts(summary);
            summary.put("image", plannedImage);
            ArrayNode list = summary.putArray("commands");
            plan.stream().filter(line -> !line.startsWith("#")).forEach(list::add);
            summary.put("yaml", options.yaml().toString()).put("replace_command", replace);
            cli.out().println(Json.write(summary));
        } else {
            cli.out().println("# parley deploy --dry-run: nothing was run. A real run runs these, in order:");
            plan.forEach(cli.out()::println);
            cli.out().println();
            cli.out().println("# The service as YAML: " + options.yaml());
            cli.out().println("# (the declarative route, without the no-traffic validation: " + replace + ")");
        }
        return DeployExit.OK.code();
    }

    // --- the end --------------------------------------------------------------------------------------------------

    private int finish(DeployExit exit, String result, DeployFailure failure) {
        if (failure != null) {
            failure.getMessage().lines().forEach(line -> cli.err().println("parley deploy: " + line));
            failure.nextSteps().forEach(line -> cli.err().println("  " + line));
            cli.err().printf("parley deploy: failed (exit %d, %s)%n", exit.code(), exit.name().toLowerCase(Locale.ROOT));
        }
        if (options.json()) {
            ObjectNode summary = Json.object();
            summary.put("result", result).put("exit_code", exit.code());
            if (failure != null) {
                ObjectNode error = summary.putObject("failure");
                error.put("class", exit.name().toLowerCase(Locale.ROOT)).put("message", failure.getMessage());
                ArrayNode next = error.putArray("next_steps");
                failure.nextSteps().forEach(next::add);
            }
            facts(summary);
            cli.out().println(Json.write(summary));
        } else if (failure == null) {
            human(result);
        }
        return exit.code();
    }

    private void human(String result) {
        if (result.equals("validated")) {
            cli.out().println("Validated " + revision + " (image " + image + ").");
            if (newService) {
                cli.out().println("As the new service's first revision it already serves all traffic: " + serviceUrl);
            } else {
                cli.out().println("It has no traffic; its tag URL reaches it: " + tagUrl);
                cli.out().println("Promote: " + Gcloud.line(Gcloud.moveTraffic(options.service(), options.region(),
                        options.project(), revision, tag)));
            }
        } else {
            cli.out().println("Deployed " + revision + " (image " + image + ") to " + options.service() + " in "
                    + options.project() + "/" + options.region() + ".");
            cli.out().println("Service URL: " + serviceUrl);
            cli.out().println("Traffic: " + describe(trafficAfter));
            rollback().ifPresent(line -> cli.out().println("Roll back: " + line));
        }
        cli.out().println("Validation report: " + report);
    }

    private void facts(ObjectNode summary) {
        summary.put("project", options.project()).put("region", options.region()).put("service", options.service());
        summary.put("image", image).put("tag", tag).put("revision", revision).put("tag_url", tagUrl)
                .put("service_url", serviceUrl).put("new_service", newService).put("account", account)
                .put("project_number", projectNumber);
        targets(summary.putArray("traffic_before"), trafficBefore);
        targets(summary.putArray("traffic_after"), trafficAfter);
        rollback().ifPresent(line -> summary.put("rollback_command", line));
        if (validatorExit != null) {
            summary.putObject("validation").put("exit_code", validatorExit).put("report", String.valueOf(report))
                    .put("json", String.valueOf(reportJson));
        } else {
            summary.putNull("validation");
        }
        ArrayNode list = summary.putArray("commands");
        commands.forEach(list::add);
    }

    private static void targets(ArrayNode into, List<Target> targets) {
        targets.forEach(t -> {
            ObjectNode node = into.addObject().put("revision", t.revision()).put("percent", t.percent());
            if (t.tag() != null) {
                node.put("tag", t.tag());
            }
        });
    }

    // --- helpers --------------------------------------------------------------------------------------------------

    private void begin(String title) {
        step++;
        cli.err().printf("[%d/%d] %s%n", step, steps, title);
    }

    private void detail(String text) {
        cli.err().println("      " + text);
    }

    private void ran(String line) {
        commands.add(line);
        cli.err().println("      $ " + line);
    }

    private List<String> requiredApis() {
        Set<String> apis = new LinkedHashSet<>();
        apis.add("run.googleapis.com");
        if (!options.secrets().isEmpty()) {
            apis.add("secretmanager.googleapis.com");
        }
        if (options.buildsImage()) {
            apis.add("artifactregistry.googleapis.com");
        }
        return List.copyOf(apis);
    }

    private String registry() {
        return options.region() + "-docker.pkg.dev/" + options.project() + "/" + options.repository();
    }

    private List<String> imageCommand() {
        return command("PARLEY_IMAGE_COMMAND", List.of(cli.home().resolve("bin/image.sh").toString()));
    }

    private List<String> validateCommand(String url) {
        List<String> command = new ArrayList<>(command("PARLEY_VALIDATE_COMMAND",
                List.of(cli.home().resolve("bin/parley").toString(), "validate")));
        command.addAll(List.of("--url", url, "--register", "--report", String.valueOf(report == null
                ? options.reportDir().resolve("validation-" + tag + ".md") : report), "--json", String.valueOf(
                reportJson == null ? options.reportDir().resolve("validation-" + tag + ".json") : reportJson)));
        return command;
    }

    private List<String> command(String variable, List<String> fallback) {
        String override = cli.env().get(variable);
        if (override == null || override.isBlank()) {
            return fallback;
        }
        return Arrays.stream(override.strip().split("\\s+")).toList();
    }

    /** The git commit of the checkout (12 hex digits), else a UTC time stamp. */
    private String version() {
        if (runner.find("git").isPresent() && Files.exists(cli.home().resolve(".git"))) {
            CommandRunner.Result head = runner.run(List.of("git", "-C", cli.home().toString(), "rev-parse",
                    "--short=12", "HEAD"), Duration.ofSeconds(10));
            String sha = head.stdout().strip();
            if (head.ok() && sha.matches("[0-9a-f]{12}")) {
                return sha;
            }
        }
        return STAMP.format(cli.clock().instant());
    }

    private Optional<JsonNode> taggedTarget(JsonNode service) {
        for (JsonNode target : service.path("status").path("traffic")) {
            if (tag.equals(target.path("tag").asText())) {
                return Optional.of(target);
            }
        }
        return Optional.empty();
    }

    private static List<Target> serving(JsonNode service) {
        List<Target> targets = new ArrayList<>();
        for (JsonNode target : service.path("status").path("traffic")) {
            int percent = target.path("percent").asInt(0);
            if (percent > 0) {
                targets.add(new Target(target.path("revisionName").asText(), percent,
                        target.hasNonNull("tag") ? target.path("tag").asText() : null));
            }
        }
        return targets;
    }

    private static JsonNode condition(JsonNode resource, String type) {
        for (JsonNode condition : resource.path("status").path("conditions")) {
            if (type.equals(condition.path("type").asText())) {
                return condition;
            }
        }
        return Json.object();
    }

    private String trafficStatement() {
        if (newService) {
            return "Traffic: the service did not exist before this deploy.";
        }
        return "Traffic is unchanged: " + describe(trafficBefore) + ".";
    }

    private Optional<String> rollback() {
        if (trafficBefore.isEmpty() || trafficAfter.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Gcloud.line(List.of("run", "services", "update-traffic", options.service(), "--project",
                options.project(), "--region", options.region(), "--to-revisions", trafficBefore.stream()
                        .map(t -> t.revision() + "=" + t.percent()).collect(Collectors.joining(",")))));
    }

    private static String format(Duration duration) {
        if (duration.compareTo(Duration.ofSeconds(1)) < 0) {
            return duration.toMillis() + " ms";
        }
        return duration.compareTo(Duration.ofMinutes(2)) < 0 ? duration.toSeconds() + " s" : duration.toMinutes() + " min";
    }

    private static String describe(List<Target> targets) {
        return targets.isEmpty() ? "no revision" : targets.stream().map(Target::toString).collect(Collectors.joining(", "));
    }

    private static String example(String env) {
        return switch (env) {
            case "PARLEY_JWT_SECRET" -> "\"$(openssl rand -base64 48)\"";
            case "PARLEY_DATABASE_URL" -> "'jdbc:postgresql://HOST:5432/parley?user=parley&password=PASSWORD'";
            case "PARLEY_REDIS_URL" -> "'redis://HOST:6379'";
            default -> "'VALUE'";
        };
    }

    private static JsonNode parse(String text, String what) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new DeployFailure(DeployExit.DEPLOY_FAILED, what + " printed something that is not JSON: "
                    + e.getMessage(), List.of());
        }
    }

    private static void pause(Duration interval) {
        try {
            Thread.sleep(interval);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the revision", e);
        }
    }
}
