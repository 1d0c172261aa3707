import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.instruction.LocalVariable;
import java.lang.classfile.instruction.LocalVariableType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Collections;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Rewrites jars in place without the local variable tables of their classes (the {@code LocalVariableTable} and
 * {@code LocalVariableTypeTable} attributes: names and generic types of locals, which only a debugger shows), as
 * jlink's {@code --strip-debug} does for the runtime's own modules. Line numbers and source file names stay, so
 * stack traces read the same.
 *
 * <p>The rest of each class is kept as it was: with no instruction added or moved, the class-file API writes the
 * original stack map frames back. It is given no class hierarchy, so a class whose frames it would have to compute
 * anew fails to transform and is kept whole instead, as is every class it cannot read. A signed jar is left alone.
 *
 * <p>Usage: {@code java StripLocals.java JAR...} (Java 25+); prints one line per jar, bytes before and after.
 */
public final class StripLocals {
    private static final ClassHierarchyResolver NO_HIERARCHY = type -> {
        throw new IllegalArgumentException("no class hierarchy here, asked for " + type.descriptorString());
    };
    private static final ClassFile CLASS_FILE = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(NO_HIERARCHY));
    private static final ClassTransform WITHOUT_LOCALS = ClassTransform.transformingMethodBodies((code, element) -> {
        if (!(element instanceof LocalVariable) && !(element instanceof LocalVariableType)) {
            code.with(element);
        }
    });

    private StripLocals() {
    }

    public static void main(String[] args) throws IOException {
        for (String arg : args) {
            Path jar = Path.of(arg);
            long before = Files.size(jar);
            if (signed(jar)) {
                System.out.printf("%s: signed, left as it is%n", jar.getFileName());
                continue;
            }
            // A temporary file is only readable by its owner: the rewritten jar takes the original's permissions.
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(jar);
            Path rewritten = Files.createTempFile(jar.toAbsolutePath().getParent(), "strip-", ".jar");
            int kept = rewrite(jar, rewritten);
            Files.setPosixFilePermissions(rewritten, permissions);
            Files.move(rewritten, jar, StandardCopyOption.REPLACE_EXISTING);
            System.out.printf("%s: %d -> %d bytes%s%n", jar.getFileName(), before, Files.size(jar),
                    kept == 0 ? "" : ", " + kept + " classes kept whole");
        }
    }

    private static boolean signed(Path jar) throws IOException {
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            return zip.stream().map(ZipEntry::getName).anyMatch(name -> name.startsWith("META-INF/")
                    && name.indexOf('/', "META-INF/".length()) < 0 && name.matches("(?i).*\\.(SF|RSA|DSA|EC)"));
        }
    }

    /** Copies every entry of {@code jar} to {@code target}, in order; returns how many classes it kept whole. */
    private static int rewrite(Path jar, Path target) throws IOException {
        int kept = 0;
        try (ZipFile zip = new ZipFile(jar.toFile());
             OutputStream file = Files.newOutputStream(target);
             ZipOutputStream out = new ZipOutputStream(file)) {
            for (ZipEntry entry : Collections.list(zip.entries())) {
                byte[] bytes;
                try (InputStream in = zip.getInputStream(entry)) {
                    bytes = in.readAllBytes();
                }
                if (entry.getName().endsWith(".class") && !entry.getName().endsWith("module-info.class")) {
                    byte[] stripped = strip(bytes);
                    kept += stripped == bytes ? 1 : 0;
                    bytes = stripped;
                }
                ZipEntry copy = new ZipEntry(entry.getName());
                copy.setTime(entry.getTime());
                out.putNextEntry(copy);
                out.write(bytes);
                out.closeEntry();
            }
        }
        return kept;
    }

    private static byte[] strip(byte[] bytes) {
        try {
            return CLASS_FILE.transformClass(CLASS_FILE.parse(bytes), WITHOUT_LOCALS);
        } catch (IllegalArgumentException | IllegalStateException e) {
            return bytes;
        }
    }
}
