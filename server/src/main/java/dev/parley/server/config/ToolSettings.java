package dev.parley.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads {@code PARLEY_MCP_SERVERS}, {@code PARLEY_TOOL_POLICY} and {@code PARLEY_APPROVAL_TIMEOUT} into
 * {@link Config.Tools}, reporting every problem with the variable and, for a server, its position and field.
 */
final class ToolSettings {
    static final Pattern SERVER_ID = Pattern.compile("[a-z0-9_-]{1,32}");
    private static final Pattern TOOL_PATTERN = Pattern.compile("[A-Za-z0-9_.*-]{1,128}");
    private static final Set<String> SERVER_FIELDS = Set.of("id", "url", "transport", "command", "auth", "allow_tools",
            "deny_tools", "timeout_ms");
    private static final Set<String> AUTH_FIELDS = Set.of("mode", "header", "value_env");
    private static final String SERVERS = "PARLEY_MCP_SERVERS";
    private static final String POLICY = "PARLEY_TOOL_POLICY";
    private static final String CREDENTIALS_KEY = "PARLEY_MCP_CREDENTIALS_KEY";

    private ToolSettings() {
    }

    static Config.Tools read(EnvReader r) {
        List<Config.McpServer> servers = readServers(r);
        List<Config.PolicyRule> policy = readPolicy(r);
        Duration approvalTimeout = r.duration("PARLEY_APPROVAL_TIMEOUT", Config.Tools.DEFAULT_APPROVAL_TIMEOUT,
                Duration.ofSeconds(1), Duration.ofDays(1));
        Optional<byte[]> credentialsKey = readCredentialsKey(r,
                servers.stream().anyMatch(server -> server.authMode() == Config.McpAuthMode.USER_SECRET));
        return new Config.Tools(List.copyOf(servers), List.copyOf(policy), approvalTimeout, credentialsKey);
    }

    private static Optional<byte[]> readCredentialsKey(EnvReader r, boolean needed) {
        Optional<String> raw = r.optional(CREDENTIALS_KEY);
        if (raw.isEmpty()) {
            if (needed) {
                r.problem(CREDENTIALS_KEY, "is required when a server of PARLEY_MCP_SERVERS uses auth mode "
                        + "'user_secret': users' credentials are stored encrypted with it (base64 of 32 random bytes, "
                        + "for example from `openssl rand -base64 32`)");
            }
            return Optional.empty();
        }
        byte[] key;
        try {
            key = java.util.Base64.getDecoder().decode(raw.get());
        } catch (IllegalArgumentException e) {
            r.problem(CREDENTIALS_KEY, "must be base64 (of 32 random bytes)");
            return Optional.empty();
        }
        if (key.length != 32) {
            r.problem(CREDENTIALS_KEY, "must be base64 of exactly 32 bytes, got " + key.length);
            return Optional.empty();
        }
        return Optional.of(key);
    }

    private static List<Config.PolicyRule> readPolicy(EnvReader r) {
        List<Config.PolicyRule> rules = new ArrayList<>();
        for (String entry : r.string(POLICY, "").split(",")) {
            String rule = entry.trim();
            if (rule.isEmpty()) {
                continue;
            }
            int equals = rule.indexOf('=');
            if (equals <= 0) {
                r.problem(POLICY, "'" + rule + "' is not pattern=auto|ask|deny");
                continue;
            }
            String pattern = rule.substring(0, equals).trim();
            String action = rule.substring(equals + 1).trim().toUpperCase(Locale.ROOT);
            if (!TOOL_PATTERN.matcher(pattern).matches()) {
                r.problem(POLICY, "'" + pattern + "' is not a tool name pattern (letters, digits, _.- and *)");
                continue;
            }
            try {
                rules.add(new Config.PolicyRule(pattern, Config.PolicyAction.valueOf(action)));
            } catch (IllegalArgumentException e) {
                r.problem(POLICY, "'" + rule + "': the action must be auto, ask or deny");
            }
        }
        return rules;
    }

