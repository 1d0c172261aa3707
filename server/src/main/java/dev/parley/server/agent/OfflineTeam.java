package dev.parley.server.agent;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.Json;
import dev.parley.server.usage.PriceCatalog;
import dev.parley.server.usage.UsageSummary;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The offline AI spend optimizer, used when no language model is configured: a supervisor that runs four sub-agents
 * in turn, triage → data → optimization → reporting, each announcing itself with {@code agent_thinking} and working
 * through the same tools a model would call. Reporting streams a Markdown answer line by line, built only from the
 * user's own records and the price catalog. {@code PARLEY_AGENT_STEP_DELAY} pauses between steps; a stopped run ends
 * in the pause, in a tool, or between lines.
 */
final class OfflineTeam implements Agent {
    static final String TRIAGE = "triage";
    static final String DATA = "data";
    static final String OPTIMIZATION = "optimization";
    static final String REPORTING = "reporting";

    private static final Pattern OFFLINE_WORK = Pattern.compile(
            "report|batch|nightly|digest|eval|summar|extract|classif|embed|index|label|translat|backfill");

    private final Triage triage;
    private final Toolbox tools;
    private final PriceCatalog catalog;
    private final Duration stepDelay;
    private final Sleeper sleeper;

    OfflineTeam(Toolbox tools, PriceCatalog catalog, Duration stepDelay, Sleeper sleeper) {
        this.triage = new Triage(catalog);
        this.tools = tools;
        this.catalog = catalog;
        this.stepDelay = stepDelay;
        this.sleeper = sleeper;
    }

    /** What the steps found, handed from one to the next; written only by the run's own thread. */
    static final class Findings {
        Triage.Question question;
        UsageSummary totals;
        UsageSummary byModel;
        UsageSummary byFeature;
        UsageSummary byDay;
        UsageSummary byProvider;
        String feature;
        UsageSummary featureByModel;
        String targetModel;
        PriceCatalogTool.Result prices;
        final List<EstimateSavingsTool.Estimate> estimates = new ArrayList<>();

        boolean noData() {
            return totals == null || totals.totals().empty();
        }
    }

    @Override
    public Answer run(AgentRun run) throws InterruptedException {
        Findings findings = new Findings();
        findings.question = triage.read(run.request());
        Triage.Kind kind = findings.question.kind();
        RunEvents.thinking(run, TRIAGE, triageNote(findings.question), 1, 10);
        pause(run);

        if (kind == Triage.Kind.UNSUPPORTED) {
            return report(run, findings, 2);
        }
        if (kind == Triage.Kind.PRICES) {
            RunEvents.thinking(run, OPTIMIZATION, "Looking up " + String.join(", ", findings.question.models())
                    + " in the price catalog dated " + catalog.asOf() + ".", 2, 50);
            findings.prices = tools.call(run, OPTIMIZATION, tools.tool(PriceCatalogTool.class),
                    models(findings.question.models()));
            pause(run);
            return report(run, findings, 3);
        }

        gather(run, findings);
        pause(run);
        if (findings.noData()) {
            return report(run, findings, 3);
        }
        optimize(run, findings);
        pause(run);
        return report(run, findings, 4);
    }

