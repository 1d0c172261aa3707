package dev.parley.server.agent;

import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.UsageSummary;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The reporting sub-agent's Markdown: every figure comes from the findings (the user's records, the catalog and the
 * estimates worked out from them); a question the data cannot answer gets the list of questions it can, and no
 * number at all.
 */
final class Reports {
    private Reports() {
    }

    static String write(OfflineTeam.Findings f, PriceCatalog catalog) {
        StringBuilder md = new StringBuilder();
        switch (f.question.kind()) {
            case UNSUPPORTED -> unsupported(md, f.question.text());
            case PRICES -> prices(md, f, catalog);
            default -> {
                if (f.noData()) {
                    noData(md);
                } else {
                    switch (f.question.kind()) {
                        case LATENCY -> latency(md, f);
                        case WHAT_IF -> whatIf(md, f, catalog);
                        case COMPARE_PROVIDERS -> compare(md, f);
                        default -> costs(md, f);
                    }
                    footer(md, f, catalog);
                }
            }
        }
        return md.toString();
    }

    // ---- costs -------------------------------------------------------------------------------------------------

    private static void costs(StringBuilder md, OfflineTeam.Findings f) {
        UsageSummary.Totals t = f.byModel.totals();
        md.append("## Where your money goes\n\n");
        md.append("From ").append(t.firstDay()).append(" to ").append(t.lastDay()).append(" you made **")
                .append(Figures.count(t.requests())).append("** LLM requests costing **").append(Figures.usd(t.costUsd()))
                .append("** (").append(Figures.count(t.inputTokens())).append(" input and ")
                .append(Figures.count(t.outputTokens())).append(" output tokens).\n\n");
        UsageSummary.Group topModel = f.byModel.groups().getFirst();
        UsageSummary.Group topFeature = f.byFeature.groups().getFirst();
        md.append("The biggest item is **").append(topModel.key()).append("** at ").append(Figures.usd(topModel.costUsd()))
                .append(" (").append(Figures.pct(topModel.costUsd(), t.costUsd())).append(" of spend); the costliest feature is **")
                .append(topFeature.key()).append("** at ").append(Figures.usd(topFeature.costUsd())).append(" (")
                .append(Figures.pct(topFeature.costUsd(), t.costUsd())).append(").\n\n");
        md.append("### By model\n\n");
        md.append("| Model | Provider | Requests | Cost | Share |\n|---|---|---:|---:|---:|\n");
        for (UsageSummary.Group g : f.byModel.groups()) {
            md.append("| ").append(g.key()).append(" | ").append(g.provider()).append(" | ")
                    .append(Figures.count(g.requests())).append(" | ").append(Figures.usd(g.costUsd())).append(" | ")
                    .append(Figures.pct(g.costUsd(), t.costUsd())).append(" |\n");
        }
        md.append("\n### By feature\n\n");
        md.append("| Feature | Requests | Cost | Share | Cost per request |\n|---|---:|---:|---:|---:|\n");
        for (UsageSummary.Group g : f.byFeature.groups()) {
            md.append("| ").append(g.key()).append(" | ").append(Figures.count(g.requests())).append(" | ")
                    .append(Figures.usd(g.costUsd())).append(" | ").append(Figures.pct(g.costUsd(), t.costUsd()))
                    .append(" | ").append(Figures.usd(perRequest(g.costUsd(), g.requests()))).append(" |\n");
        }
        trend(md, f.byDay);
        md.append("\n### What you could change\n\n");
        int n = 1;
        for (EstimateSavingsTool.Estimate e : f.estimates) {
            n = estimate(md, e, n);
        }
        if (n == 1) {
            md.append("I found no change the catalog can price for your models.\n");
        }
    }

    private static void trend(StringBuilder md, UsageSummary byDay) {
        if (byDay == null || byDay.groups().isEmpty()) {
            return;
        }
        List<UsageSummary.Group> days = byDay.groups();
        UsageSummary.Group peak = days.stream().max(Comparator.comparing(UsageSummary.Group::costUsd)).orElseThrow();
        md.append("\n### Trend\n\n");
        if (days.size() >= 14) {
            BigDecimal first = average(days.subList(0, 7));
            BigDecimal last = average(days.subList(days.size() - 7, days.size()));
            md.append("Daily spend averaged ").append(Figures.usd(first)).append(" over your first 7 days with data and ")
                    .append(Figures.usd(last)).append(" over the last 7 (")
                    .append(change(first, last)).append("). ");
        }
        md.append("The most expensive day was ").append(peak.key()).append(" at ").append(Figures.usd(peak.costUsd()))
                .append(".\n");
    }

