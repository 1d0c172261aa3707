package dev.parley.cli.deploy;

import dev.parley.cli.Cli;
import dev.parley.cli.Usage;
import dev.parley.cli.UsageException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code parley deploy}: Parley to Google Cloud Run, validated on its own URL before it gets traffic. */
@Command(name = "deploy", sortOptions = false,
        header = "deploy to Google Cloud Run: a new revision, validated at its tag URL before it gets traffic",
        customSynopsis = "parley deploy --project PROJECT [OPTIONS]",
        description = {"",
            "Deploys Parley to Google Cloud Run without disturbing the revision that serves traffic: checks gcloud, "
                + "the account, the project, its APIs and the secrets; builds and pushes the image (or takes --image); "
                + "deploys a new revision with no traffic under a tag; waits until it is Ready; validates it at the "
                + "tag's own URL; and only then moves all traffic to it. A failure at any step leaves traffic where it "
                + "was. The first deploy of a service is the exception: Cloud Run makes a new service's first "
                + "revision serve at once, so it is validated while it already serves.",
            "",
            "Progress goes to standard error; the result, or with --json the summary as JSON, to standard output."},
        optionListHeading = "%nOptions:%n",
        footerHeading = "%nEnvironment:%n",
        footer = {
            "  PARLEY_VALIDATE_COMMAND   the validator to run instead of \"bin/parley validate\" (split on spaces)",
            "  PARLEY_IMAGE_COMMAND      the image builder to run instead of \"bin/image.sh\" (split on spaces)"})
public final class DeployCommand implements Callable<Integer> {

    @Option(names = "--project", paramLabel = "ID", description = "Google Cloud project (required)")
    String project;

    @Option(names = "--region", paramLabel = "REGION", description = "Cloud Run region (default us-central1)")
    String region;

    @Option(names = "--service", paramLabel = "NAME", description = "Cloud Run service (default parley)")
    String service;

    @Option(names = "--image", paramLabel = "REF", description = "deploy this image instead of building one")
    String image;

    @Option(names = "--build-local", description = {"build the image here with Jib (no Docker needed) and push it to "
            + "Artifact Registry; what happens when --image is not given"})
    boolean buildLocal;

    @Option(names = "--repository", paramLabel = "NAME",
            description = "Artifact Registry repository in the same region (default parley)")
    String repository;

    @Option(names = "--tag", paramLabel = "TAG", description = "traffic tag of the new revision (default cand-GITSHA)")
    String tag;

    @Option(names = "--no-traffic",
            description = "stop after validation: the new revision stays tagged, without traffic")
    boolean noTraffic;

    @Option(names = "--dry-run", description = "print every command without running any and write the service YAML")
    boolean dryRun;

    @Option(names = "--yaml", paramLabel = "FILE",
            description = "where --dry-run writes the YAML (default SERVICE-service.yaml)")
    String yaml;

    @Option(names = "--json", description = "print a machine-readable summary on standard output")
    boolean json;

    @Option(names = "--min-instances", paramLabel = "N", description = "instances kept warm, at least 1 (default 1)")
    String minInstances;

    @Option(names = "--max-instances", paramLabel = "N", description = "(default 10)")
    String maxInstances;

    @Option(names = "--concurrency", paramLabel = "N",
            description = "requests, that is open WebSockets, per instance, 1-1000 (default 1000)")
    String concurrency;

    @Option(names = "--service-account", paramLabel = "EMAIL",
            description = "the revision's identity; it must be able to read the secrets")
    String serviceAccount;

    @Option(names = "--secret", paramLabel = "ENV=NAME[:VER]", description = {"set ENV from Secret Manager secret NAME "
            + "(version: latest or a number; default latest); repeatable; ENV= drops a default. Defaults: "
            + "PARLEY_JWT_SECRET=parley-jwt-secret, PARLEY_DATABASE_URL=parley-database-url, "
            + "PARLEY_REDIS_URL=parley-redis-url, and with --llm-provider openai, anthropic or gemini "
            + "PARLEY_LLM_API_KEY=parley-llm-api-key. An MCP server's static credential (the variable its "
            + "auth.value_env names) is passed this way: --secret FILES_MCP_TOKEN=files-mcp-token"})
    List<String> secrets = new ArrayList<>();

    @Option(names = "--env", paramLabel = "KEY=VALUE", description = {"a plain environment variable; repeatable "
            + "(PARLEY_LOG_FORMAT=json and PARLEY_TRUSTED_PROXY_HOPS=1 are set)"})
    List<String> env = new ArrayList<>();

    @Option(names = "--llm-provider", paramLabel = "NAME",
            description = "openai, anthropic, gemini or ollama (sets PARLEY_LLM_PROVIDER)")
    String llmProvider;

    @Option(names = "--mcp-servers-secret", paramLabel = "NAME[:VER]",
            description = "set PARLEY_MCP_SERVERS (the MCP servers' JSON) from Secret Manager secret NAME")
    String mcpServersSecret;

    @Option(names = "--mcp-credentials-key-secret", paramLabel = "NAME[:VER]",
            description = "set PARLEY_MCP_CREDENTIALS_KEY (the key sealing users' MCP credentials, needed with "
                    + "auth mode user_secret) from Secret Manager secret NAME; needs --mcp-servers-secret")
    String mcpCredentialsKeySecret;

    @Option(names = "--report-dir", paramLabel = "DIR",
            description = "where the validation report is written (default: the working directory)")
    String reportDir;

    @Option(names = "--ready-timeout", paramLabel = "DURATION",
            description = "how long the new revision may take to become Ready (default 5m)")
    String readyTimeout;

    @Option(names = "--poll-interval", paramLabel = "DURATION",
            description = "how often its state is read meanwhile (default 5s)")
    String pollInterval;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this text")
    boolean help;

    @Spec
    CommandLine.Model.CommandSpec spec;

    private final Cli cli;

    private DeployCommand(Cli cli) {
        this.cli = cli;
    }

    /** The command as {@code parley deploy}, with the exit codes in its help. */
    public static CommandLine commandLine(Cli cli) {
        CommandLine line = new CommandLine(new DeployCommand(cli));
        Usage.exitCodes(line, Arrays.stream(DeployExit.values()).collect(Collectors.toMap(
                exit -> String.format("%2d", exit.code()), DeployExit::meaning, (a, b) -> a, LinkedHashMap::new)));
        return line;
    }

    /** Runs {@code parley deploy ARGS} in {@code cli}; the exit status is a {@link DeployExit} code. */
    static int run(List<String> args, Cli cli) {
        return Usage.execute(commandLine(cli), args, cli.out(), cli.err());
    }

    @Override
    public Integer call() {
        DeployOptions options;
        try {
            options = DeployOptions.from(new DeployOptions.Arguments(project, region, service, image, buildLocal,
                    repository, tag, noTraffic, dryRun, json, yaml, minInstances, maxInstances, concurrency,
                    serviceAccount, secrets, env, llmProvider, mcpServersSecret,
                    mcpCredentialsKeySecret, reportDir, readyTimeout, pollInterval), cli.workDir());
        } catch (UsageException e) {
            throw Usage.problem(spec.commandLine(), e.getMessage());
        }
        return new Deployment(cli, options).run();
    }
}
