package dev.parley.server.auth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HS256 key: the configured {@code PARLEY_JWT_SECRET}, or, in embedded mode where none is configured, one that is
 * generated at first start and kept in {@code <data dir>/jwt-secret} so that tokens survive a restart.
 *
 * <p>The generated file holds 32 random bytes written as unpadded base64url text (43 characters), and the key is
 * that text's UTF-8 bytes, exactly as if it had been given in {@code PARLEY_JWT_SECRET}: an operator who moves the
 * data to PostgreSQL can copy the file's content into the variable and every issued token stays valid. The file is
 * created with mode 0600 and appears atomically (written to a temporary file, then linked into place), so a second
 * process starting at the same moment reads either nothing or the whole secret, and both end up with the same one.
 */
final class JwtSecret {
    static final String FILE_NAME = "jwt-secret";
    private static final int RANDOM_BYTES = 32;
    private static final int MIN_KEY_BYTES = 32;
    private static final Logger LOG = LoggerFactory.getLogger(JwtSecret.class);

    private JwtSecret() {
    }

    /** The configured secret, or the one kept in the data directory (generated when there is none yet). */
    static byte[] resolve(Optional<byte[]> configured, Path dataDir) {
        if (configured.isPresent()) {
            return configured.get().clone();
        }
        return loadOrGenerate(dataDir.resolve(FILE_NAME));
    }

    static byte[] loadOrGenerate(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Optional<byte[]> existing = read(file);
            if (existing.isPresent()) {
                return existing.get();
            }
            byte[] random = new byte[RANDOM_BYTES];
            new SecureRandom().nextBytes(random);
            String text = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Path temporary = Files.createTempFile(file.toAbsolutePath().getParent(), ".jwt-secret", ".tmp", ownerOnly());
            try {
                Files.writeString(temporary, text + "\n", StandardCharsets.UTF_8);
                publish(temporary, file);
            } finally {
                Files.deleteIfExists(temporary);
            }
            byte[] key = read(file).orElseThrow(() -> new IllegalStateException("the JWT secret file " + file.toAbsolutePath()
                    + " vanished right after it was written"));
            LOG.info("Generated a JWT signing secret in {} (embedded mode; set PARLEY_JWT_SECRET to manage it yourself)",
                    file.toAbsolutePath());
            return key;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the JWT secret file " + file.toAbsolutePath(), e);
        }
    }

    /** Links the finished temporary file into place; when another process won the race, its file stays. */
    private static void publish(Path temporary, Path file) throws IOException {
        try {
            Files.createLink(file, temporary);
        } catch (FileAlreadyExistsException e) {
            LOG.debug("Another process created {} first; using its secret", file);
        } catch (UnsupportedOperationException | IOException e) {
            // File systems without hard links: a plain rename is still atomic, at the price of a last-writer-wins race.
            if (Files.notExists(file)) {
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
            }
        }
    }

    private static Optional<byte[]> read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        warnIfReadableByOthers(file);
        byte[] key = Files.readString(file, StandardCharsets.UTF_8).strip().getBytes(StandardCharsets.UTF_8);
        if (key.length < MIN_KEY_BYTES) {
            throw new IllegalStateException("the JWT secret file " + file.toAbsolutePath() + " holds fewer than "
                    + MIN_KEY_BYTES + " bytes; delete it to have a new secret generated (every issued token becomes invalid)");
        }
        return Optional.of(key);
    }

    private static void warnIfReadableByOthers(Path file) throws IOException {
        if (posix()) {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (permissions.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
                LOG.warn("The JWT secret file {} is accessible to other users ({}); it should be mode 0600",
                        file.toAbsolutePath(), PosixFilePermissions.toString(permissions));
            }
        }
    }

    private static FileAttribute<?>[] ownerOnly() {
        if (!posix()) {
            return new FileAttribute<?>[0];
        }
        return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))};
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}