    // ---- latency -----------------------------------------------------------------------------------------------

    private static void latency(StringBuilder md, OfflineTeam.Findings f) {
        UsageSummary.Totals t = f.byModel.totals();
        md.append("## What is slow\n\n");
        if (t.p50LatencyMs() == null) {
            md.append("Your ").append(Figures.count(t.requests()))
                    .append(" usage records carry no latency_ms, so I cannot tell what is slow. Upload records with a ")
                    .append("latency_ms column and ask again.\n");
            return;
        }
        md.append("Across your requests from ").append(t.firstDay()).append(" to ").append(t.lastDay())
                .append(", the median latency is **").append(Figures.ms(t.p50LatencyMs())).append("** and the 95th percentile **")
                .append(Figures.ms(t.p95LatencyMs())).append("**.\n\n");
        List<UsageSummary.Group> features = f.byFeature.groups().stream().filter(g -> g.p95LatencyMs() != null)
                .sorted(Comparator.comparingLong(UsageSummary.Group::p95LatencyMs).reversed()).toList();
        md.append("### By feature, slowest first\n\n| Feature | Requests | p50 | p95 |\n|---|---:|---:|---:|\n");
        for (UsageSummary.Group g : features) {
            md.append("| ").append(g.key()).append(" | ").append(Figures.count(g.requests())).append(" | ")
                    .append(Figures.ms(g.p50LatencyMs())).append(" | ").append(Figures.ms(g.p95LatencyMs())).append(" |\n");
        }
        List<UsageSummary.Group> models = f.byModel.groups().stream().filter(g -> g.p95LatencyMs() != null)
                .sorted(Comparator.comparingLong(UsageSummary.Group::p95LatencyMs).reversed()).toList();
        md.append("\n### By model, slowest first\n\n| Model | Provider | Requests | p50 | p95 |\n|---|---|---:|---:|---:|\n");
        for (UsageSummary.Group g : models) {
            md.append("| ").append(g.key()).append(" | ").append(g.provider()).append(" | ")
                    .append(Figures.count(g.requests())).append(" | ").append(Figures.ms(g.p50LatencyMs())).append(" | ")
                    .append(Figures.ms(g.p95LatencyMs())).append(" |\n");
        }
        md.append("\n### What you could change\n\n");
        if (!features.isEmpty()) {
            UsageSummary.Group slowest = features.getFirst();
            md.append("1. **").append(slowest.key()).append("** is the slowest feature (p95 ")
                    .append(Figures.ms(slowest.p95LatencyMs())).append(", p50 ").append(Figures.ms(slowest.p50LatencyMs()))
                    .append("). Latency grows with output length, so cap max output tokens there and stream the answer ")
                    .append("so users see the first words early.\n");
        }
        for (EstimateSavingsTool.Estimate e : f.estimates) {
            for (EstimateSavingsTool.Line line : e.lines()) {
                md.append("2. Moving its **").append(line.model()).append("** requests to **").append(line.targetModel())
                        .append("**, a lighter model that usually answers faster, would change their cost from ")
                        .append(Figures.usd(line.currentCost())).append(" to ").append(Figures.usd(line.estimatedCost()))
                        .append(" (").append(line.arithmetic()).append(").");
                Optional<UsageSummary.Group> measured = f.byModel.groups().stream()
                        .filter(g -> PriceCatalog.sameModel(g.key(), line.targetModel()) && g.p50LatencyMs() != null)
                        .findFirst();
                measured.ifPresentOrElse(g -> md.append(" In your own data ").append(g.key()).append(" answers at p50 ")
                                .append(Figures.ms(g.p50LatencyMs())).append(", p95 ").append(Figures.ms(g.p95LatencyMs()))
                                .append(".\n"),
                        () -> md.append(" You do not use ").append(line.targetModel())
                                .append(" yet, so I have no latency of yours to compare; try it on a share of traffic first.\n"));
            }
        }
    }

