package dev.parley.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code parley deploy} against a fake gcloud that is a real executable first on PATH: the exact commands of the
 * happy path, and every failure class with its exit code, its message, and traffic left alone.
 */
class DeployCommandTest {
    private static final String IMAGE = "us-central1-docker.pkg.dev/parley-prod/parley/parley:1.0.0";
    private static final String OLD = "parley-00001-abc";
    private static final String NEW = "parley-00002-abc";
    private static final String TAG_URL = "https://cand-test---parley-abc123xyz-uc.a.run.app";

    @TempDir
    Path temp;
    FakeCloud cloud;

    @BeforeEach
    void setUp() throws Exception {
        cloud = new FakeCloud(temp).ready();
    }

    private FakeCloud.Outcome deploy(String... extra) {
        List<String> args = new ArrayList<>(List.of("--project", FakeCloud.PROJECT, "--image", IMAGE, "--tag", "cand-test"));
        args.addAll(List.of(extra));
        return cloud.deploy(args.toArray(String[]::new));
    }

    private static List<String> deployArgs(String image, boolean noTraffic) {
        List<String> args = new ArrayList<>(List.of("run", "deploy", "parley", "--project", FakeCloud.PROJECT,
                "--region", "us-central1", "--platform", "managed", "--image", image, "--port", "8080", "--cpu", "1",
                "--memory", "512Mi", "--timeout", "3600", "--concurrency", "1000", "--min-instances", "1",
                "--max-instances", "10", "--session-affinity", "--cpu-boost", "--no-cpu-throttling",
                "--execution-environment", "gen2",
                "--set-env-vars", "PARLEY_LOG_FORMAT=json,PARLEY_TRUSTED_PROXY_HOPS=1", "--set-secrets",
                "PARLEY_JWT_SECRET=parley-jwt-secret:latest,PARLEY_DATABASE_URL=parley-database-url:latest,"
                        + "PARLEY_REDIS_URL=parley-redis-url:latest",
                "--startup-probe", "httpGet.path=/health/ready,httpGet.port=8080,timeoutSeconds=2,periodSeconds=3,failureThreshold=40",
                "--liveness-probe", "httpGet.path=/health/live,httpGet.port=8080,timeoutSeconds=3,periodSeconds=15,failureThreshold=3",
                "--allow-unauthenticated", "--labels", "app=parley", "--tag", "cand-test"));
        if (noTraffic) {
            args.add("--no-traffic");
        }
        args.addAll(List.of("--quiet", "--format=json"));
        return args;
    }

    private static List<String> describeService() {
        return List.of("run", "services", "describe", "parley", "--project", FakeCloud.PROJECT, "--region",
                "us-central1", "--format=json");
    }

