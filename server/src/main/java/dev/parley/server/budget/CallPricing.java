package dev.parley.server.budget;

import dev.parley.server.config.Config;
import dev.parley.server.usage.PriceCatalog;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.LocalDate;
import java.util.List;
import java.util.Optional;

/**
 * The prices of one configured model: from the bundled catalog, or from {@code PARLEY_LLM_PRICE} for a model the
 * catalog does not list. Gives a call's cost from its reported tokens, and the most a call can cost: its input bound
 * at the input price of the tier that bound falls in, plus its output-token cap at the output price.
 */
public final class CallPricing {
    private static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);

    private final String provider;
    private final String model;
    private final Optional<Config.ModelPrice> configured;
    private final List<PriceCatalog.Price> rows; // the catalog's rows of the model, found once

    public CallPricing(PriceCatalog catalog, String provider, String model, Optional<Config.ModelPrice> configured) {
        this.provider = provider;
        this.model = model;
        this.configured = configured;
        this.rows = catalog.rowsOf(provider, model);
    }

    /** Whether the model has a price, from the catalog or the configuration. */
    public boolean priced() {
        return configured.isPresent() || !rows.isEmpty();
    }

    /** What a person must do to give the model a price. */
    public String unpricedMessage() {
        return "The model " + provider + "/" + model + " has no price in the bundled catalog, so its calls cannot be"
                + " held to a spend budget; set PARLEY_LLM_PRICE to its input and output prices in USD per million"
                + " tokens (such as 0.40,1.60), or choose a listed model with PARLEY_LLM_MODEL.";
    }

    /** The cost of a call from its reported tokens; empty for an unpriced model. */
    public Optional<BigDecimal> cost(LocalDate day, long inputTokens, long outputTokens) {
        if (configured.isPresent()) {
            Config.ModelPrice price = configured.get();
            return Optional.of(price.inputPerMillion().multiply(BigDecimal.valueOf(inputTokens))
                    .add(price.outputPerMillion().multiply(BigDecimal.valueOf(outputTokens)))
                    .divide(MILLION, 10, RoundingMode.HALF_UP));
        }
        return PriceCatalog.find(rows, day, inputTokens).map(price -> price.cost(inputTokens, outputTokens));
    }

    /**
     * The most a call can cost: {@code inputBound} (at least the tokens the provider can bill for its input, such as
     * the request's size in UTF-8 bytes) and {@code outputCap} tokens out, rounded up to the ledger's unit.
     */
    public BigDecimal most(LocalDate day, long inputBound, long outputCap) {
        BigDecimal cost = cost(day, inputBound, outputCap).orElseThrow(() ->
                new IllegalStateException(unpricedMessage()));
        return cost.setScale(Money.SCALE, RoundingMode.CEILING);
    }
}
