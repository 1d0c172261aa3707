package dev.parley.server.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Reads a file the server ships on its classpath (the web page, the API documents) whole. Stateless. */
final class BundledResources {
    private BundledResources() {
    }

    /** The bytes of {@code name}; when it is absent, an {@link IllegalStateException} saying {@code missing}. */
    static byte[] read(String name, String missing) {
        try (InputStream in = BundledResources.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException(missing);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
