package dev.parley.server.usage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.Json;
import dev.parley.protocol.ProtocolException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Turns an upload of usage records (a JSON array of objects, or CSV with a header row) into validated rows and a
 * report of the rows it refused, each with its 1-based position and the reason. A body that cannot be read at all
 * (not JSON, no header, a required column missing, too many rows) is refused whole with {@code invalid_request} or
 * {@code message_too_large}. A row without {@code cost_usd} is priced from the catalog.
 */
public final class UsageIngest {
    /** The most records one upload may hold. */
    public static final int MAX_ROWS = 50_000;
    /** The most rejections listed one by one in the answer; {@code rejected_total} counts them all. */
    public static final int MAX_LISTED_REJECTIONS = 100;

    static final Instant EARLIEST = Instant.parse("2015-01-01T00:00:00Z");
    static final long MAX_TOKENS = 100_000_000L;
    static final int MAX_LATENCY_MS = 86_400_000;
    static final BigDecimal MAX_COST = new BigDecimal("100000");
    static final String DEFAULT_FEATURE = "untagged";

    private static final Pattern PROVIDER = Pattern.compile("[a-z0-9][a-z0-9._/-]{0,39}");
    private static final Pattern PRINTABLE = Pattern.compile("[^\\p{Cntrl}]+");
    private static final Map<String, String> COLUMN_ALIASES = Map.ofEntries(
            Map.entry("timestamp", "occurred_at"), Map.entry("time", "occurred_at"), Map.entry("date", "occurred_at"),
            Map.entry("created_at", "occurred_at"),
            Map.entry("feature_tag", "feature"), Map.entry("tag", "feature"),
            Map.entry("prompt_tokens", "input_tokens"), Map.entry("completion_tokens", "output_tokens"),
            Map.entry("latency", "latency_ms"), Map.entry("duration_ms", "latency_ms"),
            Map.entry("cost", "cost_usd"));
    private static final List<String> REQUIRED = List.of("occurred_at", "provider", "model", "input_tokens", "output_tokens");

    public enum Format { JSON, CSV }

    public record Rejection(int row, String error) {
    }

    public record Result(List<UsageRow> accepted, List<Rejection> rejected) {
    }

    private final PriceCatalog catalog;
    private final Clock clock;

    public UsageIngest(PriceCatalog catalog, Clock clock) {
        this.catalog = catalog;
        this.clock = clock;
    }

    /** Chooses the format from the media type, or from the first character when the type says neither. */
    public static Format detect(String contentType, String body) {
        String type = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
        if (type.contains("json")) {
            return Format.JSON;
        }
        if (type.contains("csv")) {
            return Format.CSV;
        }
        String start = body.stripLeading();
        return start.startsWith("[") || start.startsWith("{") ? Format.JSON : Format.CSV;
    }

    public Result read(String body, Format format) {
        if (body.isBlank()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The body is empty: send a JSON array of usage records or CSV with a header row.");
        }
        return format == Format.JSON ? readJson(body) : readCsv(body);
    }

