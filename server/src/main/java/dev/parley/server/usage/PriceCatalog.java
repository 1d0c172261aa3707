package dev.parley.server.usage;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The dated table of model prices (USD per million tokens) bundled as {@code usage/price-catalog.csv}: each row has
 * the date it took effect, its source, and whether it is uncertain. Prices are looked up by provider and model as
 * users write them ({@code claude-sonnet-4.5-20250929} finds {@code claude-sonnet-4-5}) and by the date of the usage,
 * so that a price change prices older records at the older rate. Immutable once loaded.
 */
public final class PriceCatalog {
    public static final String RESOURCE = "usage/price-catalog.csv";

    /** Batch APIs bill half price at OpenAI, Anthropic, Google and Groq (their pricing pages, 2025–2026). */
    public static final BigDecimal BATCH_DISCOUNT = new BigDecimal("0.50");
    public static final String BATCH_SOURCE = "OpenAI Batch API, Anthropic Message Batches, Gemini Batch API and Groq Batch: "
            + "50% off input and output (providers' pricing pages, 2025-2026)";

    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);
    private static final Pattern DATE_SUFFIX = Pattern.compile("-(\\d{8}|\\d{4}-\\d{2}-\\d{2}|latest)$");
    private static final Map<String, String> PROVIDER_ALIASES = Map.of(
            "gemini", "google", "google-ai", "google", "googleai", "google", "vertex", "google", "vertexai", "google",
            "claude", "anthropic", "open-ai", "openai");

    /** One price row. Money fields are USD per million tokens; {@code cachedInput} and {@code cacheWrite} may be null. */
    public record Price(String provider, String model, long promptTokensAbove, BigDecimal input, BigDecimal cachedInput,
                        BigDecimal cacheWrite, BigDecimal output, LocalDate effectiveFrom, String source,
                        boolean uncertain, String lighterModel, String note) {

        /** The cost of one request at this price. */
        public BigDecimal cost(long inputTokens, long outputTokens) {
            return input.multiply(BigDecimal.valueOf(inputTokens))
                    .add(output.multiply(BigDecimal.valueOf(outputTokens)))
                    .divide(MILLION, 10, RoundingMode.HALF_UP);
        }
    }

    private final LocalDate asOf;
    private final List<Price> prices;
    private final Map<String, List<Price>> byModelKey;

    PriceCatalog(LocalDate asOf, List<Price> prices) {
        this.asOf = asOf;
        this.prices = List.copyOf(prices);
        Map<String, List<Price>> index = new LinkedHashMap<>();
        for (Price price : prices) {
            index.computeIfAbsent(modelKey(price.model()), key -> new ArrayList<>()).add(price);
        }
        index.values().forEach(rows -> rows.sort(Comparator.comparing(Price::effectiveFrom)
                .thenComparingLong(Price::promptTokensAbove)));
        this.byModelKey = index;
    }

    /** The catalog bundled with the server. */
    public static PriceCatalog bundled() {
        try (InputStream in = PriceCatalog.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the price catalog resource " + RESOURCE + " is missing");
            }
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
    }

    static PriceCatalog parse(String text) {
        LocalDate asOf = null;
        for (String line : text.split("\\R")) {
            if (line.startsWith("# catalog_as_of:")) {
                asOf = LocalDate.parse(line.substring("# catalog_as_of:".length()).trim());
            }
        }
        if (asOf == null) {
            throw new IllegalStateException("the price catalog has no '# catalog_as_of:' line");
        }
        List<Csv.Line> lines = Csv.read(text, true, 100_000);
        if (lines.isEmpty()) {
            throw new IllegalStateException("the price catalog is empty");
        }
        List<String> header = lines.getFirst().fields();
        List<Price> prices = new ArrayList<>();
        for (Csv.Line line : lines.subList(1, lines.size())) {
            Map<String, String> row = new LinkedHashMap<>();
            for (int i = 0; i < header.size(); i++) {
                row.put(header.get(i).trim(), i < line.fields().size() ? line.fields().get(i).trim() : "");
            }
            try {
                prices.add(new Price(
                        row.get("provider"),
                        row.get("model"),
                        Long.parseLong(row.get("prompt_tokens_above")),
                        new BigDecimal(row.get("input")),
                        decimalOrNull(row.get("cached_input")),
                        decimalOrNull(row.get("cache_write")),
                        new BigDecimal(row.get("output")),
                        LocalDate.parse(row.get("effective_from")),
                        row.get("source"),
                        Boolean.parseBoolean(row.get("uncertain")),
                        emptyToNull(row.get("lighter_model")),
                        emptyToNull(row.get("note"))));
            } catch (NumberFormatException | DateTimeParseException | NullPointerException e) {
                throw new IllegalStateException("price catalog line " + line.number() + " is malformed: " + line.fields(), e);
            }
        }
        return new PriceCatalog(asOf, prices);
    }

    private static BigDecimal decimalOrNull(String text) {
        return text == null || text.isBlank() ? null : new BigDecimal(text);
    }

    private static String emptyToNull(String text) {
        return text == null || text.isBlank() ? null : text;
    }

    /** The date the bundled table was last reviewed. */
    public LocalDate asOf() {
        return asOf;
    }

    public List<Price> all() {
        return prices;
    }

    /** Lower-case provider name with common aliases folded ({@code gemini} → {@code google}). */
    public static String normalizeProvider(String provider) {
        String p = provider.trim().toLowerCase(Locale.ROOT);
        return PROVIDER_ALIASES.getOrDefault(p, p);
    }

    /** The key a model name is matched by: lower case, dots, underscores and spaces as dashes, no date suffix. */
    static String modelKey(String model) {
        String key = model.trim().toLowerCase(Locale.ROOT).replace('.', '-').replace('_', '-').replace(' ', '-');
        return DATE_SUFFIX.matcher(key).replaceFirst("");
    }

    /** Whether two spellings name the same model ({@code claude-sonnet-4.5} and {@code claude-sonnet-4-5}). */
    public static boolean sameModel(String a, String b) {
        return modelKey(a).equals(modelKey(b));
    }

    /** Whether the catalog knows the model (under any provider when {@code provider} is null). */
    public boolean knows(String provider, String model) {
        return !rowsOf(provider, model).isEmpty();
    }

    /** The catalog's own spelling of a model the user wrote, if it knows it. */
    public Optional<String> canonicalModel(String model) {
        List<Price> rows = byModelKey.getOrDefault(modelKey(model), List.of());
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst().model());
    }

    /**
     * The price that applied to one request: the row of the right context tier (by prompt size) whose effective date
     * is the latest one on or before {@code day}, or the earliest row when the usage predates them all.
     */
    public Optional<Price> find(String provider, String model, LocalDate day, long promptTokens) {
        return find(rowsOf(provider, model), day, promptTokens);
    }

    /** As {@link #find(String, String, LocalDate, long)}, among the rows of one model ({@link #rowsOf}). */
    public static Optional<Price> find(List<Price> rows, LocalDate day, long promptTokens) {
        if (rows.isEmpty()) {
            return Optional.empty();
        }
        // Loops, not streams: every LLM call of a run under a budget prices itself twice.
        long tier = 0;
        for (Price price : rows) {
            if (promptTokens > price.promptTokensAbove() && price.promptTokensAbove() > tier) {
                tier = price.promptTokensAbove();
            }
        }
        Price chosen = null;
        for (Price price : rows) {
            if (price.promptTokensAbove() == tier && (chosen == null || !price.effectiveFrom().isAfter(day))) {
                chosen = price;
            }
        }
        if (chosen == null) {
            throw new NoSuchElementException("No base-tier price among " + rows);
        }
        return Optional.of(chosen);
    }

    /** The base-tier price in force on the catalog's own date. */
    public Optional<Price> current(String provider, String model) {
        return find(provider, model, asOf, 0);
    }

    /** The cost of one request, when the catalog knows the model. */
    public Optional<BigDecimal> cost(String provider, String model, LocalDate day, long inputTokens, long outputTokens) {
        return find(provider, model, day, inputTokens).map(price -> price.cost(inputTokens, outputTokens));
    }

    /** Every model name the catalog knows, in catalog order. */
    public List<String> models() {
        return byModelKey.values().stream().map(rows -> rows.getFirst().model()).toList();
    }

    /**
     * The rows {@link #find} chooses from for one model (under any provider when {@code provider} is null), for a
     * caller that prices the same model again and again (the model name's normalization is then done once); empty
     * when the catalog does not know it.
     */
    public List<Price> rowsOf(String provider, String model) {
        List<Price> rows = byModelKey.getOrDefault(modelKey(model), List.of());
        if (provider == null || rows.isEmpty()) {
            return rows;
        }
        String p = normalizeProvider(provider);
        List<Price> sameProvider = rows.stream().filter(row -> row.provider().equals(p)).toList();
        // A model is sold under its maker's name by resellers too (Azure, Bedrock, OpenRouter...): fall back to the
        // maker's list price when the provider column names a host the catalog does not list.
        return sameProvider.isEmpty() ? rows : sameProvider;
    }
}