    private void gather(AgentRun run, Findings f) throws InterruptedException {
        RunEvents.thinking(run, DATA, switch (f.question.kind()) {
            case LATENCY -> "Reading your usage records: latency percentiles by feature and by model.";
            case WHAT_IF -> "Reading your usage records: which features run on which models, and what they cost.";
            case COMPARE_PROVIDERS -> "Reading your usage records: cost, volume and latency per provider and model.";
            default -> "Reading your usage records: spend by model, by feature and by day.";
        }, 2, 35);
        QueryUsageTool query = tools.tool(QueryUsageTool.class);
        f.byModel = tools.call(run, DATA, query, groupBy("model")).summary();
        f.totals = f.byModel;
        if (f.noData()) {
            return;
        }
        switch (f.question.kind()) {
            case LATENCY -> f.byFeature = tools.call(run, DATA, query, groupBy("feature")).summary();
            case COMPARE_PROVIDERS -> f.byProvider = tools.call(run, DATA, query, groupBy("provider")).summary();
            case WHAT_IF -> {
                f.byFeature = tools.call(run, DATA, query, groupBy("feature")).summary();
                List<String> named = Triage.mentions(f.question.text(), keys(f.byFeature.groups()));
                f.feature = named.isEmpty() ? null : named.getFirst();
                f.targetModel = f.question.targetModel().orElse(null);
                if (f.feature == null && f.targetModel == null) {
                    // Nothing to move and nowhere to move it: answer the underlying cost question instead.
                    f.question = new Triage.Question(Triage.Kind.COSTS, f.question.text(), f.question.models());
                    f.byDay = tools.call(run, DATA, query, groupBy("day")).summary();
                } else if (f.feature != null) {
                    ObjectNode args = groupBy("model");
                    args.put("feature", f.feature);
                    f.featureByModel = tools.call(run, DATA, query, args).summary();
                }
            }
            default -> {
                f.byFeature = tools.call(run, DATA, query, groupBy("feature")).summary();
                f.byDay = tools.call(run, DATA, query, groupBy("day")).summary();
            }
        }
    }

    private void optimize(AgentRun run, Findings f) throws InterruptedException {
        EstimateSavingsTool estimate = tools.tool(EstimateSavingsTool.class);
        PriceCatalogTool prices = tools.tool(PriceCatalogTool.class);
        Set<String> models = new LinkedHashSet<>(keys(f.byModel.groups()));
        switch (f.question.kind()) {
            case WHAT_IF -> {
                String scope = f.feature == null ? "all of your usage" : f.feature;
                RunEvents.thinking(run, OPTIMIZATION, "Pricing " + scope + " on "
                        + (f.targetModel == null ? "the lighter model of each model it uses" : f.targetModel)
                        + " with the same token counts.", 3, 60);
                if (f.targetModel != null) {
                    models.add(f.targetModel);
                }
                f.prices = tools.call(run, OPTIMIZATION, prices, models(models));
                ObjectNode args = strategy(EstimateSavingsTool.SUBSTITUTION, f.feature);
                if (f.targetModel != null) {
                    args.put("target_model", f.targetModel);
                }
                f.estimates.add(tools.call(run, OPTIMIZATION, estimate, args));
            }
            case LATENCY -> {
                UsageSummary.Group slowest = slowest(f.byFeature);
                RunEvents.thinking(run, OPTIMIZATION, slowest == null
                        ? "No latencies recorded, so I can only look at cost."
                        : slowest.key() + " has the slowest p95 (" + Figures.ms(slowest.p95LatencyMs())
                                + "); pricing its move to lighter models, which answer faster.", 3, 60);
                models.addAll(lighter(models));
                f.prices = tools.call(run, OPTIMIZATION, prices, models(models));
                if (slowest != null) {
                    f.feature = slowest.key();
                    f.estimates.add(tools.call(run, OPTIMIZATION, estimate,
                            strategy(EstimateSavingsTool.SUBSTITUTION, slowest.key())));
                }
            }
            case COMPARE_PROVIDERS -> {
                RunEvents.thinking(run, OPTIMIZATION, "Looking up list prices of the models you use, to compare the "
                        + "providers on the same unit.", 3, 60);
                f.prices = tools.call(run, OPTIMIZATION, prices, models(models));
            }
            default -> {
                RunEvents.thinking(run, OPTIMIZATION, "Estimating three changes on your own token counts: lighter "
                        + "models, prompt caching, and the batch APIs for work that can wait.", 3, 60);
                models.addAll(lighter(models));
                f.prices = tools.call(run, OPTIMIZATION, prices, models(models));
                f.estimates.add(tools.call(run, OPTIMIZATION, estimate, strategy(EstimateSavingsTool.SUBSTITUTION, null)));
                f.estimates.add(tools.call(run, OPTIMIZATION, estimate, strategy(EstimateSavingsTool.CACHING, null)));
                UsageSummary.Group batchable = f.byFeature.groups().stream()
                        .filter(g -> OFFLINE_WORK.matcher(g.key()).find()).findFirst().orElse(null);
                if (batchable != null) {
                    f.estimates.add(tools.call(run, OPTIMIZATION, estimate,
                            strategy(EstimateSavingsTool.BATCHING, batchable.key())));
                }
            }
        }
    }

