package dev.parley.server.gateway;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which browser origins may open sockets: the configured list ({@code PARLEY_ALLOWED_ORIGINS}), or when it is empty,
 * the server's own origin, that is an origin whose host and port are those of the request's {@code Host} header.
 * Helidon applies the same rule before routing (it is given the same list); this class applies it in the handshake
 * filter too, so that the rule holds whichever check sees the request first.
 */
final class Origins {
    private final Set<String> allowed;

    Origins(List<String> configured) {
        this.allowed = configured.stream().map(Origins::normalize).collect(Collectors.toUnmodifiableSet());
    }

    /** The list as Helidon gets it (empty: Helidon compares with the Host header, as {@link #allows} does). */
    Set<String> configured() {
        return allowed;
    }

    boolean allows(String origin, String host) {
        if (!allowed.isEmpty()) {
            return allowed.contains(normalize(origin));
        }
        if (host == null) {
            return false;
        }
        try {
            URI uri = new URI(origin);
            if (uri.getScheme() == null || uri.getHost() == null) {
                return false;
            }
            String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
            int port = uri.getPort() == -1 ? defaultPort(scheme) : uri.getPort();
            return authority(uri.getHost(), port).equals(hostAuthority(host, scheme));
        } catch (URISyntaxException | NumberFormatException e) {
            return false;
        }
    }

    private static String hostAuthority(String host, String scheme) {
        String name = host.trim();
        int port = defaultPort(scheme);
        if (name.startsWith("[")) {
            int end = name.indexOf(']');
            if (end > 0 && end + 1 < name.length() && name.charAt(end + 1) == ':') {
                port = Integer.parseInt(name.substring(end + 2));
            }
            name = end > 0 ? name.substring(1, end) : name;
        } else if (name.indexOf(':') > 0 && name.indexOf(':') == name.lastIndexOf(':')) {
            port = Integer.parseInt(name.substring(name.indexOf(':') + 1));
            name = name.substring(0, name.indexOf(':'));
        }
        return authority(name, port);
    }

    private static String authority(String host, int port) {
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        return bare.toLowerCase(Locale.ROOT) + ":" + port;
    }

    private static int defaultPort(String scheme) {
        return "https".equals(scheme) || "wss".equals(scheme) ? 443 : 80;
    }

    private static String normalize(String origin) {
        String trimmed = origin.trim();
        while (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed.toLowerCase(Locale.ROOT);
    }
}
