package dev.parley.server.gateway;

import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;

/**
 * The machine-readable contract, served as written: {@code GET /openapi.yaml} (OpenAPI 3.1, the HTTP routes) and
 * {@code GET /asyncapi.yaml} (AsyncAPI 3.0, the socket's messages and events). A test compares both with the routes
 * and message types the code registers, so neither can drift from the server.
 */
final class ApiDocuments implements HttpService {
    static final String OPENAPI = "api/openapi.yaml";
    static final String ASYNCAPI = "api/asyncapi.yaml";

    private final byte[] openApi = read(OPENAPI);
    private final byte[] asyncApi = read(ASYNCAPI);

    @Override
    public void routing(HttpRules rules) {
        rules.get("/openapi.yaml", (request, response) -> send(response, openApi))
                .get("/asyncapi.yaml", (request, response) -> send(response, asyncApi));
    }

    private static void send(io.helidon.webserver.http.ServerResponse response, byte[] document) {
        response.header(HeaderNames.CONTENT_TYPE, "application/yaml; charset=utf-8");
        response.header(HeaderNames.CACHE_CONTROL, "no-cache");
        response.send(document);
    }

    static byte[] read(String resource) {
        return BundledResources.read(resource, "The API document " + resource + " is missing from the build");
    }
}
