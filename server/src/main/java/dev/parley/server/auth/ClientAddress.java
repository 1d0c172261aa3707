package dev.parley.server.auth;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Which address a request came from, for per-client limits. Behind Cloud Run (or any proxy) the socket's peer is the
 * proxy, and the client is named in {@code X-Forwarded-For}.
 *
 * <p>With {@code trustedProxyHops = 0} (no proxy in front) the header is ignored: whatever it holds, the client wrote
 * it, and per-address limits keyed on it would let a client pick a fresh address for every attempt. Behind N proxies
 * that each append one entry, the N-th entry from the right is the address the outermost proxy saw, which a client
 * cannot forge (Cloud Run: 1). When that entry is missing, the socket's remote address is used.
 */
public final class ClientAddress {
    private static final int MAX_LENGTH = 64;

    private ClientAddress() {
    }

    /**
     * @param forwardedFor    every {@code X-Forwarded-For} header value, in the order received (may be empty)
     * @param socketAddress   the peer address of the connection
     * @param trustedProxyHops 0 to ignore the header, N for the N-th entry from the right
     */
    public static String resolve(List<String> forwardedFor, String socketAddress, int trustedProxyHops) {
        if (trustedProxyHops == 0) {
            return clean(socketAddress);
        }
        List<String> hops = new ArrayList<>();
        for (String value : forwardedFor) {
            for (String entry : value.split(",")) {
                String hop = clean(entry);
                if (!hop.isEmpty()) {
                    hops.add(hop);
                }
            }
        }
        if (hops.isEmpty()) {
            return clean(socketAddress);
        }
        return hops.size() >= trustedProxyHops ? hops.get(hops.size() - trustedProxyHops) : clean(socketAddress);
    }

    private static String clean(String raw) {
        if (raw == null) {
            return "unknown";
        }
        String value = raw.strip().toLowerCase(Locale.ROOT);
        if (value.length() > MAX_LENGTH) {
            value = value.substring(0, MAX_LENGTH);
        }
        return value;
    }
}
