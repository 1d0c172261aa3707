package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.run.RunLog;
import dev.parley.server.run.RunRecord;
import dev.parley.server.run.RunService;
import dev.parley.server.run.StoredEvent;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import java.util.Optional;

/**
 * /api/runs/{id}: a run's state, its event log (the same objects the socket carried; 410 {@code events_expired} past
 * retention), and cancel. Someone else's run answers exactly like a missing one (404 {@code run_not_found}).
 */
public final class RunRoutes implements HttpService {
    private final RunService runs;
    private final TokenVerifier verifier;

    public RunRoutes(RunService runs, TokenVerifier verifier) {
        this.runs = runs;
        this.verifier = verifier;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/api/runs/{id}", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            RunRecord run = runs.find(principal.userId(), request.path().pathParameters().get("id"));
            ObjectNode view = Views.run(run);
            view.put("status", runs.statusOf(run));
            Http.json(response, 200, view);
        });
        rules.get("/api/runs/{id}/events", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            long afterSeq = afterSeq(request.query().first("after_seq").asOptional());
            RunLog log = runs.log(principal.userId(), request.path().pathParameters().get("id"), afterSeq);
            ObjectNode body = Json.object();
            ArrayNode events = body.putArray("events");
            for (StoredEvent event : log.events()) {
                events.add(Json.parse(event.wire()));
            }
            body.put("complete", log.complete());
            body.put("status", runs.statusOf(log.run()));
            Http.json(response, 200, body);
        });
        rules.post("/api/runs/{id}/cancel", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            String runId = request.path().pathParameters().get("id");
            runs.stop(principal.userId(), runId);
            ObjectNode body = Json.object();
            body.put("run_id", runId);
            body.put("status", "cancelling");
            Http.json(response, 202, body);
        });
    }

    private static long afterSeq(Optional<String> raw) {
        if (raw.isEmpty() || raw.get().isBlank()) {
            return 0;
        }
        try {
            long value = Long.parseLong(raw.get().trim());
            if (value < 0) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The parameter 'after_seq' must be a whole number, 0 or more.");
        }
    }
}
