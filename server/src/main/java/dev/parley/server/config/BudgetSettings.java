package dev.parley.server.config;

import java.math.BigDecimal;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Reads {@code PARLEY_BUDGET_USD}, {@code PARLEY_BUDGET_PERIOD}, {@code PARLEY_BUDGET_WARN_AT},
 * {@code PARLEY_ADMIN_EMAILS} and {@code PARLEY_LLM_PRICE} into {@link Config.Budget}, reporting every problem with
 * its variable. Called by {@link Config#from} on the thread that loads the configuration, once.
 */
final class BudgetSettings {
    private BudgetSettings() {
    }

    static Config.Budget read(EnvReader r) {
        Optional<BigDecimal> limit = r.optional("PARLEY_BUDGET_USD").flatMap(raw -> {
            Optional<BigDecimal> usd = decimal(raw);
            if (usd.isEmpty() || usd.get().signum() < 0 || usd.get().compareTo(new BigDecimal("1000000000")) > 0) {
                r.problem("PARLEY_BUDGET_USD", "must be a number of US dollars between 0 and 1000000000, got '" + raw + "'");
                return Optional.empty();
            }
            return usd;
        });
        Config.BudgetPeriod period =
                r.choice("PARLEY_BUDGET_PERIOD", Config.BudgetPeriod.class, Config.BudgetPeriod.MONTH);
        BigDecimal warnAt = new BigDecimal("0.8");
        Optional<String> rawWarn = r.optional("PARLEY_BUDGET_WARN_AT");
        if (rawWarn.isPresent()) {
            Optional<BigDecimal> share = decimal(rawWarn.get());
            if (share.isEmpty() || share.get().signum() <= 0 || share.get().compareTo(BigDecimal.ONE) > 0) {
                r.problem("PARLEY_BUDGET_WARN_AT", "must be a share of the limit above 0 and at most 1 (such as 0.8), got '"
                        + rawWarn.get() + "'");
            } else {
                warnAt = share.get();
            }
        }
        Set<String> admins = new LinkedHashSet<>();
        for (String email : Config.list(r.string("PARLEY_ADMIN_EMAILS", ""))) {
            if (!email.contains("@")) {
                r.problem("PARLEY_ADMIN_EMAILS", "'" + email + "' is not an email address");
            }
            admins.add(email.toLowerCase(Locale.ROOT));
        }
        Optional<Config.ModelPrice> price = r.optional("PARLEY_LLM_PRICE").flatMap(raw -> {
            List<String> parts = Config.list(raw);
            Optional<BigDecimal> input = parts.size() == 2 ? decimal(parts.get(0)) : Optional.empty();
            Optional<BigDecimal> output = parts.size() == 2 ? decimal(parts.get(1)) : Optional.empty();
            if (input.isEmpty() || output.isEmpty() || input.get().signum() < 0 || output.get().signum() < 0) {
                r.problem("PARLEY_LLM_PRICE", "must be the model's input and output prices in USD per million tokens, "
                        + "such as 0.40,1.60, got '" + raw + "'");
                return Optional.empty();
            }
            return Optional.of(new Config.ModelPrice(input.get(), output.get()));
        });
        return new Config.Budget(limit, period, warnAt, Set.copyOf(admins), price);
    }

    private static Optional<BigDecimal> decimal(String text) {
        try {
            return Optional.of(new BigDecimal(text.trim()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