    @Test
    void existingServiceGetsANewRevisionWithoutTrafficThatIsValidatedAtItsTagUrlBeforeTrafficMoves() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).as(outcome.stderr()).isZero();
        String secret = "--format=value(name)";
        assertThat(cloud.gcloudCalls()).containsExactly(
                List.of("auth", "list", "--filter=status:ACTIVE", "--format=value(account)"),
                List.of("projects", "describe", FakeCloud.PROJECT, "--format=value(projectNumber)"),
                List.of("services", "list", "--enabled", "--project", FakeCloud.PROJECT, "--format=value(config.name)"),
                List.of("secrets", "describe", "parley-jwt-secret", "--project", FakeCloud.PROJECT, secret),
                List.of("secrets", "describe", "parley-database-url", "--project", FakeCloud.PROJECT, secret),
                List.of("secrets", "describe", "parley-redis-url", "--project", FakeCloud.PROJECT, secret),
                describeService(),
                deployArgs(IMAGE, true),
                List.of("run", "revisions", "describe", NEW, "--project", FakeCloud.PROJECT, "--region", "us-central1",
                        "--format=json"),
                List.of("run", "services", "update-traffic", "parley", "--project", FakeCloud.PROJECT, "--region",
                        "us-central1", "--to-revisions", NEW + "=100", "--remove-tags", "cand-test", "--quiet"),
                describeService());
        Path report = cloud.work.resolve("validation-cand-test.md");
        assertThat(cloud.validateCalls()).containsExactly(List.of("--url", TAG_URL, "--register", "--report",
                report.toString(), "--json", cloud.work.resolve("validation-cand-test.json").toString()));
        assertThat(report).content().contains(TAG_URL);
        assertThat(cloud.read("service/traffic")).isEqualTo(NEW + " 100 -\n");
        assertThat(outcome.stdout()).contains("Deployed " + NEW, "Traffic: " + NEW + " 100%",
                "Roll back: gcloud run services update-traffic parley --project parley-prod --region us-central1 "
                        + "--to-revisions " + OLD + "=100");
        assertThat(outcome.stderr()).contains("[1/7] Preflight", "[4/7] Deploy", "[6/7] Validate: " + TAG_URL,
                "[7/7] Traffic", "serving now: " + OLD + " 100%");
    }

    @Test
    void firstDeployCreatesTheServiceWithoutNoTrafficBecauseCloudRunRefusesItThere() throws Exception {
        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).as(outcome.stderr()).isZero();
        assertThat(cloud.gcloudCalls()).contains(deployArgs(IMAGE, false)).doesNotContain(deployArgs(IMAGE, true));
        assertThat(cloud.validateCalls()).hasSize(1);
        assertThat(outcome.stderr()).contains("not found: this deploy creates it");
        assertThat(cloud.read("service/traffic")).isEqualTo(NEW.replace("00002", "00001") + " 100 -\n");
    }

    @Test
    void withoutImageTheImageIsBuiltAndPushedToArtifactRegistryAndDeployedByDigest() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = cloud.deploy("--project", FakeCloud.PROJECT, "--tag", "cand-test", "--build-local");

        assertThat(outcome.exitCode()).as(outcome.stderr()).isZero();
        List<String> image = cloud.imageCalls().getFirst();
        assertThat(image).hasSize(2).first().isEqualTo("--push");
        assertThat(image.get(1)).matches("us-central1-docker\\.pkg\\.dev/parley-prod/parley/parley:[0-9-]+");
        String pushed = "us-central1-docker.pkg.dev/parley-prod/parley/parley@" + FakeCloud.DIGEST;
        assertThat(cloud.gcloudCalls()).contains(
                List.of("artifacts", "repositories", "describe", "parley", "--location", "us-central1", "--project",
                        FakeCloud.PROJECT, "--format=value(name)"),
                deployArgs(pushed, true));
    }

    @Test
    void noGcloudOnPathExits3WithAnInstallHint() throws Exception {
        cloud.withoutGcloud();

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(3);
        assertThat(outcome.stderr()).contains("parley deploy: gcloud is not on PATH: install the Google Cloud CLI");
        assertThat(cloud.gcloudCalls()).isEmpty();
    }

    @Test
    void noActiveAccountExits4AndSaysHowToLogIn() throws Exception {
        cloud.delete("account");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(4);
        assertThat(outcome.stderr()).contains("parley deploy: gcloud has no active account: run `gcloud auth login`");
        assertThat(cloud.gcloudCommands()).containsExactly("auth list");
    }

    @Test
    void unreachableProjectExits5WithGcloudsReason() throws Exception {
        cloud.delete("projects/" + FakeCloud.PROJECT);

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(5);
        assertThat(outcome.stderr()).contains("parley deploy: project parley-prod is not reachable as "
                + FakeCloud.ACCOUNT + " ([" + FakeCloud.ACCOUNT + "] does not have permission to access projects "
                + "instance [parley-prod]");
    }

    @Test
    void disabledApisExit6WithOneLineEachNamingTheEnableCommand() throws Exception {
        cloud.write("apis", "run.googleapis.com\n");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(6);
        assertThat(outcome.stderr()).contains("parley deploy: API secretmanager.googleapis.com is not enabled in "
                + "project parley-prod: enable it with `gcloud services enable secretmanager.googleapis.com --project "
                + "parley-prod`");
        assertThat(cloud.gcloudCommands()).doesNotContain("run deploy");
    }

    @Test
    void missingSecretExits7NamingTheSecretItsVariableAndHowToCreateItAndDeploysNothing() throws Exception {
        cloud.existingService(OLD).delete("secrets/parley-redis-url").delete("secrets/parley-jwt-secret");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(7);
        assertThat(outcome.stderr())
                .contains("parley deploy: secret parley-jwt-secret (for PARLEY_JWT_SECRET) does not exist in project "
                        + "parley-prod: create it with `printf %s \"$(openssl rand -base64 48)\" | gcloud secrets create "
                        + "parley-jwt-secret --data-file=- --project parley-prod`")
                .contains("parley deploy: secret parley-redis-url (for PARLEY_REDIS_URL) does not exist");
        assertThat(cloud.gcloudCommands()).doesNotContain("run deploy", "run services update-traffic");
        assertThat(cloud.read("service/traffic")).isEqualTo(OLD + " 100 -\n");
    }

    @Test
    void missingRepositoryExits8WhenBuilding() throws Exception {
        cloud.delete("repositories/parley");

        FakeCloud.Outcome outcome = cloud.deploy("--project", FakeCloud.PROJECT);

        assertThat(outcome.exitCode()).isEqualTo(8);
        assertThat(outcome.stderr()).contains("create it with `gcloud artifacts repositories create parley "
                + "--repository-format=docker --location=us-central1 --project=parley-prod`");
        assertThat(cloud.imageCalls()).isEmpty();
    }

    @Test
    void failedImageBuildExits9AndDeploysNothing() throws Exception {
        cloud.existingService(OLD).write("image-error", "");

        FakeCloud.Outcome outcome = cloud.deploy("--project", FakeCloud.PROJECT);

        assertThat(outcome.exitCode()).isEqualTo(9);
        assertThat(outcome.stderr()).contains("image: Jib failed", "the image build or push failed (exit 1)");
        assertThat(cloud.gcloudCommands()).doesNotContain("run deploy");
    }

    @Test
    void deployErrorExits10AndLeavesTrafficUntouched() throws Exception {
        cloud.existingService(OLD).write("deploy-error", "PERMISSION_DENIED: Permission 'run.services.update' denied "
                + "on resource 'namespaces/parley-prod/services/parley' (or resource may not exist).");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(10);
        assertThat(outcome.stderr()).contains("parley deploy: gcloud run deploy failed: PERMISSION_DENIED: "
                + "Permission 'run.services.update' denied", "Traffic is unchanged: " + OLD + " 100%.");
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
        assertThat(cloud.validateCalls()).isEmpty();
        assertThat(cloud.read("service/traffic")).isEqualTo(OLD + " 100 -\n");
    }

    @Test
    void revisionThatNeverStartsExits11WithItsLogsAndTrafficUntouched() throws Exception {
        cloud.existingService(OLD)
                .write("deploy-error", "Revision 'REVISION' is not ready and cannot serve traffic. The user-provided "
                        + "container failed to start and listen on the port defined provided by the PORT=8080 "
                        + "environment variable within the allocated timeout. This can happen when the container port "
                        + "is misconfigured or if the timeout is too short. The health check timeout can be extended. "
                        + "Logs for this revision might contain more information.")
                .write("deploy-error-extra", "Logs URL: https://console.cloud.google.com/logs/viewer?project="
                        + "parley-prod&resource=cloud_run_revision/service_name/parley/revision_name/" + NEW + "\n"
                        + "For more troubleshooting guidance, see "
                        + "https://cloud.google.com/run/docs/troubleshooting#container-failed-to-start\n");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(11);
        assertThat(outcome.stderr())
                .contains("parley deploy: the new revision did not start: Revision '" + NEW + "' is not ready")
                .contains("Read the revision's logs: https://console.cloud.google.com/logs/viewer?project=parley-prod")
                .contains("Traffic is unchanged: " + OLD + " 100%.");
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
        assertThat(cloud.validateCalls()).isEmpty();
    }

    @Test
    void revisionThatStaysUnreadyUntilTheTimeoutExits11AndTrafficStays() throws Exception {
        cloud.existingService(OLD).write("revision-ready", "Unknown\n");

        FakeCloud.Outcome outcome = deploy("--ready-timeout", "300ms", "--poll-interval", "50ms");

        assertThat(outcome.exitCode()).isEqualTo(11);
        assertThat(outcome.stderr()).contains("parley deploy: revision " + NEW + " did not become Ready within 300 ms "
                + "(Ready is Unknown)");
        assertThat(cloud.gcloudCommands().stream().filter("run revisions describe"::equals).count()).isGreaterThan(1);
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
        assertThat(cloud.validateCalls()).isEmpty();
    }

    @Test
    void revisionReportedNotReadyExits11WithItsReason() throws Exception {
        cloud.existingService(OLD).write("revision-ready", "False\n");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(11);
        assertThat(outcome.stderr()).contains("revision " + NEW + " is not Ready: The user-provided container failed");
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
    }

    @Test
    void failedValidationExits12AndNeverTouchesTraffic() throws Exception {
        cloud.existingService(OLD).write("validate-exit", "1\n");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(12);
        assertThat(outcome.stderr())
                .contains("parley deploy: revision " + NEW + " failed validation at " + TAG_URL + " (validator exit 1)")
                .contains("Traffic is unchanged: " + OLD + " 100%.")
                .contains("Read the report: " + cloud.work.resolve("validation-cand-test.md"))
                .contains("--remove-tags cand-test");
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
        assertThat(cloud.read("service/traffic")).isEqualTo(OLD + " 100 -\n" + NEW + " 0 cand-test\n");
    }

    @Test
    void failedTrafficMoveExits13AndSaysTrafficIsWhereItWas() throws Exception {
        cloud.existingService(OLD).write("traffic-error", "PERMISSION_DENIED: Permission 'run.services.update' denied");

        FakeCloud.Outcome outcome = deploy();

        assertThat(outcome.exitCode()).isEqualTo(13);
        assertThat(outcome.stderr()).contains("parley deploy: moving traffic to " + NEW + " failed: PERMISSION_DENIED",
                "Traffic is unchanged: " + OLD + " 100%.", "Try again: gcloud run services update-traffic parley");
    }

    @Test
    void noTrafficStopsAfterValidationAndPrintsThePromoteCommand() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy("--no-traffic");

        assertThat(outcome.exitCode()).as(outcome.stderr()).isZero();
        assertThat(cloud.gcloudCommands()).doesNotContain("run services update-traffic");
        assertThat(cloud.validateCalls()).hasSize(1);
        assertThat(outcome.stdout()).contains("Validated " + NEW, "It has no traffic; its tag URL reaches it: " + TAG_URL,
                "Promote: gcloud run services update-traffic parley --project parley-prod --region us-central1 "
                        + "--to-revisions " + NEW + "=100 --remove-tags cand-test --quiet");
        assertThat(outcome.stderr()).contains("[6/6] Validate");
    }

    @Test
    void jsonSummaryDescribesTheOutcomeOnStdout() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy("--json");

        JsonNode summary = Json.MAPPER.readTree(outcome.stdout());
        assertThat(summary.path("result").asText()).isEqualTo("promoted");
        assertThat(summary.path("exit_code").asInt()).isZero();
        assertThat(summary.path("revision").asText()).isEqualTo(NEW);
        assertThat(summary.path("tag_url").asText()).isEqualTo(TAG_URL);
        assertThat(summary.path("image").asText()).isEqualTo(IMAGE);
        assertThat(summary.path("traffic_before").get(0).path("revision").asText()).isEqualTo(OLD);
        assertThat(summary.path("traffic_after").get(0).path("percent").asInt()).isEqualTo(100);
        assertThat(summary.path("validation").path("exit_code").asInt()).isZero();
        assertThat(summary.path("commands")).hasSize(12);
        assertThat(summary.path("failure").isMissingNode()).isTrue();
    }

    @Test
    void jsonSummaryOfAFailureNamesItsClassAndNextSteps() throws Exception {
        cloud.existingService(OLD).write("validate-exit", "3\n");

        FakeCloud.Outcome outcome = deploy("--json");

        assertThat(outcome.exitCode()).isEqualTo(12);
        JsonNode summary = Json.MAPPER.readTree(outcome.stdout());
        assertThat(summary.path("result").asText()).isEqualTo("failed");
        assertThat(summary.path("failure").path("class").asText()).isEqualTo("validation_failed");
        assertThat(summary.path("failure").path("next_steps").get(0).asText()).startsWith("Traffic is unchanged");
        assertThat(summary.path("validation").path("exit_code").asInt()).isEqualTo(3);
        assertThat(summary.path("traffic_after")).isEmpty();
    }

    @Test
    void jsonSummaryOfAPreflightFailureKeepsWhatThePreflightLearned() throws Exception {
        cloud.existingService(OLD).delete("secrets/parley-redis-url");

        FakeCloud.Outcome outcome = deploy("--json");

        assertThat(outcome.exitCode()).isEqualTo(7);
        JsonNode summary = Json.MAPPER.readTree(outcome.stdout());
        assertThat(summary.path("failure").path("class").asText()).isEqualTo("secret_missing");
        assertThat(summary.path("account").asText()).isEqualTo(FakeCloud.ACCOUNT);
        assertThat(summary.path("project_number").asText()).isEqualTo(FakeCloud.NUMBER);
        assertThat(summary.path("revision").isNull()).isTrue();
        assertThat(summary.path("commands")).hasSize(6);
    }

    @Test
    void helpListsEveryOptionAndExitCodeOnStdoutAndRunsNothing() throws Exception {
        FakeCloud.Outcome outcome = cloud.deploy("--help");

        assertThat(outcome.exitCode()).isZero();
        assertThat(outcome.stderr()).isEmpty();
        for (String option : List.of("--project", "--region", "--service", "--image", "--build-local", "--repository",
                "--tag", "--no-traffic", "--dry-run", "--yaml", "--json", "--min-instances", "--max-instances",
                "--concurrency", "--service-account", "--secret", "--env", "--llm-provider", "--mcp-servers-secret",
                "--mcp-credentials-key-secret", "--report-dir",
                "--ready-timeout", "--poll-interval", "PARLEY_VALIDATE_COMMAND", "PARLEY_IMAGE_COMMAND")) {
            assertThat(outcome.stdout()).as(option).contains(option);
        }
        for (DeployExit exit : DeployExit.values()) {
            assertThat(outcome.stdout()).contains(String.format("%2d   %s", exit.code(), exit.meaning()));
        }
        assertThat(cloud.gcloudCalls()).isEmpty();
    }

    @Test
    void dryRunRunsNothingPrintsEveryCommandAndWritesTheServiceYaml() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy("--dry-run");

        assertThat(outcome.exitCode()).isZero();
        assertThat(cloud.gcloudCalls()).isEmpty();
        assertThat(cloud.validateCalls()).isEmpty();
        assertThat(outcome.stdout())
                .contains("gcloud auth list --filter=status:ACTIVE '--format=value(account)'")
                .contains(Gcloud.line(deployArgs(IMAGE, true)))
                .contains("gcloud run services update-traffic parley --project parley-prod --region us-central1 "
                        + "--to-revisions REVISION=100 --remove-tags cand-test --quiet")
                .contains(cloud.bin.resolve("fake-validate") + " --url TAG_URL --register");
        Path yaml = cloud.work.resolve("parley-service.yaml");
        assertThat(yaml).exists();
        assertThat(Files.readString(yaml)).contains("kind: Service", "image: " + IMAGE);
    }

    @Test
    void badArgumentsExit2BeforeAnythingRuns() throws Exception {
        assertThat(cloud.deploy("--region", "us-central1").exitCode()).isEqualTo(2);
        FakeCloud.Outcome badName = cloud.deploy("--project", FakeCloud.PROJECT, "--service", "Parley_Chat");
        assertThat(badName.exitCode()).isEqualTo(2);
        assertThat(badName.stderr()).contains("Invalid resource name [Parley_Chat]. The name must use only lowercase");
        FakeCloud.Outcome both = cloud.deploy("--project", FakeCloud.PROJECT, "--image", IMAGE, "--build-local");
        assertThat(both.exitCode()).isEqualTo(2);
        assertThat(cloud.deploy("--project", FakeCloud.PROJECT, "--min-instances", "0").stderr())
                .contains("--min-instances must be between 1 and 1000");
        assertThat(cloud.deploy("--project", FakeCloud.PROJECT, "--frobnicate").stderr())
                .contains("unknown argument --frobnicate");
        assertThat(cloud.gcloudCalls()).isEmpty();
    }

    @Test
    void llmProviderAddsItsKeySecretAndEnvironment() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy("--llm-provider", "openai", "--env", "PARLEY_PUBLIC_URL=https://chat.example.com");

        assertThat(outcome.exitCode()).isEqualTo(7);
        assertThat(outcome.stderr()).contains("secret parley-llm-api-key (for PARLEY_LLM_API_KEY) does not exist");
        cloud.write("secrets/parley-llm-api-key", "");
        assertThat(deploy("--llm-provider", "openai", "--env", "PARLEY_PUBLIC_URL=https://chat.example.com").exitCode())
                .isZero();
        List<String> deployCall = cloud.gcloudCalls().stream().filter(c -> c.get(1).equals("deploy")).findFirst().orElseThrow();
        assertThat(deployCall).containsSequence("--set-env-vars",
                        "PARLEY_LOG_FORMAT=json,PARLEY_TRUSTED_PROXY_HOPS=1,PARLEY_LLM_PROVIDER=openai,PARLEY_PUBLIC_URL=https://chat.example.com")
                .anyMatch(arg -> arg.endsWith(",PARLEY_LLM_API_KEY=parley-llm-api-key:latest"));
    }

    @Test
    void mcpServersCredentialsKeyAndStaticTokenArePassedAsSecretsAfterPreflightFindsThem() throws Exception {
        cloud.existingService(OLD);
        String[] mcp = {"--mcp-servers-secret", "parley-mcp-servers", "--mcp-credentials-key-secret",
                "parley-mcp-credentials-key:2", "--secret", "FILES_MCP_TOKEN=files-mcp-token"};

        FakeCloud.Outcome missing = deploy(mcp);

        assertThat(missing.exitCode()).isEqualTo(7);
        assertThat(missing.stderr())
                .contains("secret parley-mcp-servers (for PARLEY_MCP_SERVERS) does not exist in project parley-prod: "
                        + "create it with `printf %s '[{\"id\":\"files\",\"url\":\"https://mcp.example.com/mcp\"}]' "
                        + "| gcloud secrets create parley-mcp-servers --data-file=- --project parley-prod`")
                .contains("secret parley-mcp-credentials-key (for PARLEY_MCP_CREDENTIALS_KEY) does not exist in project "
                        + "parley-prod: create it with `printf %s \"$(openssl rand -base64 32)\" | gcloud secrets "
                        + "create parley-mcp-credentials-key")
                .contains("secret files-mcp-token (for FILES_MCP_TOKEN) does not exist");
        assertThat(cloud.gcloudCommands()).doesNotContain("run deploy");

        cloud.write("secrets/parley-mcp-servers", "").write("secrets/parley-mcp-credentials-key", "")
                .write("secrets/files-mcp-token", "");
        assertThat(deploy(mcp).exitCode()).isZero();
        List<String> deployCall = cloud.gcloudCalls().stream().filter(c -> c.get(1).equals("deploy")).findFirst().orElseThrow();
        assertThat(deployCall).containsSequence("--set-secrets",
                "PARLEY_JWT_SECRET=parley-jwt-secret:latest,PARLEY_DATABASE_URL=parley-database-url:latest,"
                        + "PARLEY_REDIS_URL=parley-redis-url:latest,PARLEY_MCP_SERVERS=parley-mcp-servers:latest,"
                        + "PARLEY_MCP_CREDENTIALS_KEY=parley-mcp-credentials-key:2,FILES_MCP_TOKEN=files-mcp-token:latest");
    }

    @Test
    void dryRunChecksTheMcpSecretsAndWritesThemIntoTheServiceYaml() throws Exception {
        cloud.existingService(OLD);

        FakeCloud.Outcome outcome = deploy("--dry-run", "--mcp-servers-secret", "parley-mcp-servers:3");

        assertThat(outcome.exitCode()).isZero();
        assertThat(cloud.gcloudCalls()).isEmpty();
        assertThat(outcome.stdout())
                .contains("gcloud secrets describe parley-mcp-servers --project parley-prod")
                .contains(",PARLEY_MCP_SERVERS=parley-mcp-servers:3 --startup-probe");
        assertThat(Files.readString(cloud.work.resolve("parley-service.yaml")))
                .contains("- name: PARLEY_MCP_SERVERS\n          valueFrom:\n            secretKeyRef:\n"
                        + "              name: parley-mcp-servers\n              key: \"3\"");
    }

    @Test
    void badMcpSecretOptionsExit2BeforeAnythingRuns() throws Exception {
        FakeCloud.Outcome badName = deploy("--mcp-servers-secret", "mcp servers");
        assertThat(badName.exitCode()).isEqualTo(2);
        assertThat(badName.stderr()).contains("--mcp-servers-secret must be a Secret Manager secret NAME or NAME:VERSION");
        FakeCloud.Outcome badVersion = deploy("--mcp-servers-secret", "parley-mcp-servers",
                "--mcp-credentials-key-secret", "parley-mcp-credentials-key:0");
        assertThat(badVersion.exitCode()).isEqualTo(2);
        assertThat(badVersion.stderr()).contains("--mcp-credentials-key-secret must be a Secret Manager secret");
        FakeCloud.Outcome keyAlone = deploy("--mcp-credentials-key-secret", "parley-mcp-credentials-key");
        assertThat(keyAlone.exitCode()).isEqualTo(2);
        assertThat(keyAlone.stderr()).contains("--mcp-credentials-key-secret needs the MCP servers it serves");
        FakeCloud.Outcome twice = deploy("--mcp-servers-secret", "parley-mcp-servers",
                "--secret", "PARLEY_MCP_SERVERS=other-mcp-servers");
        assertThat(twice.exitCode()).isEqualTo(2);
        assertThat(twice.stderr()).contains("--secret PARLEY_MCP_SERVERS and --mcp-servers-secret both set");
        FakeCloud.Outcome alsoEnv = deploy("--mcp-servers-secret", "parley-mcp-servers",
                "--env", "PARLEY_MCP_SERVERS=/etc/mcp.json");
        assertThat(alsoEnv.exitCode()).isEqualTo(2);
        assertThat(alsoEnv.stderr()).contains("--env PARLEY_MCP_SERVERS is also a secret");
        assertThat(cloud.gcloudCalls()).isEmpty();
    }
}
