package dev.parley.cli.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import dev.parley.cli.deploy.DeployOptions.SecretRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The Cloud Run service Parley runs as, in one place, written two ways: the flags of {@code gcloud run deploy} (what
 * {@code parley deploy} runs) and the Knative Service YAML of {@code gcloud run services replace} (what
 * {@code --dry-run} writes for review or a declarative setup). A test checks that both carry every setting.
 *
 * <p>The settings are those WebSockets need on Cloud Run: a socket is one request for its whole life, so the request
 * timeout is the platform's maximum (60 min) and clients reconnect and resume; session affinity sends a reconnect to
 * the same instance when it can; one instance stays warm; CPU stays allocated between requests because agent runs
 * outlive the socket that started them; the startup probe waits for /health/ready.
 */
record ServiceSpec(String project, String region, String service, String image, int minInstances, int maxInstances,
                   int concurrency, Optional<String> serviceAccount, Map<String, String> env,
                   Map<String, SecretRef> secrets) {

    static final int PORT = 8080;
    static final String CPU = "1";
    static final String MEMORY = "512Mi";
    static final int TIMEOUT_SECONDS = 3600;
    static final String EXECUTION_ENVIRONMENT = "gen2";
    static final Probe STARTUP_PROBE = new Probe("/health/ready", 2, 3, 40);
    static final Probe LIVENESS_PROBE = new Probe("/health/live", 3, 15, 3);

    /** An HTTP probe; the startup probe may take failureThreshold x periodSeconds = 120 s (Cloud Run's ceiling is 240 s). */
    record Probe(String path, int timeoutSeconds, int periodSeconds, int failureThreshold) {
        String flag() {
            return "httpGet.path=" + path + ",httpGet.port=" + PORT + ",timeoutSeconds=" + timeoutSeconds
                    + ",periodSeconds=" + periodSeconds + ",failureThreshold=" + failureThreshold;
        }

        ObjectNode yaml(ObjectMapper mapper) {
            ObjectNode probe = mapper.createObjectNode();
            probe.putObject("httpGet").put("path", path).put("port", PORT);
            probe.put("timeoutSeconds", timeoutSeconds).put("periodSeconds", periodSeconds)
                    .put("failureThreshold", failureThreshold);
            return probe;
        }
    }

    static ServiceSpec of(DeployOptions options, String image) {
        return new ServiceSpec(options.project(), options.region(), options.service(), image, options.minInstances(),
                options.maxInstances(), options.concurrency(), options.serviceAccount(), options.env(),
                options.secrets());
    }

    /**
     * {@code gcloud run deploy} for a new revision carrying {@code tag}; with {@code noTraffic} it gets none (which
     * Cloud Run refuses for a service that does not exist yet). The service object is printed as JSON on stdout.
     */
    List<String> deployCommand(String tag, boolean noTraffic) {
        List<String> command = new ArrayList<>(List.of("run", "deploy", service,
                "--project", project, "--region", region, "--platform", "managed",
                "--image", image,
                "--port", Integer.toString(PORT),
                "--cpu", CPU, "--memory", MEMORY,
                "--timeout", Integer.toString(TIMEOUT_SECONDS),
                "--concurrency", Integer.toString(concurrency),
                "--min-instances", Integer.toString(minInstances),
                "--max-instances", Integer.toString(maxInstances),
                "--session-affinity", "--cpu-boost", "--no-cpu-throttling",
                "--execution-environment", EXECUTION_ENVIRONMENT,
                "--set-env-vars", env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                        .collect(Collectors.joining(","))));
        if (!secrets.isEmpty()) {
            command.add("--set-secrets");
            command.add(secrets.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue())
                    .collect(Collectors.joining(",")));
        }
        command.addAll(List.of("--startup-probe", STARTUP_PROBE.flag(), "--liveness-probe", LIVENESS_PROBE.flag()));
        serviceAccount.ifPresent(account -> command.addAll(List.of("--service-account", account)));
        command.addAll(List.of("--allow-unauthenticated", "--labels", "app=parley", "--tag", tag));
        if (noTraffic) {
            command.add("--no-traffic");
        }
        command.addAll(List.of("--quiet", "--format=json"));
        return command;
    }

    /** The same service as a Knative Service for {@code gcloud run services replace FILE}. */
    String knativeYaml() {
        ObjectMapper yaml = new ObjectMapper(YAMLFactory.builder()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
                .build());
        ObjectNode root = yaml.createObjectNode();
        root.put("apiVersion", "serving.knative.dev/v1").put("kind", "Service");
        ObjectNode metadata = root.putObject("metadata");
        metadata.put("name", service);
        metadata.putObject("labels").put("cloud.googleapis.com/location", region).put("app", "parley");
        metadata.putObject("annotations").put("run.googleapis.com/ingress", "all");

        ObjectNode serviceSpec = root.putObject("spec");
        ObjectNode template = serviceSpec.putObject("template");
        template.putObject("metadata").putObject("annotations")
                .put("autoscaling.knative.dev/minScale", Integer.toString(minInstances))
                .put("autoscaling.knative.dev/maxScale", Integer.toString(maxInstances))
                .put("run.googleapis.com/sessionAffinity", "true")
                .put("run.googleapis.com/startup-cpu-boost", "true")
                .put("run.googleapis.com/cpu-throttling", "false")
                .put("run.googleapis.com/execution-environment", EXECUTION_ENVIRONMENT);
        ObjectNode spec = template.putObject("spec");
        serviceAccount.ifPresent(account -> spec.put("serviceAccountName", account));
        spec.put("containerConcurrency", concurrency).put("timeoutSeconds", TIMEOUT_SECONDS);
        ObjectNode container = spec.putArray("containers").addObject();
        container.put("image", image);
        container.putArray("ports").addObject().put("name", "http1").put("containerPort", PORT);
        ArrayNode envList = container.putArray("env");
        env.forEach((key, value) -> envList.addObject().put("name", key).put("value", value));
        secrets.forEach((key, secret) -> envList.addObject().put("name", key).putObject("valueFrom")
                .putObject("secretKeyRef").put("name", secret.name()).put("key", secret.version()));
        container.putObject("resources").putObject("limits").put("cpu", CPU).put("memory", MEMORY);
        container.set("startupProbe", STARTUP_PROBE.yaml(yaml));
        container.set("livenessProbe", LIVENESS_PROBE.yaml(yaml));
        serviceSpec.putArray("traffic").addObject().put("latestRevision", true).put("percent", 100);
        try {
            return yaml.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("the service YAML cannot be written", e);
        }
    }
}
