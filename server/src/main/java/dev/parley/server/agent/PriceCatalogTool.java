package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.model.chat.request.json.JsonArraySchema;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.request.json.JsonStringSchema;
import dev.parley.protocol.Json;
import dev.parley.server.usage.PriceCatalog;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/** {@code price_catalog}: list prices per million tokens from the bundled, dated catalog, each with its source. */
final class PriceCatalogTool implements Tool<PriceCatalogTool.Lookup, PriceCatalogTool.Result> {
    static final String NAME = "price_catalog";

    record Lookup(List<String> models, String provider) {
    }

    record Result(List<PriceCatalog.Price> prices, List<String> unknown) {
    }

    private final PriceCatalog catalog;
    private final ToolSpecification specification;

    PriceCatalogTool(PriceCatalog catalog) {
        this.catalog = catalog;
        this.specification = ToolSpecification.builder()
                .name(NAME)
                .description("Current list prices (USD per 1M input, cached input and output tokens) from the bundled "
                        + "price catalog dated " + catalog.asOf() + ", with each row's source, effective date, whether it "
                        + "is uncertain, and a lighter model of the same family. Give model names, or a provider, or "
                        + "neither for the whole catalog.")
                .parameters(JsonObjectSchema.builder()
                        .addProperty("models", JsonArraySchema.builder()
                                .description("model names, e.g. [\"gpt-4o\", \"claude-haiku-4-5\"]")
                                .items(JsonStringSchema.builder().build()).build())
                        .addStringProperty("provider", "only this provider: openai, anthropic, google, groq, together")
                        .build())
                .build();
    }

    @Override
    public ToolSpecification specification() {
        return specification;
    }

    @Override
    public Lookup parse(JsonNode json) {
        ToolArguments args = new ToolArguments(json);
        List<String> models = args.texts("models");
        if (models.isEmpty() && args.text("model") != null) {
            models = List.of(args.text("model"));
        }
        String provider = args.lowerText("provider");
        return new Lookup(models, provider == null ? null : PriceCatalog.normalizeProvider(provider));
    }

    @Override
    public Result execute(String userId, Lookup lookup) {
        List<PriceCatalog.Price> prices = new ArrayList<>();
        List<String> unknown = new ArrayList<>();
        if (lookup.models().isEmpty()) {
            for (String model : catalog.models()) {
                catalog.current(null, model)
                        .filter(price -> lookup.provider() == null || price.provider().equals(lookup.provider()))
                        .ifPresent(prices::add);
            }
        } else {
            for (String model : lookup.models()) {
                catalog.current(lookup.provider(), model).ifPresentOrElse(price -> {
                    if (!prices.contains(price)) {
                        prices.add(price);
                    }
                }, () -> unknown.add(model));
            }
        }
        return new Result(prices, unknown);
    }

    @Override
    public JsonNode render(Result result) {
        ObjectNode json = Json.object();
        json.put("catalog_as_of", catalog.asOf().toString());
        json.put("unit", "USD per 1M tokens");
        ArrayNode rows = json.putArray("prices");
        for (PriceCatalog.Price price : result.prices()) {
            rows.add(renderPrice(price));
        }
        ArrayNode unknown = json.putArray("unknown_models");
        result.unknown().forEach(unknown::add);
        json.put("batch_discount", PriceCatalog.BATCH_SOURCE);
        return json;
    }

    static ObjectNode renderPrice(PriceCatalog.Price price) {
        ObjectNode row = Json.object();
        row.put("provider", price.provider());
        row.put("model", price.model());
        row.put("input", price.input().doubleValue());
        putNullable(row, "cached_input", price.cachedInput());
        putNullable(row, "cache_write", price.cacheWrite());
        row.put("output", price.output().doubleValue());
        if (price.promptTokensAbove() > 0) {
            row.put("applies_above_prompt_tokens", price.promptTokensAbove());
        }
        row.put("effective_from", price.effectiveFrom().toString());
        row.put("source", price.source());
        row.put("uncertain", price.uncertain());
        if (price.lighterModel() != null) {
            row.put("lighter_model", price.lighterModel());
        }
        if (price.note() != null) {
            row.put("note", price.note());
        }
        return row;
    }

    private static void putNullable(ObjectNode row, String name, BigDecimal value) {
        if (value == null) {
            row.putNull(name);
        } else {
            row.put(name, value.doubleValue());
        }
    }
}
