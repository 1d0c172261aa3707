package dev.parley.cli.deploy;

import dev.parley.cli.UsageException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The options of {@code parley deploy} after their rules, checked before anything runs. */
record DeployOptions(String project, String region, String service, Optional<String> image, String repository,
                     Optional<String> tag, boolean noTraffic, boolean dryRun, boolean json, Path yaml, int minInstances,
                     int maxInstances, int concurrency, Optional<String> serviceAccount, Map<String, SecretRef> secrets,
                     Map<String, String> env, Optional<String> llmProvider, Path reportDir, Duration readyTimeout,
                     Duration pollInterval) {

    /** A Secret Manager secret and the version to mount ({@code latest} or a number). */
    record SecretRef(String name, String version) {
        @Override
        public String toString() {
            return name + ":" + version;
        }
    }

    static final Map<String, String> DEFAULT_SECRETS = defaultSecrets();
    static final String LLM_KEY = "PARLEY_LLM_API_KEY";
    static final String MCP_SERVERS = "PARLEY_MCP_SERVERS";
    static final String MCP_CREDENTIALS_KEY = "PARLEY_MCP_CREDENTIALS_KEY";

    private static final Pattern PROJECT = Pattern.compile("([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]");
    private static final Pattern REGION = Pattern.compile("[a-z]+-[a-z]+[0-9]+");
    private static final Pattern SERVICE = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
    private static final Pattern TAG = Pattern.compile("[a-z]([a-z0-9-]{0,44}[a-z0-9])?");
    private static final Pattern REPOSITORY = Pattern.compile("[a-z]([a-z0-9-]{0,61}[a-z0-9])?");
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern SECRET = Pattern.compile("([A-Za-z0-9_-]{1,255})(?::(latest|[1-9][0-9]*))?");
    private static final Pattern DURATION = Pattern.compile("([0-9]+)(ms|s|m|h)?");
    private static final Set<String> PROVIDERS = Set.of("openai", "anthropic", "gemini", "ollama");
    private static final Set<String> KEYED_PROVIDERS = Set.of("openai", "anthropic", "gemini");

    /** The command line as given, before any rule is applied; null (or empty) for what is absent. */
    record Arguments(String project, String region, String service, String image, boolean buildLocal,
                     String repository, String tag, boolean noTraffic, boolean dryRun, boolean json, String yaml,
                     String minInstances, String maxInstances, String concurrency, String serviceAccount,
                     List<String> secrets, List<String> env, String llmProvider, String mcpServersSecret,
                     String mcpCredentialsKeySecret, String reportDir, String readyTimeout, String pollInterval) {
        public Arguments {
            secrets = List.copyOf(secrets);
            env = List.copyOf(env);
        }
    }

    private static Map<String, String> defaultSecrets() {
        Map<String, String> secrets = new LinkedHashMap<>();
        secrets.put("PARLEY_JWT_SECRET", "parley-jwt-secret");
        secrets.put("PARLEY_DATABASE_URL", "parley-database-url");
        secrets.put("PARLEY_REDIS_URL", "parley-redis-url");
        return Collections.unmodifiableMap(secrets);
    }

    /** Applies the rules to the command line; the first rule broken is a {@link UsageException} naming its option. */
    static DeployOptions from(Arguments args, Path workDir) {
        String project = Optional.ofNullable(args.project())
                .orElseThrow(() -> new UsageException("--project is required"));
        require(PROJECT, project, "--project", "a Google Cloud project id (6-30 lowercase letters, digits, dashes)");
        String region = Optional.ofNullable(args.region()).orElse("us-central1");
        require(REGION, region, "--region", "a Cloud Run region such as us-central1");
        String service = Optional.ofNullable(args.service()).orElse("parley");
        if (!SERVICE.matcher(service).matches()) {
            throw new UsageException("Invalid resource name [" + service + "]. The name must use only lowercase "
                    + "alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer "
                    + "than 63 characters.");
        }
        Optional<String> image = Optional.ofNullable(args.image());
        if (image.isPresent() && args.buildLocal()) {
            throw new UsageException("--image and --build-local exclude each other: deploy the given image, or build one");
        }
        image.ifPresent(ref -> {
            if (ref.isBlank() || ref.chars().anyMatch(Character::isWhitespace)) {
                throw new UsageException("--image must be an image reference such as "
                        + "us-central1-docker.pkg.dev/PROJECT/parley/parley:TAG");
            }
        });
        String repository = Optional.ofNullable(args.repository()).orElse("parley");
        require(REPOSITORY, repository, "--repository", "an Artifact Registry repository name");
        Optional<String> tag = Optional.ofNullable(args.tag());
        tag.ifPresent(t -> require(TAG, t, "--tag", "lowercase letters, digits and dashes, starting with a letter, "
                + "at most 46 characters"));

        int minInstances = integer(args.minInstances(), "--min-instances", 1, 1, 1000);
        int maxInstances = integer(args.maxInstances(), "--max-instances", Math.max(10, minInstances), 1, 1000);
        if (maxInstances < minInstances) {
            throw new UsageException("--max-instances (" + maxInstances + ") is below --min-instances (" + minInstances + ")");
        }
        int concurrency = integer(args.concurrency(), "--concurrency", 1000, 1, 1000);

        Optional<String> provider = Optional.ofNullable(args.llmProvider()).map(p -> p.toLowerCase(Locale.ROOT));
        provider.ifPresent(p -> {
            if (!PROVIDERS.contains(p)) {
                throw new UsageException("--llm-provider must be one of openai, anthropic, gemini, ollama; got " + p);
            }
        });
        Map<String, SecretRef> secrets = new LinkedHashMap<>();
        DEFAULT_SECRETS.forEach((env, name) -> secrets.put(env, new SecretRef(name, "latest")));
        if (provider.filter(KEYED_PROVIDERS::contains).isPresent()) {
            secrets.put(LLM_KEY, new SecretRef("parley-llm-api-key", "latest"));
        }
        Optional.ofNullable(args.mcpServersSecret())
                .ifPresent(given -> secrets.put(MCP_SERVERS, secret(given, "--mcp-servers-secret")));
        Optional.ofNullable(args.mcpCredentialsKeySecret())
                .ifPresent(given -> secrets.put(MCP_CREDENTIALS_KEY, secret(given, "--mcp-credentials-key-secret")));
        for (String entry : args.secrets()) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new UsageException("--secret takes ENV=NAME[:VERSION], got " + entry);
            }
            String env = entry.substring(0, eq);
            require(ENV_NAME, env, "--secret", "an environment variable name before '='");
            String value = entry.substring(eq + 1);
            requireNotAlsoOption(env, MCP_SERVERS, args.mcpServersSecret(), "--mcp-servers-secret");
            requireNotAlsoOption(env, MCP_CREDENTIALS_KEY, args.mcpCredentialsKeySecret(), "--mcp-credentials-key-secret");
            if (value.isEmpty()) {
                secrets.remove(env);
                continue;
            }
            Matcher matcher = SECRET.matcher(value);
            if (!matcher.matches()) {
                throw new UsageException("--secret " + entry + ": the secret must be NAME or NAME:VERSION (VERSION is "
                        + "latest or a number; NAME letters, digits, - and _)");
            }
            secrets.put(env, new SecretRef(matcher.group(1), matcher.group(2) == null ? "latest" : matcher.group(2)));
        }
        // The key only seals users' credentials for the servers PARLEY_MCP_SERVERS lists; alone it configures nothing.
        if (secrets.containsKey(MCP_CREDENTIALS_KEY) && !secrets.containsKey(MCP_SERVERS)) {
            throw new UsageException("--mcp-credentials-key-secret needs the MCP servers it serves: add "
                    + "--mcp-servers-secret NAME");
        }

        Map<String, String> env = new LinkedHashMap<>();
        env.put("PARLEY_LOG_FORMAT", "json");
        // Cloud Run's front end appends the address it saw to X-Forwarded-For: that entry is the client.
        env.put("PARLEY_TRUSTED_PROXY_HOPS", "1");
        provider.ifPresent(p -> env.put("PARLEY_LLM_PROVIDER", p));
        for (String entry : args.env()) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new UsageException("--env takes KEY=VALUE, got " + entry);
            }
            String key = entry.substring(0, eq);
            String value = entry.substring(eq + 1);
            require(ENV_NAME, key, "--env", "an environment variable name before '='");
            if (key.equals("PORT") || key.startsWith("K_")) {
                throw new UsageException("--env " + key + ": Cloud Run sets " + key + " itself");
            }
            if (value.contains(",")) {
                throw new UsageException("--env " + key + ": the value may not contain a comma (gcloud separates "
                        + "variables with commas); put such a value in a secret");
            }
            if (secrets.containsKey(key)) {
                throw new UsageException("--env " + key + " is also a secret; drop one of them (--secret " + key + "=)");
            }
            env.put(key, value);
        }

        Path yaml = Optional.ofNullable(args.yaml()).map(workDir::resolve)
                .orElse(workDir.resolve(service + "-service.yaml"));
        Path reportDir = Optional.ofNullable(args.reportDir()).map(workDir::resolve).orElse(workDir);
        Duration readyTimeout = duration(args.readyTimeout(), "--ready-timeout", Duration.ofMinutes(5));
        Duration pollInterval = duration(args.pollInterval(), "--poll-interval", Duration.ofSeconds(5));
        return new DeployOptions(project, region, service, image, repository, tag, args.noTraffic(),
                args.dryRun(), args.json(), yaml, minInstances, maxInstances, concurrency,
                Optional.ofNullable(args.serviceAccount()), Collections.unmodifiableMap(secrets),
                Collections.unmodifiableMap(env), provider, reportDir, readyTimeout, pollInterval);
    }

    /** Whether the image is built here (no --image). */
    boolean buildsImage() {
        return image.isEmpty();
    }

    private static SecretRef secret(String given, String flag) {
        Matcher matcher = SECRET.matcher(given);
        if (!matcher.matches()) {
            throw new UsageException(flag + " must be a Secret Manager secret NAME or NAME:VERSION (VERSION is latest "
                    + "or a number; NAME letters, digits, - and _); got '" + given + "'");
        }
        return new SecretRef(matcher.group(1), matcher.group(2) == null ? "latest" : matcher.group(2));
    }

    private static void requireNotAlsoOption(String env, String variable, String optionValue, String flag) {
        if (env.equals(variable) && optionValue != null) {
            throw new UsageException("--secret " + variable + " and " + flag + " both set " + variable
                    + "; drop one of them");
        }
    }

    private static void require(Pattern pattern, String value, String flag, String what) {
        if (!pattern.matcher(value).matches()) {
            throw new UsageException(flag + " must be " + what + "; got '" + value + "'");
        }
    }

    private static int integer(String given, String flag, int fallback, int min, int max) {
        Optional<String> text = Optional.ofNullable(given);
        if (text.isEmpty()) {
            return fallback;
        }
        try {
            int value = Integer.parseInt(text.get());
            if (value < min || value > max) {
                throw new UsageException(flag + " must be between " + min + " and " + max + "; got " + value);
            }
            return value;
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " must be a whole number; got '" + text.get() + "'");
        }
    }

    private static Duration duration(String given, String flag, Duration fallback) {
        Optional<String> text = Optional.ofNullable(given);
        if (text.isEmpty()) {
            return fallback;
        }
        Matcher matcher = DURATION.matcher(text.get());
        if (!matcher.matches()) {
            throw new UsageException(flag + " must be a duration such as 250ms, 30s, 5m or 1h; got '" + text.get() + "'");
        }
        long amount = Long.parseLong(matcher.group(1));
        String unit = matcher.group(2) == null ? "s" : matcher.group(2);
        Duration value = switch (unit) {
            case "ms" -> Duration.ofMillis(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            default -> Duration.ofSeconds(amount);
        };
        if (value.isZero()) {
            throw new UsageException(flag + " must be longer than zero");
        }
        return value;
    }
}