    private static List<Config.McpServer> readServers(EnvReader r) {
        Optional<String> raw = r.optional(SERVERS);
        if (raw.isEmpty()) {
            return List.of();
        }
        String text = raw.get();
        if (!text.startsWith("[")) {
            try {
                text = Files.readString(Path.of(text));
            } catch (IOException | RuntimeException e) {
                r.problem(SERVERS, "is neither a JSON array nor a readable file (" + e.getClass().getSimpleName() + ")");
                return List.of();
            }
        }
        JsonNode array;
        try {
            array = new ObjectMapper().readTree(text);
        } catch (IOException e) {
            r.problem(SERVERS, "is not valid JSON: " + firstLine(e.getMessage()));
            return List.of();
        }
        if (array == null || !array.isArray()) {
            r.problem(SERVERS, "must be a JSON array of servers");
            return List.of();
        }
        List<Config.McpServer> servers = new ArrayList<>();
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < array.size(); i++) {
            readServer(r, array.get(i), "server " + (i + 1)).ifPresent(server -> {
                if (!ids.add(server.id())) {
                    r.problem(SERVERS, "names the server id '" + server.id() + "' twice");
                } else {
                    servers.add(server);
                }
            });
        }
        return servers;
    }

    private static Optional<Config.McpServer> readServer(EnvReader r, JsonNode node, String where) {
        if (!node.isObject()) {
            r.problem(SERVERS, where + " must be an object");
            return Optional.empty();
        }
        int before = r.problems().size();
        String id = node.path("id").asText("");
        if (!node.path("id").isTextual() || !SERVER_ID.matcher(id).matches()) {
            r.problem(SERVERS, where + ": 'id' must be 1 to 32 of a-z, 0-9, _ and -, got " + node.path("id"));
        } else {
            where = "server '" + id + "'";
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!SERVER_FIELDS.contains(name)) {
                r.problem(SERVERS, where + " has an unknown field '" + name + "'");
            }
        }
        Config.McpTransport transport = Config.McpTransport.STREAMABLE_HTTP;
        if (node.has("transport")) {
            switch (node.path("transport").asText("")) {
                case "streamable_http" -> transport = Config.McpTransport.STREAMABLE_HTTP;
                case "stdio" -> transport = Config.McpTransport.STDIO;
                default -> r.problem(SERVERS, where + ": 'transport' must be streamable_http or stdio");
            }
        }
        URI url = null;
        String rawUrl = node.path("url").asText("");
        try {
            url = URI.create(rawUrl);
            if (!"http".equals(url.getScheme()) && !"https".equals(url.getScheme()) || url.getHost() == null) {
                url = null;
            }
        } catch (IllegalArgumentException e) {
            url = null;
        }
        if (url == null && transport == Config.McpTransport.STREAMABLE_HTTP) {
            r.problem(SERVERS, where + ": 'url' must be an absolute http or https URL");
        }
        List<String> command = List.of();
        JsonNode commandNode = node.path("command");
        if (transport == Config.McpTransport.STDIO) {
            command = command(commandNode);
            if (command.isEmpty()) {
                r.problem(SERVERS, where + ": 'command' is required for the stdio transport: a command line, or an"
                        + " array of the program and its arguments");
            }
            if (node.has("url")) {
                r.problem(SERVERS, where + ": 'url' is for the streamable_http transport, not stdio");
            }
        } else if (!commandNode.isMissingNode()) {
            r.problem(SERVERS, where + ": 'command' is for the stdio transport");
        }
        JsonNode auth = node.path("auth");
        Config.McpAuthMode mode = Config.McpAuthMode.NONE;
        Optional<String> header = Optional.empty();
        Optional<String> value = Optional.empty();
        if (!auth.isMissingNode() && !auth.isNull()) {
            if (!auth.isObject()) {
                r.problem(SERVERS, where + ": 'auth' must be an object");
            } else {
                for (Iterator<String> names = auth.fieldNames(); names.hasNext(); ) {
                    String name = names.next();
                    if (!AUTH_FIELDS.contains(name)) {
                        r.problem(SERVERS, where + ": 'auth' has an unknown field '" + name + "'");
                    }
                }
                switch (auth.path("mode").asText("none")) {
                    case "none" -> mode = Config.McpAuthMode.NONE;
                    case "static" -> mode = Config.McpAuthMode.STATIC;
                    case "user_secret" -> mode = Config.McpAuthMode.USER_SECRET;
                    default -> r.problem(SERVERS, where + ": 'auth.mode' must be none, static or user_secret");
                }
                if (auth.has("header")) {
                    String name = auth.path("header").asText("");
                    if (!name.matches("[A-Za-z0-9-]{1,64}")) {
                        r.problem(SERVERS, where + ": 'auth.header' must be an HTTP header name");
                    } else {
                        header = Optional.of(name);
                    }
                }
                String variable = auth.path("value_env").asText("");
                if (mode == Config.McpAuthMode.STATIC && variable.isEmpty()) {
                    r.problem(SERVERS, where + ": 'auth.value_env' is required for auth mode 'static'");
                } else if (mode == Config.McpAuthMode.NONE && !variable.isEmpty()) {
                    r.problem(SERVERS, where + ": 'auth.value_env' needs auth mode 'static' or 'user_secret'");
                }
                if (mode != Config.McpAuthMode.NONE) {
                    if (!variable.isEmpty()) {
                        value = r.optional(variable);
                        if (value.isEmpty()) {
                            r.problem(variable, "is required by " + where + " of " + SERVERS + " (its credential)");
                        }
                    }
                }
            }
        }
        if (transport == Config.McpTransport.STDIO && mode != Config.McpAuthMode.NONE) {
            r.problem(SERVERS, where + ": a stdio server takes no credential; 'auth.mode' must be none");
        }
        List<String> allow = toolList(r, node.path("allow_tools"), where, "allow_tools");
        List<String> deny = toolList(r, node.path("deny_tools"), where, "deny_tools");
        Duration timeout = Config.Tools.DEFAULT_MCP_TIMEOUT;
        if (node.has("timeout_ms")) {
            JsonNode ms = node.path("timeout_ms");
            if (!ms.isIntegralNumber() || ms.asLong() < 100 || ms.asLong() > 600_000) {
                r.problem(SERVERS, where + ": 'timeout_ms' must be a whole number from 100 to 600000");
            } else {
                timeout = Duration.ofMillis(ms.asLong());
            }
        }
        if (r.problems().size() > before) {
            return Optional.empty();
        }
        return Optional.of(new Config.McpServer(id, url, transport, command, mode, header, value, allow, deny,
                timeout));
    }

    /** A command line split on spaces, or an array of strings; empty when it is neither or has nothing in it. */
    private static List<String> command(JsonNode node) {
        List<String> parts = new ArrayList<>();
        if (node.isTextual()) {
            for (String part : node.asText().trim().split("\\s+")) {
                if (!part.isEmpty()) {
                    parts.add(part);
                }
            }
        } else if (node.isArray()) {
            for (JsonNode part : node) {
                if (!part.isTextual() || part.asText().isEmpty()) {
                    return List.of();
                }
                parts.add(part.asText());
            }
        }
        return List.copyOf(parts);
    }

    private static List<String> toolList(EnvReader r, JsonNode node, String where, String field) {
        if (node.isMissingNode() || node.isNull()) {
            return List.of();
        }
        List<String> names = new ArrayList<>();
        if (!node.isArray()) {
            r.problem(SERVERS, where + ": '" + field + "' must be an array of tool names");
            return names;
        }
        for (JsonNode name : node) {
            if (!name.isTextual() || !TOOL_PATTERN.matcher(name.asText()).matches()) {
                r.problem(SERVERS, where + ": '" + field + "' holds " + name + ", not a tool name or pattern");
            } else {
                names.add(name.asText());
            }
        }
        return List.copyOf(names);
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
