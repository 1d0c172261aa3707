package dev.parley.server.gateway;

import java.security.SecureRandom;
import java.util.HexFormat;

/** A short random id for one HTTP request or socket message, carried by its error body and its log lines. */
record RequestId(String value) {
    private static final SecureRandom RANDOM = new SecureRandom();

    static RequestId next() {
        byte[] bytes = new byte[8];
        RANDOM.nextBytes(bytes);
        return new RequestId(HexFormat.of().formatHex(bytes));
    }
}
