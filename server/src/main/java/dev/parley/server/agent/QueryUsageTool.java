package dev.parley.server.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.parley.server.usage.Grouping;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.UsageFilter;
import dev.parley.server.usage.UsageStore;
import dev.parley.server.usage.UsageSummary;
import java.util.Arrays;
import java.util.List;

/** {@code query_usage}: the user's usage aggregated by model, provider, feature or day, with totals and p50/p95 latency. */
final class QueryUsageTool implements Tool<QueryUsageTool.Query, QueryUsageTool.Result> {
    static final String NAME = "query_usage";
    private static final List<String> GROUPINGS = Arrays.stream(Grouping.values()).map(Grouping::wireName).toList();
    private static final ToolSpecification SPECIFICATION = ToolSpecification.builder()
            .name(NAME)
            .description("Aggregates the user's own LLM usage records (requests, input/output tokens, cost in USD, "
                    + "p50/p95 latency in ms) by model, provider, feature or day, with totals. Groups come "
                    + "costliest first (days in calendar order). Totals with 0 requests mean the user has no data.")
            .parameters(JsonObjectSchema.builder()
                    .addEnumProperty("group_by", GROUPINGS, "the dimension to aggregate by")
                    .addStringProperty("provider", "only records of this provider, e.g. openai")
                    .addStringProperty("model", "only records of this model, e.g. gpt-4o-mini")
                    .addStringProperty("feature", "only records of this feature tag, e.g. summarization")
                    .addStringProperty("from", "first UTC day to include, YYYY-MM-DD")
                    .addStringProperty("to", "last UTC day to include, YYYY-MM-DD")
                    .addIntegerProperty("limit", "most groups to return, 1-100 (default 20)")
                    .required("group_by")
                    .build())
            .build();

    record Query(Grouping groupBy, UsageFilter filter, int limit) {
    }

    record Result(UsageSummary summary, int limit) {
    }

    private final UsageStore store;

    QueryUsageTool(UsageStore store) {
        this.store = store;
    }

    @Override
    public ToolSpecification specification() {
        return SPECIFICATION;
    }

    @Override
    public Query parse(JsonNode json) {
        ToolArguments args = new ToolArguments(json);
        Grouping grouping = Grouping.fromWire(args.choice("group_by", GROUPINGS, null)).orElseThrow();
        UsageFilter filter = new UsageFilter(
                args.lowerText("provider") == null ? null : PriceCatalog.normalizeProvider(args.lowerText("provider")),
                args.lowerText("model"), args.lowerText("feature"), args.day("from"), args.day("to"));
        if (filter.from() != null && filter.to() != null && filter.from().isAfter(filter.to())) {
            throw new ToolInputException("'from' is after 'to'");
        }
        return new Query(grouping, filter, args.integer("limit", 20, 1, 100));
    }

    @Override
    public Result execute(String userId, Query query) {
        return new Result(store.summarize(userId, query.filter(), query.groupBy()), query.limit());
    }

    @Override
    public JsonNode render(Result result) {
        ObjectNode json = result.summary().toJson();
        ArrayNode groups = (ArrayNode) json.get("groups");
        json.put("groups_total", groups.size());
        while (groups.size() > result.limit()) {
            groups.remove(groups.size() - 1);
        }
        return json;
    }
}