    private Result readJson(String body) {
        JsonNode root = Json.parse(body);
        JsonNode records = root.isObject() && root.has("events") ? root.get("events") : root;
        if (!records.isArray()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST,
                    "The body must be a JSON array of usage records (or an object with an 'events' array).");
        }
        requireWithinLimit(records.size());
        List<UsageRow> accepted = new ArrayList<>();
        List<Rejection> rejected = new ArrayList<>();
        for (int i = 0; i < records.size(); i++) {
            JsonNode record = records.get(i);
            if (!record.isObject()) {
                rejected.add(new Rejection(i + 1, "a usage record must be a JSON object"));
                continue;
            }
            Map<String, String> fields = new HashMap<>();
            record.fields().forEachRemaining(entry -> {
                JsonNode value = entry.getValue();
                if (!value.isNull()) {
                    String text = value.isNumber() ? value.decimalValue().toPlainString() : value.asText();
                    if (value.isContainerNode()) {
                        text = "\u0000container";
                    }
                    fields.put(column(entry.getKey()), text);
                }
            });
            validate(i + 1, fields::get, accepted, rejected);
        }
        return new Result(accepted, rejected);
    }

    private Result readCsv(String body) {
        List<Csv.Line> lines;
        try {
            lines = Csv.read(body, false, MAX_ROWS + 1);
        } catch (Csv.MalformedCsvException e) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The CSV is malformed: " + e.getMessage() + ".");
        }
        if (lines.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The CSV has no header row.");
        }
        List<String> header = lines.getFirst().fields().stream().map(UsageIngest::column).toList();
        Set<String> missing = new LinkedHashSet<>(REQUIRED);
        header.forEach(missing::remove);
        if (!missing.isEmpty()) {
            throw new ProtocolException(ErrorCode.INVALID_REQUEST, "The CSV header lacks the column(s) "
                    + String.join(", ", missing) + "; it must name occurred_at, provider, model, input_tokens and "
                    + "output_tokens, and may name feature, latency_ms and cost_usd.");
        }
        requireWithinLimit(lines.size() - 1);
        List<UsageRow> accepted = new ArrayList<>();
        List<Rejection> rejected = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            List<String> values = lines.get(i).fields();
            if (values.size() != header.size()) {
                rejected.add(new Rejection(i, "has " + values.size() + " fields but the header has " + header.size()));
                continue;
            }
            Map<String, String> fields = new HashMap<>();
            for (int c = 0; c < header.size(); c++) {
                fields.put(header.get(c), values.get(c));
            }
            validate(i, fields::get, accepted, rejected);
        }
        return new Result(accepted, rejected);
    }

    private static void requireWithinLimit(int rows) {
        if (rows > MAX_ROWS) {
            throw new ProtocolException(ErrorCode.MESSAGE_TOO_LARGE,
                    "One upload may hold at most " + MAX_ROWS + " usage records; split the file.");
        }
    }

    private static String column(String name) {
        String key = name.trim().toLowerCase(Locale.ROOT).replace(' ', '_').replace('-', '_');
        return COLUMN_ALIASES.getOrDefault(key, key);
    }

    private void validate(int row, Function<String, String> fields, List<UsageRow> accepted, List<Rejection> rejected) {
        try {
            accepted.add(validate(fields));
        } catch (RowException e) {
            rejected.add(new Rejection(row, e.getMessage()));
        }
    }

    private UsageRow validate(Function<String, String> fields) {
        Instant occurredAt = instant(required(fields, "occurred_at"));
        String provider = PriceCatalog.normalizeProvider(required(fields, "provider"));
        if (!PROVIDER.matcher(provider).matches()) {
            throw new RowException("provider must be 1 to 40 letters, digits or . _ / - (got '" + clip(provider) + "')");
        }
        String model = text(required(fields, "model"), "model", 100).toLowerCase(Locale.ROOT);
        String featureText = fields.apply("feature");
        String feature = featureText == null || featureText.isBlank()
                ? DEFAULT_FEATURE : text(featureText, "feature", 60).toLowerCase(Locale.ROOT);
        long input = count(required(fields, "input_tokens"), "input_tokens");
        long output = count(required(fields, "output_tokens"), "output_tokens");
        Integer latency = optional(fields, "latency_ms") == null ? null
                : (int) bounded(optional(fields, "latency_ms"), "latency_ms", MAX_LATENCY_MS);
        String costText = optional(fields, "cost_usd");
        BigDecimal cost;
        if (costText == null) {
            cost = catalog.cost(provider, model, UsageStore.day(occurredAt), input, output)
                    .orElseThrow(() -> new RowException("cost_usd is missing and the price catalog has no price for "
                            + provider + "/" + model + "; send cost_usd for this model"));
        } else {
            cost = decimal(costText);
        }
        return new UsageRow(occurredAt, provider, model, feature, input, output, latency,
                cost.setScale(8, RoundingMode.HALF_UP));
    }

    private static String required(Function<String, String> fields, String name) {
        String value = fields.apply(name);
        if (value == null || value.isBlank()) {
            throw new RowException(name + " is required");
        }
        if (value.startsWith("\u0000")) {
            throw new RowException(name + " must be a string or a number");
        }
        return value.trim();
    }

    private static String optional(Function<String, String> fields, String name) {
        String value = fields.apply(name);
        if (value == null || value.isBlank()) {
            return null;
        }
        if (value.startsWith("\u0000")) {
            throw new RowException(name + " must be a string or a number");
        }
        return value.trim();
    }

    private Instant instant(String text) {
        Instant instant;
        try {
            if (text.length() == 10) {
                instant = LocalDate.parse(text).atStartOfDay(ZoneOffset.UTC).toInstant();
            } else {
                String iso = text.replace(' ', 'T');
                if (iso.endsWith("Z") || iso.matches(".*[+-]\\d{2}:?\\d{2}$")) {
                    instant = OffsetDateTime.parse(iso).toInstant();
                } else {
                    instant = LocalDateTime.parse(iso).toInstant(ZoneOffset.UTC);
                }
            }
        } catch (DateTimeParseException e) {
            throw new RowException("occurred_at must be an ISO-8601 time such as 2026-11-02T14:05:00Z (got '"
                    + clip(text) + "')");
        }
        if (instant.isBefore(EARLIEST)) {
            throw new RowException("occurred_at is before 2015-01-01");
        }
        if (instant.isAfter(clock.instant().plus(Duration.ofDays(1)))) {
            throw new RowException("occurred_at is in the future");
        }
        return instant;
    }

    private static String text(String value, String name, int max) {
        String text = value.trim();
        if (text.length() > max) {
            throw new RowException(name + " is longer than " + max + " characters");
        }
        if (!PRINTABLE.matcher(text).matches()) {
            throw new RowException(name + " contains control characters");
        }
        return text;
    }

    private static long count(String text, String name) {
        return bounded(text, name, MAX_TOKENS);
    }

    private static long bounded(String text, String name, long max) {
        long value;
        try {
            value = new BigDecimal(text).longValueExact();
        } catch (NumberFormatException | ArithmeticException e) {
            throw new RowException(name + " must be a whole number (got '" + clip(text) + "')");
        }
        if (value < 0 || value > max) {
            throw new RowException(name + " must be between 0 and " + max + " (got " + value + ")");
        }
        return value;
    }

    private static BigDecimal decimal(String text) {
        BigDecimal value;
        try {
            value = new BigDecimal(text.startsWith("$") ? text.substring(1) : text);
        } catch (NumberFormatException e) {
            throw new RowException("cost_usd must be a number (got '" + clip(text) + "')");
        }
        if (value.signum() < 0 || value.compareTo(MAX_COST) > 0) {
            throw new RowException("cost_usd must be between 0 and " + MAX_COST.toPlainString() + " (got "
                    + value.toPlainString() + ")");
        }
        return value;
    }

    private static String clip(String text) {
        return text.length() <= 40 ? text : text.substring(0, 40) + "…";
    }

    /** A refused row; its message is the reason shown to the user. */
    private static final class RowException extends RuntimeException {
        RowException(String message) {
            super(message, null, false, false);
        }
    }
}
