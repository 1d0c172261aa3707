package dev.parley.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An unpacked image's root filesystem made runnable with {@code chroot}, the way a container runtime prepares
 * one: /proc mounted (the JDK finds its libraries through $ORIGIN, which needs /proc/self/exe), the usual
 * /dev nodes (the JDK seeds SecureRandom from /dev/urandom), and this machine's /etc/hosts and
 * /etc/resolv.conf. Needs root. {@link #close()} unmounts /proc; only then may the tree be deleted.
 */
final class ContainerRoot implements AutoCloseable {
    private static final List<String[]> DEVICES = List.of(
            new String[] {"null", "1", "3"}, new String[] {"zero", "1", "5"}, new String[] {"full", "1", "7"},
            new String[] {"random", "1", "8"}, new String[] {"urandom", "1", "9"});

    private final Path rootfs;
    private boolean procMounted;

    private ContainerRoot(Path rootfs) {
        this.rootfs = rootfs;
    }

    static ContainerRoot prepare(Path rootfs) throws IOException, InterruptedException {
        ContainerRoot root = new ContainerRoot(rootfs);
        try {
            Path proc = Files.createDirectories(rootfs.resolve("proc"));
            OciImage.run("mount", "-t", "proc", "proc", proc.toString());
            root.procMounted = true;
            Path dev = Files.createDirectories(rootfs.resolve("dev"));
            for (String[] device : DEVICES) {
                OciImage.run("mknod", "-m", "666", dev.resolve(device[0]).toString(), "c", device[1], device[2]);
            }
            for (String file : List.of("hosts", "resolv.conf")) {
                Path host = Path.of("/etc", file);
                if (Files.exists(host)) {
                    Files.copy(host, rootfs.resolve("etc").resolve(file), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return root;
        } catch (IOException | InterruptedException | RuntimeException e) {
            root.close();
            throw e;
        }
    }

    Path rootfs() {
        return rootfs;
    }

    /**
     * Starts {@code command} inside the root as {@code user} ("uid:gid") with exactly {@code environment}, output
     * (both streams) to {@code log}. chroot execs the command, so the process is the command itself and
     * {@link Process#destroy()} sends it SIGTERM.
     */
    Process start(String user, List<String> command, Map<String, String> environment, Path log) throws IOException {
        List<String> argv = new ArrayList<>(List.of("chroot", "--userspec=" + user, rootfs.toString()));
        argv.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(argv);
        builder.environment().clear();
        builder.environment().putAll(environment);
        builder.redirectErrorStream(true).redirectOutput(log.toFile());
        return builder.start();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (procMounted) {
            OciImage.run("umount", rootfs.resolve("proc").toString());
            procMounted = false;
        }
    }

    boolean unmounted() {
        return !procMounted;
    }
}
