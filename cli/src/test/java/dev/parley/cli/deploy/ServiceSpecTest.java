package dev.parley.cli.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.parley.cli.deploy.DeployOptions.SecretRef;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The service's two forms, gcloud flags and Knative YAML, carry the same settings, and those suit WebSockets. */
class ServiceSpecTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private final ServiceSpec spec = new ServiceSpec("parley-prod", "europe-west1", "chat",
            "europe-west1-docker.pkg.dev/parley-prod/parley/parley@sha256:" + "0".repeat(64), 2, 20, 500,
            Optional.of("parley-run@parley-prod.iam.gserviceaccount.com"),
            ordered("PARLEY_LOG_FORMAT", "json", "PARLEY_PUBLIC_URL", "https://chat.example.com"),
            orderedSecrets());

    private static Map<String, String> ordered(String... pairs) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return map;
    }

    private static Map<String, SecretRef> orderedSecrets() {
        Map<String, SecretRef> secrets = new LinkedHashMap<>();
        secrets.put("PARLEY_JWT_SECRET", new SecretRef("parley-jwt-secret", "3"));
        secrets.put("PARLEY_DATABASE_URL", new SecretRef("parley-database-url", "latest"));
        return secrets;
    }

    /** The value following {@code flag}, or "true" for a switch that is present. */
    private static String flag(List<String> command, String flag) {
        int at = command.indexOf(flag);
        assertThat(at).as("flag %s in %s", flag, command).isNotNegative();
        String next = at + 1 < command.size() ? command.get(at + 1) : "--";
        return next.startsWith("--") ? "true" : next;
    }

    private static Map<String, String> keyValues(String text) {
        return Arrays.stream(text.split(",")).map(kv -> kv.split("=", 2))
                .collect(Collectors.toMap(kv -> kv[0], kv -> kv[1], (a, b) -> b, LinkedHashMap::new));
    }

    @Test
    void yamlAndDeployFlagsCarryTheSameSettings() throws Exception {
        List<String> command = spec.deployCommand("cand-1", true);
        JsonNode service = YAML.readTree(spec.knativeYaml());
        JsonNode template = service.path("spec").path("template");
        JsonNode annotations = template.path("metadata").path("annotations");
        JsonNode container = template.path("spec").path("containers").get(0);

        assertThat(service.path("metadata").path("name").asText()).isEqualTo(command.get(2));
        assertThat(service.path("metadata").path("labels").path("cloud.googleapis.com/location").asText())
                .isEqualTo(flag(command, "--region"));
        assertThat(container.path("image").asText()).isEqualTo(flag(command, "--image"));
        assertThat(container.path("ports").get(0).path("containerPort").asText()).isEqualTo(flag(command, "--port"));
        assertThat(container.path("resources").path("limits").path("cpu").asText()).isEqualTo(flag(command, "--cpu"));
        assertThat(container.path("resources").path("limits").path("memory").asText()).isEqualTo(flag(command, "--memory"));
        assertThat(template.path("spec").path("timeoutSeconds").asText()).isEqualTo(flag(command, "--timeout"));
        assertThat(template.path("spec").path("containerConcurrency").asText()).isEqualTo(flag(command, "--concurrency"));
        assertThat(template.path("spec").path("serviceAccountName").asText()).isEqualTo(flag(command, "--service-account"));
        assertThat(annotations.path("autoscaling.knative.dev/minScale").asText()).isEqualTo(flag(command, "--min-instances"));
        assertThat(annotations.path("autoscaling.knative.dev/maxScale").asText()).isEqualTo(flag(command, "--max-instances"));
        assertThat(annotations.path("run.googleapis.com/sessionAffinity").asText()).isEqualTo(flag(command, "--session-affinity"));
        assertThat(annotations.path("run.googleapis.com/startup-cpu-boost").asText()).isEqualTo(flag(command, "--cpu-boost"));
        assertThat(annotations.path("run.googleapis.com/cpu-throttling").asText())
                .isEqualTo(flag(command, "--no-cpu-throttling").equals("true") ? "false" : "true");
        assertThat(annotations.path("run.googleapis.com/execution-environment").asText())
                .isEqualTo(flag(command, "--execution-environment"));

        Map<String, String> env = new LinkedHashMap<>();
        Map<String, String> secrets = new LinkedHashMap<>();
        container.path("env").forEach(entry -> {
            JsonNode ref = entry.path("valueFrom").path("secretKeyRef");
            if (ref.isMissingNode()) {
                env.put(entry.path("name").asText(), entry.path("value").asText());
            } else {
                secrets.put(entry.path("name").asText(), ref.path("name").asText() + ":" + ref.path("key").asText());
            }
        });
        assertThat(env).isEqualTo(keyValues(flag(command, "--set-env-vars")));
        assertThat(secrets).isEqualTo(keyValues(flag(command, "--set-secrets")));

        for (String probe : List.of("startupProbe", "livenessProbe")) {
            JsonNode yaml = container.path(probe);
            Map<String, String> flags = keyValues(flag(command, probe.equals("startupProbe") ? "--startup-probe" : "--liveness-probe"));
            assertThat(flags).containsEntry("httpGet.path", yaml.path("httpGet").path("path").asText())
                    .containsEntry("httpGet.port", yaml.path("httpGet").path("port").asText())
                    .containsEntry("timeoutSeconds", yaml.path("timeoutSeconds").asText())
                    .containsEntry("periodSeconds", yaml.path("periodSeconds").asText())
                    .containsEntry("failureThreshold", yaml.path("failureThreshold").asText());
        }
    }

    @Test
    void webSocketSettingsAreThoseCloudRunNeedsForLongLivedSockets() throws Exception {
        List<String> command = spec.deployCommand("cand-1", false);
        assertThat(flag(command, "--timeout")).isEqualTo("3600");
        assertThat(command).contains("--session-affinity", "--no-cpu-throttling", "--cpu-boost", "--allow-unauthenticated")
                .doesNotContain("--use-http2", "--no-traffic");
        assertThat(Integer.parseInt(flag(command, "--min-instances"))).isPositive();
        JsonNode container = YAML.readTree(spec.knativeYaml()).path("spec").path("template").path("spec")
                .path("containers").get(0);
        assertThat(container.path("ports").get(0).path("name").asText()).as("HTTP/1 end to end, not h2c").isEqualTo("http1");
        int startupBudget = ServiceSpec.STARTUP_PROBE.failureThreshold() * ServiceSpec.STARTUP_PROBE.periodSeconds();
        assertThat(startupBudget).as("Cloud Run's startup probe ceiling").isLessThanOrEqualTo(240);
    }

    @Test
    void noTrafficAndTagAreOnlyOnTheDeployThatAsksForThem() {
        assertThat(spec.deployCommand("cand-7", true)).containsSequence("--tag", "cand-7").contains("--no-traffic");
        assertThat(spec.deployCommand("cand-7", false)).containsSequence("--tag", "cand-7").doesNotContain("--no-traffic");
    }
}