    // ---- what if -----------------------------------------------------------------------------------------------

    private static void whatIf(StringBuilder md, OfflineTeam.Findings f, PriceCatalog catalog) {
        String scope = f.feature == null ? "all of your usage" : f.feature;
        EstimateSavingsTool.Estimate e = f.estimates.getFirst();
        md.append("## What if ").append(scope).append(" moved to ")
                .append(f.targetModel == null ? "lighter models" : f.targetModel).append("\n\n");
        if (f.feature == null) {
            md.append("Your question names none of your features (")
                    .append(f.byFeature.groups().stream().map(UsageSummary.Group::key).collect(Collectors.joining(", ")))
                    .append("), so I applied it to all of your usage.\n\n");
        }
        UsageSummary scoped = f.featureByModel != null ? f.featureByModel : f.byModel;
        UsageSummary.Totals t = scoped.totals();
        md.append(f.feature == null ? "Your usage" : "**" + scope + "**").append(" made ").append(Figures.count(t.requests())).append(" requests from ")
                .append(t.firstDay()).append(" to ").append(t.lastDay()).append(" on ")
                .append(scoped.groups().stream().map(UsageSummary.Group::key).collect(Collectors.joining(", ")))
                .append(", costing **").append(Figures.usd(t.costUsd())).append("** (")
                .append(Figures.count(t.inputTokens())).append(" input and ").append(Figures.count(t.outputTokens()))
                .append(" output tokens).\n\n");
        if (f.targetModel != null) {
            catalog.current(null, f.targetModel).ifPresent(p -> md.append(f.targetModel).append(" lists at ")
                    .append(Figures.perMillion(p.input())).append(" input and ").append(Figures.perMillion(p.output()))
                    .append(" output (effective ").append(p.effectiveFrom()).append(", source: ").append(p.source())
                    .append(p.uncertain() ? "; this price is marked uncertain" : "").append(").\n\n"));
        }
        if (e.lines().isEmpty()) {
            md.append("There is nothing to move: ").append(String.join("; ", e.skipped())).append(".\n");
            return;
        }
        md.append("| Now on | Moves to | Requests | Recorded cost | Estimated cost | Difference |\n|---|---|---:|---:|---:|---:|\n");
        for (EstimateSavingsTool.Line line : e.lines()) {
            md.append("| ").append(line.model()).append(" | ").append(line.targetModel()).append(" | ")
                    .append(Figures.count(line.requests())).append(" | ").append(Figures.usd(line.currentCost()))
                    .append(" | ").append(Figures.usd(line.estimatedCost())).append(" | ")
                    .append(Figures.usd(line.savings().negate())).append(" |\n");
        }
        md.append("\nHow it adds up:\n\n");
        for (EstimateSavingsTool.Line line : e.lines()) {
            md.append("- ").append(line.arithmetic()).append(".\n");
        }
        BigDecimal savings = e.savings();
        md.append("\n");
        if (savings.signum() >= 0) {
            md.append("**Estimated saving: ").append(Figures.usd(savings)).append("** (")
                    .append(Figures.pct(savings, e.currentCost())).append(" of the ").append(Figures.usd(e.currentCost()))
                    .append(" the moved requests cost now).");
        } else {
            md.append("**This would cost ").append(Figures.usd(savings.negate())).append(" more** (")
                    .append(Figures.usd(e.estimatedCost())).append(" instead of ").append(Figures.usd(e.currentCost()))
                    .append(").");
        }
        md.append(" Token counts differ a little between model families, and quality may too: try it on a share of ")
                .append("traffic and compare answers before moving everything.\n");
        if (!e.skipped().isEmpty()) {
            md.append("\nNot included: ").append(String.join("; ", e.skipped())).append(".\n");
        }
        if (f.targetModel != null) {
            f.byModel.groups().stream().filter(g -> PriceCatalog.sameModel(g.key(), f.targetModel)
                            && g.p50LatencyMs() != null).findFirst()
                    .ifPresent(g -> md.append("\nYou already use ").append(g.key()).append(": it answers at p50 ")
                            .append(Figures.ms(g.p50LatencyMs())).append(", p95 ").append(Figures.ms(g.p95LatencyMs()))
                            .append(" in your data.\n"));
        }
    }

