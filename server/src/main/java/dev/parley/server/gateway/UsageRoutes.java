package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.usage.Grouping;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.SampleUsage;
import dev.parley.server.usage.UsageFilter;
import dev.parley.server.usage.UsageIngest;
import dev.parley.server.usage.UsageRow;
import dev.parley.server.usage.UsageStore;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The user's LLM usage records: upload (POST /api/usage, JSON or CSV), the one-step sample month
 * (POST /api/usage/sample), an aggregate view (GET /api/usage/summary) and removal (DELETE /api/usage). Every route
 * acts on the caller's own records only.
 */
public final class UsageRoutes implements HttpService {
    private static final Logger LOG = LoggerFactory.getLogger(UsageRoutes.class);

    private final UsageStore store;
    private final UsageIngest ingest;
    private final SampleUsage sample;
    private final TokenVerifier tokens;
    private final Clock clock;
    private final int maxBodyBytes;

    public UsageRoutes(UsageStore store, UsageIngest ingest, SampleUsage sample, TokenVerifier tokens, Clock clock,
                       int maxBodyBytes) {
        this.store = store;
        this.ingest = ingest;
        this.sample = sample;
        this.tokens = tokens;
        this.clock = clock;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.post("/api/usage", this::upload)
                .delete("/api/usage", this::deleteAll)
                .post("/api/usage/sample", this::loadSample)
                .get("/api/usage/summary", this::summary);
    }

    private void upload(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, tokens);
        String body = Http.bodyText(request, maxBodyBytes);
        String contentType = request.headers().first(HeaderNames.CONTENT_TYPE).orElse(null);
        UsageIngest.Result result = ingest.read(body, UsageIngest.detect(contentType, body));
        int accepted = result.accepted().isEmpty() ? 0
                : store.add(principal.userId(), result.accepted(), UsageStore.Source.UPLOAD);
        LOG.info("usage upload user={} accepted={} rejected={}", principal.userId(), accepted, result.rejected().size());
        ObjectNode answer = Json.object();
        answer.put("accepted", accepted);
        ArrayNode rejected = answer.putArray("rejected");
        result.rejected().stream().limit(UsageIngest.MAX_LISTED_REJECTIONS).forEach(rejection ->
                rejected.addObject().put("row", rejection.row()).put("error", rejection.error()));
        answer.put("rejected_total", result.rejected().size());
        Http.json(response, accepted > 0 ? 201 : 200, answer);
    }

    private void loadSample(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, tokens);
        LocalDate lastDay = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC).minusDays(1);
        List<UsageRow> rows = sample.generate(lastDay);
        int replaced = store.replaceSample(principal.userId(), rows);
        LOG.info("usage sample loaded user={} records={} replaced={}", principal.userId(), rows.size(), replaced);
        ObjectNode answer = Json.object();
        answer.put("accepted", rows.size());
        answer.putArray("rejected");
        answer.put("rejected_total", 0);
        answer.put("replaced", replaced);
        answer.put("first_day", lastDay.minusDays(SampleUsage.DAYS - 1L).toString());
        answer.put("last_day", lastDay.toString());
        Http.json(response, 201, answer);
    }

    private void summary(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, tokens);
        String groupBy = request.query().first("group_by").asOptional().orElse("model");
        Grouping grouping = Grouping.fromWire(groupBy).orElseThrow(() -> new ProtocolException(
                ErrorCode.INVALID_REQUEST, "The parameter 'group_by' must be one of model, provider, feature, day."));
        UsageFilter filter = new UsageFilter(
                lower(request, "provider").map(PriceCatalog::normalizeProvider).orElse(null),
                lower(request, "model").orElse(null),
                lower(request, "feature").orElse(null),
                day(request, "from").orElse(null),
                day(request, "to").orElse(null));
        Http.json(response, 200, store.summarize(principal.userId(), filter, grouping).toJson());
    }

    private void deleteAll(ServerRequest request, ServerResponse response) {
        Principal principal = Http.authenticate(request, tokens);
        int deleted = store.deleteAll(principal.userId());
        Http.json(response, 200, Json.object().put("deleted", deleted));
    }

    private static Optional<String> lower(ServerRequest request, String name) {
        return request.query().first(name).asOptional().map(value -> value.trim().toLowerCase(Locale.ROOT))
                .filter(value -> !value.isEmpty());
    }

    private static Optional<LocalDate> day(ServerRequest request, String name) {
        Optional<String> raw = request.query().first(name).asOptional();
        try {
            return raw.map(LocalDate::parse);
        } catch (DateTimeParseException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The parameter '" + name + "' must be a day such as 2026-11-02.");
        }
    }
}
