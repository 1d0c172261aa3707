package dev.parley.server.config;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads {@code PARLEY_OIDC_PROVIDERS}, each provider's {@code PARLEY_OIDC_<NAME>_*} variables,
 * {@code PARLEY_OIDC_REDIRECT_URI} and {@code PARLEY_OIDC_HTTP_TIMEOUT} into {@link Config.Oidc}, reporting every
 * problem with its variable. Called by {@link Config#from} on the thread that loads the configuration, once.
 */
final class OidcSettings {
    private static final Pattern OIDC_ID = Pattern.compile("[a-z][a-z0-9]{0,31}");

    private OidcSettings() {
    }

    static Config.Oidc read(EnvReader r, Optional<URI> publicUrl) {
        List<String> ids = Config.list(r.string("PARLEY_OIDC_PROVIDERS", "")).stream()
                .map(id -> id.toLowerCase(Locale.ROOT))
                .toList();
        List<Config.OidcProvider> providers = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String id : ids) {
            if (!OIDC_ID.matcher(id).matches()) {
                r.problem("PARLEY_OIDC_PROVIDERS", "'" + id + "' is not a provider id: use 1 to 32 letters and digits, "
                        + "starting with a letter");
                continue;
            }
            if (!seen.add(id)) {
                r.problem("PARLEY_OIDC_PROVIDERS", "names '" + id + "' twice");
                continue;
            }
            readProvider(r, id).ifPresent(providers::add);
        }
        Optional<URI> redirectUri = r.uri("PARLEY_OIDC_REDIRECT_URI", Config.HTTP)
                .or(() -> publicUrl.map(url -> URI.create(url.toString().replaceAll("/+$", "") + "/auth/callback")));
        redirectUri.ifPresent(uri -> {
            if (uri.getHost() == null || uri.getRawFragment() != null) {
                r.problem("PARLEY_OIDC_REDIRECT_URI", "must be an absolute URL without a fragment");
            }
        });
        if (!ids.isEmpty() && redirectUri.isEmpty()) {
            r.problem("PARLEY_OIDC_REDIRECT_URI", "is required when PARLEY_OIDC_PROVIDERS is set and PARLEY_PUBLIC_URL "
                    + "is not: providers must know where to send people back (this server's /auth/callback)");
        }
        Duration httpTimeout =
                r.duration("PARLEY_OIDC_HTTP_TIMEOUT", Duration.ofSeconds(5), Duration.ofMillis(100), Duration.ofMinutes(1));
        return new Config.Oidc(List.copyOf(providers), redirectUri, httpTimeout);
    }

    private static Optional<Config.OidcProvider> readProvider(EnvReader r, String id) {
        String prefix = Config.OIDC_PREFIX + id.toUpperCase(Locale.ROOT) + "_";
        int problemsBefore = r.problems().size();
        Optional<URI> issuer = r.uri(prefix + "ISSUER", Config.HTTP).or(() -> id.equals("google")
                ? Optional.of(Config.GOOGLE_ISSUER) : Optional.empty());
        if (issuer.isEmpty() && r.optional(prefix + "ISSUER").isEmpty()) {
            r.problem(prefix + "ISSUER", "is required for provider '" + id + "' (its OpenID issuer URL)");
        }
        issuer.ifPresent(uri -> {
            if (!"https".equalsIgnoreCase(uri.getScheme()) && !isLoopback(uri.getHost())) {
                r.problem(prefix + "ISSUER", "must be an https URL (http is allowed for localhost only)");
            }
            if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                r.problem(prefix + "ISSUER", "must not have a query or fragment");
            }
        });
        Optional<String> clientId = r.optional(prefix + "CLIENT_ID");
        if (clientId.isEmpty()) {
            r.problem(prefix + "CLIENT_ID", "is required for provider '" + id + "'");
        }
        Optional<String> clientSecret = r.optional(prefix + "CLIENT_SECRET");
        if (clientSecret.isEmpty()) {
            r.problem(prefix + "CLIENT_SECRET", "is required for provider '" + id + "'");
        }
        String displayName = r.string(prefix + "DISPLAY_NAME",
                id.equals("google") ? "Google" : Character.toUpperCase(id.charAt(0)) + id.substring(1));
        if (r.problems().size() > problemsBefore) {
            return Optional.empty();
        }
        return Optional.of(new Config.OidcProvider(id, displayName, issuer.orElseThrow(), clientId.orElseThrow(),
                clientSecret.orElseThrow()));
    }

    private static boolean isLoopback(String host) {
        return host != null && (host.equals("localhost") || host.equals("127.0.0.1") || host.equals("[::1]"));
    }
}
