package dev.parley.server.db;

import java.security.SecureRandom;
import java.util.UUID;

/**
 * Identifiers of rows that are written on every turn (threads, runs, messages): UUID version 7 (RFC 9562), whose
 * first 48 bits are the Unix time in milliseconds and whose other 74 bits are random. Rows created close together in
 * time then sit close together in every index keyed by their id, so that a commit of many turns writes a few pages
 * at the end of each index instead of one page per row scattered over it, and the indexes stay densely packed.
 * They remain unguessable (74 random bits) and parse as ordinary UUIDs. Thread-safe.
 */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    /** A new time-ordered id, as the 36-character text of a UUID. */
    public static String timeOrdered() {
        return timeOrdered(System.currentTimeMillis()).toString();
    }

    static UUID timeOrdered(long unixMillis) {
        long random = RANDOM.nextLong();
        long more = RANDOM.nextLong();
        long high = (unixMillis & 0xFFFF_FFFF_FFFFL) << 16 | 0x7000L | (random & 0x0FFFL);
        long low = (more & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
        return new UUID(high, low);
    }
}
