package dev.parley.cli.deploy;

import dev.parley.cli.Args;
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

/** The arguments of {@code parley deploy}, checked before anything runs. */
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

    static final String USAGE = """
            Usage: parley deploy --project PROJECT [OPTIONS]

            Deploys Parley to Google Cloud Run without disturbing the revision that serves traffic: checks gcloud,
            the account, the project, its APIs and the secrets; builds and pushes the image (or takes --image);
            deploys a new revision with no traffic under a tag; waits until it is Ready; validates it at the tag's
            own URL; and only then moves all traffic to it. A failure at any step leaves traffic where it was.
            The first deploy of a service is the exception: Cloud Run makes a new service's first revision serve
            at once, so it is validated while it already serves.

            Options:
              --project ID              Google Cloud project (required)
              --region REGION           Cloud Run region (default us-central1)
              --service NAME            Cloud Run service (default parley)
              --image REF               deploy this image instead of building one
              --build-local             build the image here with Jib (no Docker needed) and push it to Artifact
                                        Registry; what happens when --image is not given
              --repository NAME         Artifact Registry repository in the same region (default parley)
              --tag TAG                 traffic tag of the new revision (default cand-GITSHA)
              --no-traffic              stop after validation: the new revision stays tagged, without traffic
              --dry-run                 print every command without running any and write the service YAML
              --yaml FILE               where --dry-run writes the YAML (default SERVICE-service.yaml)
              --json                    print a machine-readable summary on standard output
              --min-instances N         instances kept warm, at least 1 (default 1)
              --max-instances N         (default 10)
              --concurrency N           requests, that is open WebSockets, per instance, 1-1000 (default 1000)
              --service-account EMAIL   the revision's identity; it must be able to read the secrets
              --secret ENV=NAME[:VER]   set ENV from Secret Manager secret NAME (version: latest or a number;
                                        default latest); repeatable; ENV= drops a default. Defaults:
                                        PARLEY_JWT_SECRET=parley-jwt-secret, PARLEY_DATABASE_URL=parley-database-url,
                                        PARLEY_REDIS_URL=parley-redis-url, and with --llm-provider openai,
                                        anthropic or gemini PARLEY_LLM_API_KEY=parley-llm-api-key
              --env KEY=VALUE           a plain environment variable; repeatable (PARLEY_LOG_FORMAT=json and
                                        PARLEY_TRUSTED_PROXY_HOPS=1 are set)
              --llm-provider NAME       openai, anthropic, gemini or ollama (sets PARLEY_LLM_PROVIDER)
              --report-dir DIR          where the validation report is written (default: the working directory)
              --ready-timeout DURATION  how long the new revision may take to become Ready (default 5m)
              --poll-interval DURATION  how often its state is read meanwhile (default 5s)

            Environment:
              PARLEY_VALIDATE_COMMAND   the validator to run instead of "bin/parley validate" (split on spaces)
              PARLEY_IMAGE_COMMAND      the image builder to run instead of "bin/image.sh" (split on spaces)
            """;

    static final Map<String, String> DEFAULT_SECRETS = defaultSecrets();
    static final String LLM_KEY = "PARLEY_LLM_API_KEY";

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

    static final Args.Spec SPEC = new Args.Spec()
            .value("--project").value("--region").value("--service").value("--image").switchFlag("--build-local")
            .value("--repository").value("--tag").switchFlag("--no-traffic").switchFlag("--dry-run")
            .switchFlag("--json").value("--yaml").value("--min-instances").value("--max-instances")
            .value("--concurrency").value("--service-account").repeated("--secret").repeated("--env")
            .value("--llm-provider").value("--report-dir").value("--ready-timeout").value("--poll-interval")
            .switchFlag("--help");

    private static Map<String, String> defaultSecrets() {
        Map<String, String> secrets = new LinkedHashMap<>();
        secrets.put("PARLEY_JWT_SECRET", "parley-jwt-secret");
        secrets.put("PARLEY_DATABASE_URL", "parley-database-url");
        secrets.put("PARLEY_REDIS_URL", "parley-redis-url");
        return Collections.unmodifiableMap(secrets);
    }

    static DeployOptions parse(List<String> arguments, Path workDir) {
        Args args = Args.parse(arguments, SPEC);
        if (!args.positional().isEmpty()) {
            throw new UsageException("unexpected argument " + args.positional().getFirst());
        }
        String project = args.value("--project").orElseThrow(() -> new UsageException("--project is required"));
        require(PROJECT, project, "--project", "a Google Cloud project id (6-30 lowercase letters, digits, dashes)");
        String region = args.value("--region").orElse("us-central1");
        require(REGION, region, "--region", "a Cloud Run region such as us-central1");
        String service = args.value("--service").orElse("parley");
        if (!SERVICE.matcher(service).matches()) {
            throw new UsageException("Invalid resource name [" + service + "]. The name must use only lowercase "
                    + "alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer "
                    + "than 63 characters.");
        }
        Optional<String> image = args.value("--image");
        if (image.isPresent() && args.has("--build-local")) {
            throw new UsageException("--image and --build-local exclude each other: deploy the given image, or build one");
        }
        image.ifPresent(ref -> {
            if (ref.isBlank() || ref.chars().anyMatch(Character::isWhitespace)) {
                throw new UsageException("--image must be an image reference such as "
                        + "us-central1-docker.pkg.dev/PROJECT/parley/parley:TAG");
            }
        });
        String repository = args.value("--repository").orElse("parley");
        require(REPOSITORY, repository, "--repository", "an Artifact Registry repository name");
        Optional<String> tag = args.value("--tag");
        tag.ifPresent(t -> require(TAG, t, "--tag", "lowercase letters, digits and dashes, starting with a letter, "
                + "at most 46 characters"));

        int minInstances = integer(args, "--min-instances", 1, 1, 1000);
        int maxInstances = integer(args, "--max-instances", Math.max(10, minInstances), 1, 1000);
        if (maxInstances < minInstances) {
            throw new UsageException("--max-instances (" + maxInstances + ") is below --min-instances (" + minInstances + ")");
        }
        int concurrency = integer(args, "--concurrency", 1000, 1, 1000);

        Optional<String> provider = args.value("--llm-provider").map(p -> p.toLowerCase(Locale.ROOT));
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
        for (String entry : args.values("--secret")) {
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw new UsageException("--secret takes ENV=NAME[:VERSION], got " + entry);
            }
            String env = entry.substring(0, eq);
            require(ENV_NAME, env, "--secret", "an environment variable name before '='");
            String value = entry.substring(eq + 1);
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

        Map<String, String> env = new LinkedHashMap<>();
        env.put("PARLEY_LOG_FORMAT", "json");
        // Cloud Run's front end appends the address it saw to X-Forwarded-For: that entry is the client.
        env.put("PARLEY_TRUSTED_PROXY_HOPS", "1");
        provider.ifPresent(p -> env.put("PARLEY_LLM_PROVIDER", p));
        for (String entry : args.values("--env")) {
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

        Path yaml = args.value("--yaml").map(workDir::resolve).orElse(workDir.resolve(service + "-service.yaml"));
        Path reportDir = args.value("--report-dir").map(workDir::resolve).orElse(workDir);
        Duration readyTimeout = duration(args, "--ready-timeout", Duration.ofMinutes(5));
        Duration pollInterval = duration(args, "--poll-interval", Duration.ofSeconds(5));
        return new DeployOptions(project, region, service, image, repository, tag, args.has("--no-traffic"),
                args.has("--dry-run"), args.has("--json"), yaml, minInstances, maxInstances, concurrency,
                args.value("--service-account"), Collections.unmodifiableMap(secrets),
                Collections.unmodifiableMap(env), provider, reportDir, readyTimeout, pollInterval);
    }

    /** Whether the image is built here (no --image). */
    boolean buildsImage() {
        return image.isEmpty();
    }

    private static void require(Pattern pattern, String value, String flag, String what) {
        if (!pattern.matcher(value).matches()) {
            throw new UsageException(flag + " must be " + what + "; got '" + value + "'");
        }
    }

    private static int integer(Args args, String flag, int fallback, int min, int max) {
        Optional<String> text = args.value(flag);
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

    private static Duration duration(Args args, String flag, Duration fallback) {
        Optional<String> text = args.value(flag);
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
