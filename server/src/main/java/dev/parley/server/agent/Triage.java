package dev.parley.server.agent;

import dev.parley.server.usage.PriceCatalog;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Reads a question and decides which kind it is, by keywords: the offline team answers the kinds users ask of a
 * spend optimizer, and says plainly when a question is of none of them. Also finds the catalog models and the user's
 * feature tags that the question names, however they are spelled ({@code Claude Haiku 4.5}, {@code support chat}).
 */
final class Triage {
    enum Kind {
        COSTS("where the money goes"),
        LATENCY("what is slow"),
        WHAT_IF("what moving work to another model would change"),
        COMPARE_PROVIDERS("how the providers compare"),
        PRICES("what models cost"),
        UNSUPPORTED("not something the usage data can answer");

        final String description;

        Kind(String description) {
            this.description = description;
        }
    }

    record Question(Kind kind, String text, List<String> models) {
        Optional<String> targetModel() {
            return models.isEmpty() ? Optional.empty() : Optional.of(models.getLast());
        }
    }

    private static final Pattern WHAT_IF = Pattern.compile(
            "\\b(what if|what would|switch(ed|ing)?|mov(e|ed|ing)|migrat(e|ed|ing)|swap(ped|ping)?|replac(e|ed|ing)|instead)\\b");
    private static final Pattern COMPARE = Pattern.compile(
            "\\b(compare[sd]?|comparing|comparison|versus|vs)\\b|which provider|providers?\\b.*\\b(better|cheaper|best|faster)");
    private static final Pattern PROVIDER_NAMES =
            Pattern.compile("\\b(openai|anthropic|google|gemini|claude|gpt|groq|ollama)\\b");
    private static final Pattern LATENCY = Pattern.compile(
            "\\b(slow|slower|slowest|latency|latencies|fast|faster|fastest|p50|p90|p95|p99|response times?|speed|lag|laggy|takes? (too )?long)\\b");
    private static final Pattern PRICE_WORDS = Pattern.compile(
            "\\b(price|prices|pricing|priced|cost of|how much (does|do|is|are|would)|per million|per 1m)\\b");
    private static final Pattern OWN_DATA = Pattern.compile("\\b(my|our|we|us|i)\\b");
    private static final Pattern COSTS = Pattern.compile(
            "\\b(cost|costs|costing|spend|spending|spent|money|bill|billing|invoice|expensive|budget|save|saving|savings|"
                    + "cheaper|reduce|cut|optimi[sz]\\w*|analy[sz]\\w*|breakdown|usage|tokens?|where does|dollars?)\\b|\\$");

    /** The catalog's model names with their {@link #key}s, made once: every question is matched against them. */
    private final Map<String, String> modelKeys;

    Triage(PriceCatalog catalog) {
        Map<String, String> keys = new LinkedHashMap<>();
        catalog.models().forEach(model -> keys.put(model, key(model)));
        this.modelKeys = Collections.unmodifiableMap(keys);
    }

    Question read(String request) {
        String text = request.toLowerCase(Locale.ROOT);
        List<String> models = mentions(key(request), modelKeys);
        Kind kind;
        if (WHAT_IF.matcher(text).find() && (!models.isEmpty() || COSTS.matcher(text).find() || text.contains("model"))) {
            kind = Kind.WHAT_IF;
        } else if (COMPARE.matcher(text).find() || providersNamed(text) >= 2) {
            kind = Kind.COMPARE_PROVIDERS;
        } else if (LATENCY.matcher(text).find()) {
            kind = Kind.LATENCY;
        } else if (!models.isEmpty() && PRICE_WORDS.matcher(text).find() && !OWN_DATA.matcher(text).find()) {
            kind = Kind.PRICES;
        } else if (COSTS.matcher(text).find()) {
            kind = Kind.COSTS;
        } else {
            kind = Kind.UNSUPPORTED;
        }
        return new Question(kind, request, models);
    }

    private static long providersNamed(String text) {
        return PROVIDER_NAMES.matcher(text).results().map(match -> match.group(1)).distinct().count();
    }

    /**
     * The names among {@code candidates} that the text mentions, in the order they appear; where one name is part
     * of a longer one at the same place ({@code gpt-4o} in {@code gpt-4o-mini}) only the longer counts.
     */
    static List<String> mentions(String text, Collection<String> candidates) {
        Map<String, String> keys = new LinkedHashMap<>();
        candidates.forEach(candidate -> keys.put(candidate, key(candidate)));
        return mentions(key(text), keys);
    }

    /** The same, for a text already turned into its key and candidates with their keys. */
    private static List<String> mentions(String haystack, Map<String, String> candidateKeys) {
        record Hit(int start, int end, String name) {
        }
        List<Hit> hits = new ArrayList<>();
        for (Map.Entry<String, String> entry : candidateKeys.entrySet()) {
            String candidate = entry.getKey();
            String needle = entry.getValue();
            if (needle.isEmpty()) {
                continue;
            }
            int from = 0;
            int at;
            while ((at = haystack.indexOf(needle, from)) >= 0) {
                int end = at + needle.length();
                boolean startOk = at == 0 || !Character.isLetterOrDigit(haystack.charAt(at - 1));
                boolean endOk = end == haystack.length() || !Character.isLetterOrDigit(haystack.charAt(end));
                if (startOk && endOk) {
                    hits.add(new Hit(at, end, candidate));
                }
                from = at + 1;
            }
        }
        hits.sort(Comparator.comparingInt((Hit h) -> h.end() - h.start()).reversed());
        List<Hit> kept = new ArrayList<>();
        for (Hit hit : hits) {
            boolean overlaps = kept.stream().anyMatch(k -> hit.start() < k.end() && k.start() < hit.end());
            if (!overlaps) {
                kept.add(hit);
            }
        }
        kept.sort(Comparator.comparingInt(Hit::start));
        return kept.stream().map(Hit::name).distinct().toList();
    }

    /** Lower case with dots, underscores and spaces as dashes, so that spellings of one name compare equal. */
    static String key(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        StringBuilder key = new StringBuilder(lower.length());
        boolean inSeparators = false;
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            // A run of dots, underscores and ASCII white space becomes one dash.
            boolean separator = c == '.' || c == '_' || c == ' ' || c == '\t' || c == '\n' || c == '\u000B'
                    || c == '\f' || c == '\r';
            if (!separator) {
                key.append(c);
            } else if (!inSeparators) {
                key.append('-');
            }
            inSeparators = separator;
        }
        return key.toString();
    }
}