    // ---- providers ---------------------------------------------------------------------------------------------

    private static void compare(StringBuilder md, OfflineTeam.Findings f) {
        UsageSummary.Totals t = f.byProvider.totals();
        md.append("## Providers compared\n\n");
        md.append("From ").append(t.firstDay()).append(" to ").append(t.lastDay()).append(": ")
                .append(Figures.count(t.requests())).append(" requests, ").append(Figures.usd(t.costUsd())).append(" in total.\n\n");
        md.append("| Provider | Requests | Cost | Share | Cost per request | Output tokens | p50 | p95 |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (UsageSummary.Group g : f.byProvider.groups()) {
            md.append("| ").append(g.key()).append(" | ").append(Figures.count(g.requests())).append(" | ")
                    .append(Figures.usd(g.costUsd())).append(" | ").append(Figures.pct(g.costUsd(), t.costUsd()))
                    .append(" | ").append(Figures.usd(perRequest(g.costUsd(), g.requests()))).append(" | ")
                    .append(Figures.count(g.outputTokens())).append(" | ").append(Figures.ms(g.p50LatencyMs()))
                    .append(" | ").append(Figures.ms(g.p95LatencyMs())).append(" |\n");
        }
        md.append("\nYour providers serve different features, so cost per request reflects the work as much as the price. ")
                .append("On the same unit, the list prices of the models you use are:\n\n");
        md.append("| Model | Provider | Input | Output |\n|---|---|---:|---:|\n");
        for (PriceCatalog.Price p : f.prices.prices()) {
            md.append("| ").append(p.model()).append(" | ").append(p.provider()).append(" | ")
                    .append(Figures.perMillion(p.input())).append(" | ").append(Figures.perMillion(p.output()))
                    .append(" |\n");
        }
        f.byProvider.groups().stream().filter(g -> g.p50LatencyMs() != null)
                .min(Comparator.comparingLong(UsageSummary.Group::p50LatencyMs))
                .ifPresent(g -> md.append("\nFastest in your data: **").append(g.key()).append("** (p50 ")
                        .append(Figures.ms(g.p50LatencyMs())).append(").\n"));
    }

    // ---- prices, no data, unsupported --------------------------------------------------------------------------

    private static void prices(StringBuilder md, OfflineTeam.Findings f, PriceCatalog catalog) {
        md.append("## Prices\n\nList prices per million tokens from the catalog dated ").append(catalog.asOf())
                .append(":\n\n| Model | Provider | Input | Cached input | Output | Effective | Source |\n")
                .append("|---|---|---:|---:|---:|---|---|\n");
        for (PriceCatalog.Price p : f.prices.prices()) {
            md.append("| ").append(p.model()).append(p.uncertain() ? " (uncertain)" : "").append(" | ")
                    .append(p.provider()).append(" | ").append(Figures.perMillion(p.input())).append(" | ")
                    .append(p.cachedInput() == null ? "–" : Figures.perMillion(p.cachedInput())).append(" | ")
                    .append(Figures.perMillion(p.output())).append(" | ").append(p.effectiveFrom()).append(" | ")
                    .append(p.source()).append(" |\n");
        }
        if (!f.prices.unknown().isEmpty()) {
            md.append("\nNot in the catalog: ").append(String.join(", ", f.prices.unknown())).append(".\n");
        }
        md.append("\nBatch APIs bill half of these prices. Prices change often: check the provider's page before you commit.\n");
    }

    private static void noData(StringBuilder md) {
        md.append("## No usage data yet\n\n");
        md.append("I looked for your LLM usage records and found none, so there are no figures to analyse yet.\n\n");
        md.append("To get started, either:\n\n");
        md.append("- **Load the sample month**: `POST /api/usage/sample` (no body) adds 30 days of realistic usage ")
                .append("across several providers, models and features, so you can try every question.\n");
        md.append("- **Upload your own records**: `POST /api/usage` with a JSON array or a CSV file with a header row. ")
                .append("Columns: `occurred_at`, `provider`, `model`, `input_tokens`, `output_tokens`, and optionally ")
                .append("`feature`, `latency_ms` and `cost_usd` (priced from the catalog when missing).\n\n");
        md.append("```csv\n");
        md.append("occurred_at,provider,model,feature,input_tokens,output_tokens,latency_ms\n");
        md.append("2026-11-02T14:05:00Z,openai,gpt-4o-mini,support_chat,1200,250,850\n");
        md.append("```\n\n");
        md.append("Then ask again, for example: *Where does my money go?*\n");
    }

