package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Normalises and validates email addresses. An address is stored and compared trimmed and in lower case, so that
 * {@code Ada@Example.org} and {@code ada@example.org} are one account.
 *
 * <p>Validation is deliberately practical rather than the full RFC 5322 grammar: it accepts what mail providers hand
 * out (dot-atom local parts, internationalised letters, sub-addressing with {@code +}) and refuses what is almost
 * always a typo or an attack on downstream systems (spaces, control characters, quoted local parts, IP literals,
 * a domain without a dot, over-long parts).
 */
final class EmailAddresses {
    /** RFC 5321: a forward-path is at most 256 octets including the angle brackets. */
    static final int MAX_LENGTH = 254;
    private static final int MAX_LOCAL_LENGTH = 64;
    private static final int MAX_LABEL_LENGTH = 63;

    private static final Pattern LOCAL_ATOM = Pattern.compile("[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~-]+");
    private static final Pattern LABEL = Pattern.compile("[\\p{L}\\p{N}](?:[\\p{L}\\p{N}-]*[\\p{L}\\p{N}])?");
    private static final Pattern DIGITS = Pattern.compile("\\p{N}+");

    private EmailAddresses() {
    }

    /** The stored form of an address: trimmed and lower-cased, without checking it. */
    static String normalize(String raw) {
        return raw.strip().toLowerCase(Locale.ROOT);
    }

    /** Normalises the address and refuses it with {@link ErrorCode#INVALID_EMAIL} when it is not a usable address. */
    static String requireValid(String raw) {
        String email = normalize(raw);
        String problem = problem(email);
        if (problem != null) {
            throw new ProtocolException(ErrorCode.INVALID_EMAIL, "The email address is not valid: " + problem + ".");
        }
        return email;
    }

    private static String problem(String email) {
        if (email.isEmpty()) {
            return "it is empty";
        }
        if (email.length() > MAX_LENGTH) {
            return "it is longer than " + MAX_LENGTH + " characters";
        }
        int at = email.lastIndexOf('@');
        if (at < 0 || email.indexOf('@') != at) {
            return "it must contain exactly one @";
        }
        String local = email.substring(0, at);
        String domain = email.substring(at + 1);
        if (local.isEmpty() || local.length() > MAX_LOCAL_LENGTH) {
            return "the part before the @ must be 1 to " + MAX_LOCAL_LENGTH + " characters";
        }
        for (String atom : local.split("\\.", -1)) {
            if (!LOCAL_ATOM.matcher(atom).matches()) {
                return "the part before the @ has a character or dot that is not allowed";
            }
        }
        String[] labels = domain.split("\\.", -1);
        if (labels.length < 2) {
            return "the domain must contain a dot";
        }
        for (String label : labels) {
            if (label.length() > MAX_LABEL_LENGTH || !LABEL.matcher(label).matches()) {
                return "the domain is not a valid host name";
            }
        }
        if (DIGITS.matcher(labels[labels.length - 1]).matches()) {
            return "the domain is not a valid host name";
        }
        return null;
    }

    /** The part before the @, used as a display name when none is given. */
    static String localPart(String email) {
        int at = email.indexOf('@');
        return at < 0 ? email : email.substring(0, at);
    }
}
