package dev.parley.cli.deploy;

import dev.parley.cli.CommandRunner;
import dev.parley.cli.deploy.DeployOptions.SecretRef;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Checks everything the deploy needs before it changes anything: gcloud on PATH, an active account, the project, its
 * APIs, the Artifact Registry repository (when building) and every secret. Each problem says what to run to fix it.
 */
final class PreflightStep implements DeployStep {
    private final DeployContext context;

    PreflightStep(DeployContext context) {
        this.context = context;
    }

    @Override
    public String title(DeployState state) {
        return "Preflight: gcloud, account, project, APIs, secrets";
    }

    @Override
    public DeployState run(DeployState state) {
        DeployOptions options = context.options();
        Progress progress = context.progress();
        Path executable = context.runner().find("gcloud").orElseThrow(() -> new DeployFailure(DeployExit.NO_GCLOUD,
                "gcloud is not on PATH: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install), "
                        + "then run `gcloud auth login`", List.of()));
        Gcloud gcloud = new Gcloud(context.runner(), executable, progress::ran);
        progress.detail("gcloud: " + executable);

        CommandRunner.Result accounts = gcloud.run(Gcloud.activeAccount());
        String account = accounts.stdout().lines().map(String::strip).filter(s -> !s.isEmpty()).findFirst()
                .orElse(null);
        if (!accounts.ok() || account == null) {
            throw new DeployFailure(DeployExit.NOT_AUTHENTICATED, "gcloud has no active account"
                    + (accounts.ok() ? "" : " (" + Gcloud.error(accounts) + ")")
                    + ": run `gcloud auth login` (on a build machine: `gcloud auth activate-service-account "
                    + "--key-file=KEY.json`)", List.of());
        }
        progress.detail("account: " + account);

        CommandRunner.Result project = gcloud.run(Gcloud.projectNumber(options.project()));
        if (!project.ok()) {
            throw new DeployFailure(DeployExit.PROJECT_UNREACHABLE, "project " + options.project()
                    + " is not reachable as " + account + " (" + Gcloud.error(project) + "): check the id with "
                    + "`gcloud projects list` and that " + account + " has a role on the project", List.of(),
                    state.withPreflight(gcloud, account, null));
        }
        String projectNumber = project.stdout().strip();
        progress.detail("project: " + options.project() + " (number " + projectNumber + ")");

        DeployState checked = state.withPreflight(gcloud, account, projectNumber);
        try {
            requireApis(gcloud, account);
            if (options.buildsImage()) {
                requireRepository(gcloud);
            }
            requireSecrets(gcloud, account);
        } catch (DeployFailure failure) {
            throw failure.knowing(checked);
        }
        return checked;
    }

    private void requireApis(Gcloud gcloud, String account) {
        DeployOptions options = context.options();
        CommandRunner.Result apis = gcloud.run(Gcloud.enabledApis(options.project()));
        if (!apis.ok()) {
            throw new DeployFailure(DeployExit.API_DISABLED, "the enabled APIs of project " + options.project()
                    + " cannot be listed (" + Gcloud.error(apis) + "): " + account + " needs "
                    + "roles/serviceusage.serviceUsageViewer", List.of());
        }
        Set<String> enabled = apis.stdout().lines().map(String::strip).collect(Collectors.toSet());
        List<String> missing = context.requiredApis().stream().filter(api -> !enabled.contains(api)).toList();
        if (!missing.isEmpty()) {
            throw new DeployFailure(DeployExit.API_DISABLED, missing.stream()
                    .map(api -> "API " + api + " is not enabled in project " + options.project()
                            + ": enable it with `gcloud services enable " + api + " --project " + options.project() + "`")
                    .collect(Collectors.joining("\n")), List.of());
        }
        context.progress().detail("APIs enabled: " + String.join(", ", context.requiredApis()));
    }

    private void requireRepository(Gcloud gcloud) {
        DeployOptions options = context.options();
        CommandRunner.Result repository = gcloud.run(Gcloud.repository(options.repository(), options.region(),
                options.project()));
        if (!repository.ok()) {
            throw new DeployFailure(DeployExit.REPOSITORY_MISSING, "Artifact Registry repository "
                    + options.repository() + " is not usable in " + options.region() + " (" + Gcloud.error(repository)
                    + "): create it with `gcloud artifacts repositories create " + options.repository()
                    + " --repository-format=docker --location=" + options.region() + " --project="
                    + options.project() + "`", List.of());
        }
        if (context.runner().find("docker-credential-gcloud").isEmpty()) {
            throw new DeployFailure(DeployExit.BUILD_FAILED, "docker-credential-gcloud is not on PATH: the image "
                    + "push authenticates with it; it ships with the Google Cloud CLI, in the same bin directory "
                    + "as gcloud", List.of());
        }
        context.progress().detail("repository: " + context.registry());
    }

    private void requireSecrets(Gcloud gcloud, String account) {
        DeployOptions options = context.options();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, SecretRef> entry : options.secrets().entrySet()) {
            String name = entry.getValue().name();
            CommandRunner.Result secret = gcloud.run(Gcloud.secret(name, options.project()));
            if (secret.ok()) {
                continue;
            }
            String error = Gcloud.error(secret);
            if (error.contains("NOT_FOUND")) {
                problems.add("secret " + name + " (for " + entry.getKey() + ") does not exist in project "
                        + options.project() + ": create it with `printf %s " + example(entry.getKey())
                        + " | gcloud secrets create " + name + " --data-file=- --project " + options.project() + "`");
            } else {
                problems.add("secret " + name + " (for " + entry.getKey() + ") cannot be read (" + error
                        + "): " + account + " needs roles/secretmanager.viewer on it");
            }
        }
        if (!problems.isEmpty()) {
            throw new DeployFailure(DeployExit.SECRET_MISSING, String.join("\n", problems), List.of());
        }
        context.progress().detail("secrets present: " + options.secrets().entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(", ")));
    }

    /** A value of the right shape for a secret, for the command that creates it. */
    private static String example(String env) {
        return switch (env) {
            case "PARLEY_JWT_SECRET" -> "\"$(openssl rand -base64 48)\"";
            case "PARLEY_DATABASE_URL" -> "'jdbc:postgresql://HOST:5432/parley?user=parley&password=PASSWORD'";
            case "PARLEY_REDIS_URL" -> "'redis://HOST:6379'";
            case DeployOptions.MCP_SERVERS -> "'[{\"id\":\"files\",\"url\":\"https://mcp.example.com/mcp\"}]'";
            case DeployOptions.MCP_CREDENTIALS_KEY -> "\"$(openssl rand -base64 32)\"";
            default -> "'VALUE'";
        };
    }
}
