package dev.parley.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A command's parsed arguments: {@code --name value} or {@code --name=value} for flags that take a value, bare
 * {@code --name} for switches, anything else positional. Unknown flags, a missing value and a single-valued flag
 * given twice are {@link UsageException}s.
 */
public final class Args {
    /** What a command accepts. */
    public static final class Spec {
        private enum Kind { SWITCH, VALUE, REPEATED }

        private final Map<String, Kind> flags = new HashMap<>();

        /** A flag without a value ({@code --dry-run}). */
        public Spec switchFlag(String name) {
            flags.put(name, Kind.SWITCH);
            return this;
        }

        /** A flag with one value ({@code --project P}). */
        public Spec value(String name) {
            flags.put(name, Kind.VALUE);
            return this;
        }

        /** A flag that may be given several times ({@code --env K=V --env K2=V2}). */
        public Spec repeated(String name) {
            flags.put(name, Kind.REPEATED);
            return this;
        }
    }

    private final Map<String, List<String>> values;
    private final List<String> positional;

    private Args(Map<String, List<String>> values, List<String> positional) {
        this.values = values;
        this.positional = positional;
    }

    public static Args parse(List<String> args, Spec spec) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        List<String> positional = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (!arg.startsWith("--") || arg.equals("--")) {
                positional.add(arg);
                continue;
            }
            int eq = arg.indexOf('=');
            String name = eq < 0 ? arg : arg.substring(0, eq);
            Spec.Kind kind = spec.flags.get(name);
            if (kind == null) {
                throw new UsageException("unknown argument " + name);
            }
            String value;
            if (kind == Spec.Kind.SWITCH) {
                if (eq >= 0) {
                    throw new UsageException(name + " takes no value");
                }
                value = "true";
            } else if (eq >= 0) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("--")) {
                value = args.get(++i);
            } else {
                throw new UsageException(name + " needs a value");
            }
            List<String> list = values.computeIfAbsent(name, key -> new ArrayList<>());
            if (kind != Spec.Kind.REPEATED && !list.isEmpty()) {
                throw new UsageException(name + " is given more than once");
            }
            list.add(value);
        }
        return new Args(values, positional);
    }

    public boolean has(String name) {
        return values.containsKey(name);
    }

    public Optional<String> value(String name) {
        List<String> list = values.get(name);
        return list == null ? Optional.empty() : Optional.of(list.getFirst());
    }

    public List<String> values(String name) {
        return values.getOrDefault(name, List.of());
    }

    public List<String> positional() {
        return positional;
    }
}
