package dev.parley.server.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import dev.parley.server.auth.Accounts;
import dev.parley.server.auth.Principal;
import dev.parley.server.auth.TokenVerifier;
import dev.parley.server.budget.BudgetStatus;
import dev.parley.server.budget.Budgets;
import dev.parley.server.budget.Money;
import io.helidon.webserver.http.HttpRules;
import io.helidon.webserver.http.HttpService;
import io.helidon.webserver.http.ServerRequest;
import java.math.BigDecimal;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spend budgets: the caller's own position in the current period (GET /api/budget), and one user's own limit, read
 * and set by the accounts named in {@code PARLEY_ADMIN_EMAILS} (GET and PUT /api/admin/budgets/{user_id}; 403
 * {@code forbidden} for anyone else).
 */
public final class BudgetRoutes implements HttpService {
    private static final Logger LOG = LoggerFactory.getLogger(BudgetRoutes.class);
    private static final BigDecimal MAX_LIMIT = new BigDecimal("1000000000");

    private final Budgets budgets;
    private final Accounts accounts;
    private final TokenVerifier verifier;
    private final int maxBodyBytes;

    public BudgetRoutes(Budgets budgets, Accounts accounts, TokenVerifier verifier, int maxBodyBytes) {
        this.budgets = budgets;
        this.accounts = accounts;
        this.verifier = verifier;
        this.maxBodyBytes = maxBodyBytes;
    }

    @Override
    public void routing(HttpRules rules) {
        rules.get("/api/budget", (request, response) -> {
            Principal principal = Http.authenticate(request, verifier);
            BudgetStatus status = budgets.status(principal.userId());
            ObjectNode body = Json.object();
            putUsd(body, "limit_usd", status.limitUsd());
            body.put("spent_usd", status.spentUsd());
            body.put("reserved_usd", status.reservedUsd());
            putUsd(body, "remaining_usd", status.remainingUsd());
            body.put("period", budgets.config().period().name().toLowerCase(java.util.Locale.ROOT));
            body.put("period_start", status.period().startInstant().toString());
            body.put("period_end", status.period().endInstant().toString());
            body.put("warn_at", budgets.config().warnAt());
            Http.json(response, 200, body);
        });
        rules.get("/api/admin/budgets/{user_id}", (request, response) -> {
            String userId = requireAdminOf(request);
            Http.json(response, 200, limitBody(userId, budgets.override(userId)));
        });
        rules.put("/api/admin/budgets/{user_id}", (request, response) -> {
            Principal admin = Http.authenticate(request, verifier);
            requireAdmin(admin);
            ObjectNode body = Http.jsonBody(request, maxBodyBytes);
            if (!body.has("limit_usd")) {
                throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                        "The field 'limit_usd' is required: a number of US dollars, or null for the default.");
            }
            BigDecimal limit = limit(body.get("limit_usd"));
            String userId = requireUser(request);
            budgets.setOverride(userId, limit);
            LOG.info("Budget of user {} set to {} by admin {}", userId, limit == null ? "the default"
                    : limit.toPlainString() + " USD", admin.userId());
            Http.json(response, 200, limitBody(userId, Optional.ofNullable(limit).map(l -> Money.usd(Money.micros(l)))));
        });
    }

    private String requireAdminOf(ServerRequest request) {
        requireAdmin(Http.authenticate(request, verifier));
        return requireUser(request);
    }

    private void requireAdmin(Principal principal) {
        if (!budgets.config().admin(principal.email())) {
            throw new ProtocolException(ErrorCode.FORBIDDEN, "Only the accounts in PARLEY_ADMIN_EMAILS may read or set "
                    + "other users' budgets.");
        }
    }

    private String requireUser(ServerRequest request) {
        String userId = request.path().pathParameters().get("user_id");
        if (accounts.findUser(userId).isEmpty()) {
            throw new ProtocolException(ErrorCode.NOT_FOUND, "There is no user with that id.");
        }
        return userId;
    }

    private static BigDecimal limit(JsonNode value) {
        if (value == null || value.isNull()) {
            return null;
        }
        BigDecimal limit;
        if (value.isNumber()) {
            limit = value.decimalValue();
        } else if (value.isTextual()) {
            try {
                limit = new BigDecimal(value.asText().trim());
            } catch (NumberFormatException e) {
                throw invalidLimit();
            }
        } else {
            throw invalidLimit();
        }
        if (limit.signum() < 0 || limit.compareTo(MAX_LIMIT) > 0) {
            throw invalidLimit();
        }
        return limit;
    }

    private static ProtocolException invalidLimit() {
        return new ProtocolException(ErrorCode.INVALID_REQUEST,
                "The field 'limit_usd' must be a number of US dollars from 0 to 1000000000, or null for the default.");
    }

    private ObjectNode limitBody(String userId, Optional<BigDecimal> own) {
        ObjectNode body = Json.object();
        body.put("user_id", userId);
        putUsd(body, "limit_usd", own);
        putUsd(body, "default_limit_usd", budgets.config().limitUsd());
        return body;
    }

    private static void putUsd(ObjectNode body, String field, Optional<BigDecimal> usd) {
        if (usd.isPresent()) {
            body.put(field, usd.get());
        } else {
            body.putNull(field);
        }
    }
}
