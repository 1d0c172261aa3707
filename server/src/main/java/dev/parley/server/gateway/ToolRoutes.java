package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.mcp.McpServers;
import dev.parley.server.run.Approvals;
import io.helidon.http.Status;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;

/**
 * Tools and approvals over HTTP: {@code POST /api/approvals/{id}} decides an approval (the first decision wins;
 * someone else's approval answers like a missing one, 404 {@code approval_not_found}); {@code GET /api/mcp/servers}
 * lists the MCP servers, their status for the caller and their tools with each tool's policy; {@code PUT} and
 * {@code DELETE /api/mcp/servers/{id}/credentials} store and remove the caller's own credential for a server.
 */
public final class ToolRoutes implements HttpService {
    private final Approvals approvals;
    private final McpServers mcp;
    private final TokenVerifier verifier;
    private final int maxRequestBytes;

    public ToolRoutes(Approvals approvals, McpServers mcp, TokenVerifier verifier, int maxRequestBytes) {
        this.approvals = approvals;
        this.mcp = mcp;
        this.verifier = verifier;
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.post("/api/approvals/{id}", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            ObjectNode body = Http.jsonBody(request, maxRequestBytes);
            boolean approve = ApprovalDecisions.approve(Http.requireText(body, "decision"), ErrorCode.INVALID_REQUEST);
            String reason = ApprovalDecisions.reason(Http.optionalText(body, "reason").orElse(null),
                    ErrorCode.INVALID_REQUEST);
            Approvals.Decided decided = approvals.decide(principal.userId(), request.path().pathParameters().get("id"),
                    approve, reason);
            ObjectNode answer = Json.object();
            answer.put("approval_id", decided.approvalId());
            answer.put("decision", decided.decision());
            Http.json(response, 200, answer);
        });
        rules.get("/api/mcp/servers", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            JsonNode servers = mcp.servers(principal.userId());
            Http.json(response, 200, servers);
        });
        rules.put("/api/mcp/servers/{id}/credentials", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            ObjectNode body = Http.jsonBody(request, maxRequestBytes);
            mcp.putCredential(principal.userId(), request.path().pathParameters().get("id"),
                    Http.requireText(body, "token"));
            response.status(Status.NO_CONTENT_204).send();
        });
        rules.delete("/api/mcp/servers/{id}/credentials", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            mcp.deleteCredential(principal.userId(), request.path().pathParameters().get("id"));
            response.status(Status.NO_CONTENT_204).send();
        });
    }
}