    private static void unsupported(StringBuilder md, String question) {
        md.append("## What I can help with\n\n");
        md.append("I analyse the LLM usage records you upload (requests, tokens, latency and cost per provider, model and ")
                .append("feature) against a dated catalog of model prices. Your question is outside what that data can ")
                .append("answer, so I will not guess.\n\n");
        md.append("Questions I can answer:\n\n");
        md.append("- **Where does my money go?** Spend by model, feature and day, and what to change.\n");
        md.append("- **What is slow?** p50 and p95 latency by feature and model.\n");
        md.append("- **What if summarization moved to claude-haiku-4-5?** The same tokens priced on another model, with the arithmetic.\n");
        md.append("- **Compare my providers.** Cost, volume and latency per provider.\n");
        md.append("- **How much does gpt-4o-mini cost?** List prices with their source and date.\n");
    }

    // ---- shared ------------------------------------------------------------------------------------------------

    private static int estimate(StringBuilder md, EstimateSavingsTool.Estimate e, int n) {
        if (e.lines().isEmpty() || e.savings().signum() <= 0) {
            return n;
        }
        String title = switch (e.request().strategy()) {
            case EstimateSavingsTool.SUBSTITUTION -> "Move to lighter models";
            case EstimateSavingsTool.CACHING -> "Cache stable prompt prefixes";
            default -> "Batch " + (e.request().feature() == null ? "work that can wait" : e.request().feature());
        };
        md.append(n).append(". **").append(title).append("**: about **").append(Figures.usd(e.savings()))
                .append("** less (").append(Figures.pct(e.savings(), e.currentCost())).append(" of the ")
                .append(Figures.usd(e.currentCost())).append(" those requests cost now), assuming ").append(String.join("; ", e.assumptions()))
                .append(".\n");
        e.lines().stream().filter(line -> line.savings().signum() > 0)
                .sorted(Comparator.comparing(EstimateSavingsTool.Line::savings).reversed()).limit(4)
                .forEach(line -> md.append("   - ").append(line.model())
                        .append(line.targetModel().equals(line.model()) ? "" : " → " + line.targetModel()).append(": ")
                        .append(line.arithmetic()).append(line.uncertainPrice() ? " (price uncertain)" : "").append(".\n"));
        return n + 1;
    }

    private static void footer(StringBuilder md, OfflineTeam.Findings f, PriceCatalog catalog) {
        md.append("\n_Figures come from your usage records");
        if (f.prices != null) {
            md.append(" and the price catalog dated ").append(catalog.asOf());
            List<String> uncertain = f.prices.prices().stream().filter(PriceCatalog.Price::uncertain)
                    .map(PriceCatalog.Price::model).distinct().toList();
            if (!uncertain.isEmpty()) {
                md.append("; prices marked uncertain there: ").append(String.join(", ", uncertain));
            }
        }
        md.append("._\n");
    }

    private static BigDecimal perRequest(BigDecimal cost, long requests) {
        return requests == 0 ? BigDecimal.ZERO : cost.divide(BigDecimal.valueOf(requests), 8, RoundingMode.HALF_UP);
    }

    private static BigDecimal average(List<UsageSummary.Group> days) {
        BigDecimal sum = days.stream().map(UsageSummary.Group::costUsd).reduce(BigDecimal.ZERO, BigDecimal::add);
        return sum.divide(BigDecimal.valueOf(days.size()), 8, RoundingMode.HALF_UP);
    }

    private static String change(BigDecimal from, BigDecimal to) {
        if (from.signum() == 0) {
            return "new spend";
        }
        BigDecimal pct = to.subtract(from).multiply(BigDecimal.valueOf(100)).divide(from, 1, RoundingMode.HALF_UP);
        return (pct.signum() >= 0 ? "up " : "down ") + pct.abs().toPlainString() + "%";
    }
}