    private Answer report(AgentRun run, Findings findings, int step) throws InterruptedException {
        RunEvents.thinking(run, REPORTING, findings.question.kind() == Triage.Kind.UNSUPPORTED
                ? "Explaining what I can answer."
                : findings.noData() && findings.question.kind() != Triage.Kind.PRICES
                        ? "No usage records yet: explaining how to add them."
                        : "Writing up the figures.", step, 85);
        String markdown = Reports.write(findings, catalog);
        // With a step delay, the answer streams at a readable pace (a twentieth of a step per line), so that a person
        // sees it arrive and a stop can land in the middle of it. Without one, the whole answer is ready at once and
        // goes out as one delta: splitting it would only cost every socket more frames.
        Duration perLine = run.requestedStepDelay().orElse(stepDelay).dividedBy(20);
        if (perLine.isZero()) {
            RunEvents.partial(run, REPORTING, markdown);
            return new Answer(markdown);
        }
        StringBuilder sent = new StringBuilder();
        for (String line : markdown.split("(?<=\n)")) {
            if (Thread.interrupted()) {
                throw new InterruptedException("run stopped while reporting");
            }
            RunEvents.partial(run, REPORTING, line);
            sent.append(line);
            sleeper.sleep(perLine);
        }
        return new Answer(sent.toString());
    }

    private void pause(AgentRun run) throws InterruptedException {
        Duration delay = run.requestedStepDelay().orElse(stepDelay);
        if (!delay.isZero()) {
            sleeper.sleep(delay);
        } else if (Thread.interrupted()) {
            throw new InterruptedException("run stopped");
        }
    }

    private String triageNote(Triage.Question question) {
        String models = question.models().isEmpty() ? "" : " It names " + String.join(", ", question.models()) + ".";
        return switch (question.kind()) {
            case UNSUPPORTED -> "This question is not about LLM usage, cost, latency or prices, which is what I can "
                    + "answer from your records.";
            case PRICES -> "The question asks what models cost: a price catalog lookup." + models;
            default -> "The question asks " + question.kind().description + ". Routing to data → optimization → "
                    + "reporting." + models;
        };
    }

    private List<String> lighter(Collection<String> models) {
        List<String> lighter = new ArrayList<>();
        for (String model : models) {
            catalog.current(null, model).map(PriceCatalog.Price::lighterModel).ifPresent(lighter::add);
        }
        return lighter;
    }

    static UsageSummary.Group slowest(UsageSummary summary) {
        return summary.groups().stream().filter(g -> g.p95LatencyMs() != null)
                .max(Comparator.comparingLong(UsageSummary.Group::p95LatencyMs)).orElse(null);
    }

    private static List<String> keys(List<UsageSummary.Group> groups) {
        return groups.stream().map(UsageSummary.Group::key).toList();
    }

    private static ObjectNode groupBy(String grouping) {
        return Json.object().put("group_by", grouping);
    }

    private static ObjectNode strategy(String strategy, String feature) {
        ObjectNode args = Json.object().put("strategy", strategy);
        if (feature != null) {
            args.put("feature", feature);
        }
        return args;
    }

    private static ObjectNode models(Collection<String> models) {
        ObjectNode args = Json.object();
        ArrayNode list = args.putArray("models");
        models.forEach(model -> list.add(model.toLowerCase(Locale.ROOT)));
        return args;
    }
}
