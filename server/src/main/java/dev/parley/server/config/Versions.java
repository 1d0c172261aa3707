package dev.parley.server.config;

/** The version the build wrote into the jar manifest, or {@code dev} when run from classes. */
final class Versions {
    private Versions() {
    }

    static String implementationVersion() {
        String version = Versions.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }
}
