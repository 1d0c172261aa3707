package dev.parley.server.health;

import static org.assertj.core.api.Assertions.assertThat;

import dev.parley.server.testing.ClassServer;
import dev.parley.server.testing.TestApp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class HealthRoutesTest {
    @RegisterExtension
    static final ClassServer server = new ClassServer();

    @Test
    void healthReportsServiceVersionAndRevision() {
        TestApp.Response response = server.app().get("/health", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json().path("status").asText()).isEqualTo("healthy");
        assertThat(response.json().path("service").asText()).isEqualTo("parley");
        assertThat(response.json().has("version")).isTrue();
        assertThat(response.json().has("revision")).isTrue();
        assertThat(server.app().get("/api/health", null).json().path("service").asText()).isEqualTo("parley");
    }

    @Test
    void readinessChecksTheDatabase() {
        TestApp.Response response = server.app().get("/health/ready", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json().path("status").asText()).isEqualTo("ready");
        assertThat(response.json().path("checks").path("database").asText()).isEqualTo("up");
        assertThat(response.json().path("checks").path("llm").asText()).isEqualTo("offline");
    }

    @Test
    void unknownRouteIsCodedJsonErrorWithRequestId() {
        TestApp.Response response = server.app().get("/no/such/route", null);
        assertThat(response.status()).isEqualTo(404);
        assertThat(response.json().path("error").path("code").asText()).isEqualTo("not_found");
        String requestId = response.json().path("error").path("request_id").asText();
        assertThat(requestId).isNotBlank().isEqualTo(response.header("X-Request-Id"));
    }

    @Test
    void metricsAreInPrometheusFormat() {
        server.app().get("/health", null);
        TestApp.Response response = server.app().get("/metrics", null);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.header("Content-Type")).startsWith("text/plain");
        assertThat(response.body())
                .contains("# TYPE parley_http_requests_total counter")
                .contains("parley_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}")
                .contains("# TYPE parley_db_pool_active gauge");
    }
}
