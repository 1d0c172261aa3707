package dev.parley.server.auth.oidc;

import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import java.io.IOException;
import java.net.URI;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A provider's signing keys, fetched from its {@code jwks_uri} and kept as long as the provider says
 * ({@code Cache-Control: max-age}, bounded to {@link #MIN_AGE}..{@link #MAX_AGE}; {@link #DEFAULT_AGE} without one).
 * A token that names a key the kept set lacks makes it fetch the set again at once (a rotation); the same missing
 * key id fetches again only after {@link #REFETCH_GAP}, so that a provider that signs with a key it does not publish
 * is not asked for its keys on every sign-in.
 *
 * <p>Thread-safe: the set and its expiry are replaced together under the object's lock.
 */
final class ProviderKeys implements JWKSource<SecurityContext> {
    static final Duration DEFAULT_AGE = Duration.ofMinutes(5);
    static final Duration MIN_AGE = Duration.ofMinutes(1);
    static final Duration MAX_AGE = Duration.ofHours(24);
    static final Duration REFETCH_GAP = Duration.ofSeconds(10);
    private static final Pattern MAX_AGE_DIRECTIVE = Pattern.compile("(?i)(?:^|[,\\s])max-age\\s*=\\s*\"?(\\d{1,9})");
    private static final int MAX_BYTES = 256 * 1024;

    private final URI uri;
    private final int timeoutMillis;
    private final Clock clock;
    private JWKSet keys;
    private Instant expires = Instant.MIN;
    private Instant missFetched = Instant.MIN;
    private String missedKeyId;

    ProviderKeys(URI uri, int timeoutMillis, Clock clock) {
        this.uri = uri;
        this.timeoutMillis = timeoutMillis;
        this.clock = clock;
    }

    @Override
    public synchronized List<JWK> get(JWKSelector selector, SecurityContext context) throws KeySourceException {
        Instant now = clock.instant();
        if (keys == null || !now.isBefore(expires)) {
            fetch(now);
        }
        List<JWK> matches = selector.select(keys);
        if (matches.isEmpty()) {
            String keyId = String.valueOf(selector.getMatcher().getKeyIDs());
            if (!keyId.equals(missedKeyId) || !now.isBefore(missFetched.plus(REFETCH_GAP))) {
                missedKeyId = keyId;
                missFetched = now;
                fetch(now);
                matches = selector.select(keys);
            }
        }
        return matches;
    }

    private void fetch(Instant now) throws KeySourceException {
        HTTPResponse response;
        try {
            HTTPRequest request = new HTTPRequest(HTTPRequest.Method.GET, uri);
            request.setConnectTimeout(timeoutMillis);
            request.setReadTimeout(timeoutMillis);
            response = request.send();
        } catch (IOException e) {
            throw new KeySourceException("the key set at " + uri + " cannot be fetched: " + e.getMessage(), e);
        }
        if (response.getStatusCode() != 200) {
            throw new KeySourceException("the key set at " + uri + " answered " + response.getStatusCode());
        }
        String body = response.getBody();
        if (body == null || body.length() > MAX_BYTES) {
            throw new KeySourceException("the key set at " + uri + " is empty or larger than " + MAX_BYTES + " bytes");
        }
        try {
            keys = JWKSet.parse(body);
        } catch (ParseException e) {
            throw new KeySourceException("the key set at " + uri + " is not a JWK set: " + e.getMessage(), e);
        }
        expires = now.plus(maxAge(response.getHeaderValue("Cache-Control")));
    }

    /** How long a response may be kept: its {@code max-age}, within bounds; {@code no-store}/{@code no-cache}: least. */
    static Duration maxAge(String cacheControl) {
        if (cacheControl == null || cacheControl.isBlank()) {
            return DEFAULT_AGE;
        }
        String lower = cacheControl.toLowerCase(java.util.Locale.ROOT);
        if (lower.contains("no-store") || lower.contains("no-cache")) {
            return MIN_AGE;
        }
        Matcher matcher = MAX_AGE_DIRECTIVE.matcher(cacheControl);
        if (!matcher.find()) {
            return DEFAULT_AGE;
        }
        Duration age = Duration.ofSeconds(Long.parseLong(matcher.group(1)));
        return age.compareTo(MIN_AGE) < 0 ? MIN_AGE : age.compareTo(MAX_AGE) > 0 ? MAX_AGE : age;
    }
}
