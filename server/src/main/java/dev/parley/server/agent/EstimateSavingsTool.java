package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.parley.protocol.Json;
import dev.parley.server.usage.Grouping;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.UsageFilter;
import dev.parley.server.usage.UsageStore;
import dev.parley.server.usage.UsageSummary;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code estimate_savings}: what a change would save on the user's own recorded usage, priced from the catalog, with
 * the arithmetic of every line written out. Strategies: moving requests to another (by default the lighter) model,
 * prompt caching of a share of input tokens, and the batch APIs' half price.
 */
final class EstimateSavingsTool implements Tool<EstimateSavingsTool.Request, EstimateSavingsTool.Estimate> {
    static final String NAME = "estimate_savings";
    static final String SUBSTITUTION = "model_substitution";
    static final String CACHING = "prompt_caching";
    static final String BATCHING = "batching";
    private static final List<String> STRATEGIES = List.of(SUBSTITUTION, CACHING, BATCHING);
    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);
    private static final ToolSpecification SPECIFICATION = ToolSpecification.builder()
            .name(NAME)
            .description("Estimates savings on the user's recorded usage, with the arithmetic shown. "
                    + "model_substitution: price the same tokens on target_model (default: each model's lighter "
                    + "model from the catalog). prompt_caching: cacheable_share of input tokens is a stable prefix "
                    + "read from cache at cache_hit_rate. batching: batchable_share of the cost moves to the batch "
                    + "APIs at half price (results within 24 h). Narrow with feature and/or model.")
            .parameters(JsonObjectSchema.builder()
                    .addEnumProperty("strategy", STRATEGIES, "which change to estimate")
                    .addStringProperty("feature", "only this feature tag")
                    .addStringProperty("model", "only requests currently on this model")
                    .addStringProperty("target_model", "model_substitution: the model to move to")
                    .addNumberProperty("cacheable_share", "prompt_caching: share of input tokens that is a reusable prefix, 0-1 (default 0.5)")
                    .addNumberProperty("cache_hit_rate", "prompt_caching: share of those reads served from cache, 0-1 (default 0.8)")
                    .addNumberProperty("batchable_share", "batching: share of the requests that can wait up to 24 h, 0-1 (default 1)")
                    .addStringProperty("from", "first UTC day, YYYY-MM-DD")
                    .addStringProperty("to", "last UTC day, YYYY-MM-DD")
                    .required("strategy")
                    .build())
            .build();

    record Request(String strategy, String feature, String model, String targetModel, double cacheableShare,
                   double cacheHitRate, double batchableShare, UsageFilter filter) {
    }

    /** One model's line: what it cost as recorded, what it would cost, and how that was worked out. */
    record Line(String provider, String model, String targetModel, long requests, BigDecimal currentCost,
                BigDecimal estimatedCost, String arithmetic, boolean uncertainPrice) {
        BigDecimal savings() {
            return currentCost.subtract(estimatedCost);
        }
    }

    record Estimate(Request request, List<String> assumptions, List<Line> lines, List<String> skipped) {
        BigDecimal currentCost() {
            return lines.stream().map(Line::currentCost).reduce(BigDecimal.ZERO, BigDecimal::add);
        }

        BigDecimal estimatedCost() {
            return lines.stream().map(Line::estimatedCost).reduce(BigDecimal.ZERO, BigDecimal::add);
        }

        BigDecimal savings() {
            return currentCost().subtract(estimatedCost());
        }
    }

    private final UsageStore store;
    private final PriceCatalog catalog;

    EstimateSavingsTool(UsageStore store, PriceCatalog catalog) {
        this.store = store;
        this.catalog = catalog;
    }

    @Override
    public ToolSpecification specification() {
        return SPECIFICATION;
    }

    @Override
    public Request parse(JsonNode json) {
        ToolArguments args = new ToolArguments(json);
        String strategy = args.choice("strategy", STRATEGIES, null);
        String target = args.lowerText("target_model");
        if (target != null && !catalog.knows(null, target)) {
            throw new ToolInputException("the price catalog has no model '" + target + "'; call price_catalog to see "
                    + "the models it knows");
        }
        String feature = args.lowerText("feature");
        String model = args.lowerText("model");
        return new Request(strategy, feature, model, target == null ? null : catalog.canonicalModel(target).orElseThrow(),
                args.fraction("cacheable_share", 0.5), args.fraction("cache_hit_rate", 0.8),
                args.fraction("batchable_share", 1.0),
                new UsageFilter(null, model, feature, args.day("from"), args.day("to")));
    }

    @Override
    public Estimate execute(String userId, Request request) {
        UsageSummary byModel = store.summarize(userId, request.filter(), Grouping.MODEL);
        List<String> assumptions = new ArrayList<>();
        List<Line> lines = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        switch (request.strategy()) {
            case SUBSTITUTION -> {
                assumptions.add("the same input and output token counts on the new model");
                assumptions.add("list prices of the catalog dated " + catalog.asOf() + ", base context tier");
                for (UsageSummary.Group group : byModel.groups()) {
                    substitution(request, group, lines, skipped);
                }
            }
            case CACHING -> {
                assumptions.add(percent(request.cacheableShare()) + " of input tokens are a stable prompt prefix");
                assumptions.add(percent(request.cacheHitRate()) + " of those prefix reads hit the cache");
                assumptions.add("cache misses are written at the provider's cache-write rate where it charges one");
                for (UsageSummary.Group group : byModel.groups()) {
                    caching(request, group, lines, skipped);
                }
            }
            case BATCHING -> {
                assumptions.add(percent(request.batchableShare()) + " of the requests can wait up to 24 h for a result");
                assumptions.add(PriceCatalog.BATCH_SOURCE);
                for (UsageSummary.Group group : byModel.groups()) {
                    batching(request, group, lines);
                }
            }
            default -> throw new IllegalStateException("unknown strategy " + request.strategy());
        }
        return new Estimate(request, assumptions, lines, skipped);
    }

    private void substitution(Request request, UsageSummary.Group group, List<Line> lines, List<String> skipped) {
        Optional<PriceCatalog.Price> current = catalog.current(group.provider(), group.key());
        String target = request.targetModel() != null ? request.targetModel()
                : current.map(PriceCatalog.Price::lighterModel).orElse(null);
        if (target == null) {
            skipped.add(group.key() + ": " + (current.isEmpty() ? "not in the price catalog" : "no lighter model in the catalog"));
            return;
        }
        if (PriceCatalog.sameModel(target, group.key())) {
            skipped.add(group.key() + ": already on " + target);
            return;
        }
        PriceCatalog.Price price = catalog.current(null, target).orElseThrow();
        BigDecimal inputCost = money(price.input(), group.inputTokens());
        BigDecimal outputCost = money(price.output(), group.outputTokens());
        BigDecimal estimated = inputCost.add(outputCost);
        String arithmetic = Figures.count(group.inputTokens()) + " input tokens × " + Figures.perMillion(price.input())
                + " = " + Figures.usd(inputCost) + "; " + Figures.count(group.outputTokens()) + " output tokens × "
                + Figures.perMillion(price.output()) + " = " + Figures.usd(outputCost) + "; total "
                + Figures.usd(estimated) + " on " + target + " vs " + Figures.usd(group.costUsd()) + " recorded on "
                + group.key();
        lines.add(new Line(group.provider(), group.key(), target, group.requests(), group.costUsd(), estimated,
                arithmetic, price.uncertain()));
    }

    private void caching(Request request, UsageSummary.Group group, List<Line> lines, List<String> skipped) {
        Optional<PriceCatalog.Price> found = catalog.current(group.provider(), group.key());
        if (found.isEmpty() || found.get().cachedInput() == null) {
            skipped.add(group.key() + ": " + (found.isEmpty() ? "not in the price catalog" : "no cached-input price in the catalog"));
            return;
        }
        PriceCatalog.Price price = found.get();
        long cacheable = Math.round(group.inputTokens() * request.cacheableShare());
        long hits = Math.round(cacheable * request.cacheHitRate());
        long misses = cacheable - hits;
        BigDecimal readSaving = money(price.input().subtract(price.cachedInput()), hits);
        BigDecimal writePremium = price.cacheWrite() == null ? BigDecimal.ZERO
                : money(price.cacheWrite().subtract(price.input()), misses);
        BigDecimal saving = readSaving.subtract(writePremium);
        String arithmetic = Figures.count(hits) + " cached input tokens × (" + Figures.perMillion(price.input()) + " − "
                + Figures.perMillion(price.cachedInput()) + ") = " + Figures.usd(readSaving) + " saved"
                + (price.cacheWrite() == null ? "" : "; " + Figures.count(misses) + " tokens written to cache × ("
                + Figures.perMillion(price.cacheWrite()) + " − " + Figures.perMillion(price.input()) + ") = "
                + Figures.usd(writePremium) + " extra") + "; net " + Figures.usd(saving);
        lines.add(new Line(group.provider(), group.key(), group.key(), group.requests(), group.costUsd(),
                group.costUsd().subtract(saving), arithmetic, price.uncertain()));
    }

    private void batching(Request request, UsageSummary.Group group, List<Line> lines) {
        BigDecimal share = BigDecimal.valueOf(request.batchableShare());
        BigDecimal saving = group.costUsd().multiply(share).multiply(PriceCatalog.BATCH_DISCOUNT)
                .setScale(8, RoundingMode.HALF_UP);
        String arithmetic = Figures.usd(group.costUsd()) + " × " + percent(request.batchableShare()) + " batchable × "
                + "50% discount = " + Figures.usd(saving) + " saved";
        lines.add(new Line(group.provider(), group.key(), group.key(), group.requests(), group.costUsd(),
                group.costUsd().subtract(saving), arithmetic, false));
    }

    private static BigDecimal money(BigDecimal perMillion, long tokens) {
        return perMillion.multiply(BigDecimal.valueOf(tokens)).divide(MILLION, 8, RoundingMode.HALF_UP);
    }

    private static String percent(double share) {
        return BigDecimal.valueOf(share * 100).setScale(0, RoundingMode.HALF_UP).toPlainString() + "%";
    }

    @Override
    public JsonNode render(Estimate estimate) {
        ObjectNode json = Json.object();
        json.put("strategy", estimate.request().strategy());
        if (estimate.request().feature() != null) {
            json.put("feature", estimate.request().feature());
        }
        ArrayNode assumptions = json.putArray("assumptions");
        estimate.assumptions().forEach(assumptions::add);
        ArrayNode lines = json.putArray("lines");
        for (Line line : estimate.lines()) {
            ObjectNode row = lines.addObject();
            row.put("provider", line.provider());
            row.put("model", line.model());
            row.put("target_model", line.targetModel());
            row.put("requests", line.requests());
            row.put("current_cost_usd", usd(line.currentCost()));
            row.put("estimated_cost_usd", usd(line.estimatedCost()));
            row.put("savings_usd", usd(line.savings()));
            row.put("arithmetic", line.arithmetic());
            row.put("uncertain_price", line.uncertainPrice());
        }
        ArrayNode skipped = json.putArray("skipped");
        estimate.skipped().forEach(skipped::add);
        json.put("current_cost_usd", usd(estimate.currentCost()));
        json.put("estimated_cost_usd", usd(estimate.estimatedCost()));
        json.put("savings_usd", usd(estimate.savings()));
        json.put("savings_pct", estimate.currentCost().signum() == 0 ? 0.0
                : estimate.savings().multiply(BigDecimal.valueOf(100))
                        .divide(estimate.currentCost(), 1, RoundingMode.HALF_UP).doubleValue());
        return json;
    }

    private static double usd(BigDecimal amount) {
        return amount.setScale(6, RoundingMode.HALF_UP).doubleValue();
    }
}
