package dev.parley.cli.validate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket.Received;
import dev.parley.protocol.EventType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The rules every run's events must follow (protocol §2, "Server events"), checked on the events of one run as a
 * client saw them: {@code agent_started} first; then thinking, tool pairs and partial results; exactly one of
 * {@code agent_completed}/{@code agent_error}, last; {@code seq} 1..n in order without gaps or duplicates; one
 * run_id and thread_id; every {@code tool_executing} answered by one {@code tool_completed} with its tool_call_id.
 */
final class RunTranscript {
    private static final Set<String> MIDDLE_TYPES = Set.of(EventType.AGENT_THINKING, EventType.TOOL_EXECUTING,
            EventType.TOOL_COMPLETED, EventType.PARTIAL_RESULT);

    private RunTranscript() {
    }

    /** Counts of a run's event kinds, for the report. */
    record Shape(int events, int thinking, int toolCalls, int partialResults) {
    }

    static Shape shape(List<Received> events) {
        int thinking = 0;
        int tools = 0;
        int partials = 0;
        for (Received event : events) {
            switch (event.type()) {
                case EventType.AGENT_THINKING -> thinking++;
                case EventType.TOOL_EXECUTING -> tools++;
                case EventType.PARTIAL_RESULT -> partials++;
                default -> {
                }
            }
        }
        return new Shape(events.size(), thinking, tools, partials);
    }

    /**
     * Every way {@code events} (one run's events in arrival order) break the rules; empty when they follow them.
     * Duplicates count as a violation here: on one socket that did not resume, each event is sent once.
     */
    static List<String> violations(List<Received> events, String runId) {
        List<String> problems = new ArrayList<>();
        if (events.isEmpty()) {
            problems.add("no event of run " + runId + " arrived");
            return problems;
        }
        checkEnvelopes(events, problems);
        checkSeq(events, problems);
        checkOrder(events, problems);
        checkTools(events, problems);
        return problems;
    }

    /** A run put back together from several sockets: the union by {@code seq}, with conflicting copies noted. */
    record Merged(List<Received> events, List<String> problems) {
    }

    /**
     * Merges the events of one run received on several sockets (or twice on one), dropping duplicates by {@code seq}
     * as the protocol tells clients to; two different events with the same {@code seq} are a problem, and so is an
     * event without {@code seq}. The result is in {@code seq} order.
     */
    static Merged merge(List<Received> events) {
        List<String> problems = new ArrayList<>();
        TreeMap<Long, Received> bySeq = new TreeMap<>();
        for (Received event : events) {
            if (!event.hasSeq()) {
                problems.add(Frames.label(event) + " has no seq, so it cannot be put in order or deduplicated");
                continue;
            }
            long seq = event.raw().get("seq").asLong();
            Received earlier = bySeq.putIfAbsent(seq, event);
            if (earlier != null && !sameEvent(earlier, event)) {
                problems.add("two different events carry seq " + seq + ": " + Frames.excerpt(earlier) + " and "
                        + Frames.excerpt(event));
            }
        }
        return new Merged(new ArrayList<>(bySeq.values()), problems);
    }

    private static boolean sameEvent(Received a, Received b) {
        JsonNode dataA = a.raw().has("data") ? a.raw().get("data") : a.raw().get("payload");
        JsonNode dataB = b.raw().has("data") ? b.raw().get("data") : b.raw().get("payload");
        return a.type().equals(b.type()) && java.util.Objects.equals(dataA, dataB);
    }

    private static void checkEnvelopes(List<Received> events, List<String> problems) {
        Set<String> threadIds = new LinkedHashSet<>();
        Set<String> runIds = new LinkedHashSet<>();
        List<String> noAgentName = new ArrayList<>();
        List<String> noTimestamp = new ArrayList<>();
        for (Received event : events) {
            threadIds.add(event.event().threadId());
            runIds.add(event.event().runId());
            if (event.event().agentName() == null || event.event().agentName().isEmpty()) {
                noAgentName.add(Frames.label(event));
            }
            if (event.event().timestamp() == null) {
                noTimestamp.add(Frames.label(event));
            }
        }
        if (threadIds.contains(null) || threadIds.contains("")) {
            problems.add("events without thread_id");
        }
        threadIds.remove(null);
        threadIds.remove("");
        if (threadIds.size() > 1) {
            problems.add("the run's events name " + threadIds.size() + " thread_ids: " + threadIds);
        }
        if (runIds.size() > 1) {
            problems.add("the run's events name " + runIds.size() + " run_ids: " + runIds);
        }
        if (!noAgentName.isEmpty()) {
            problems.add("events without agent_name: " + noAgentName);
        }
        if (!noTimestamp.isEmpty()) {
            problems.add("events without an ISO-8601 timestamp: " + noTimestamp);
        }
    }

    private static void checkSeq(List<Received> events, List<String> problems) {
        List<Long> seqs = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (Received event : events) {
            if (event.hasSeq()) {
                seqs.add(event.raw().get("seq").asLong());
            } else {
                missing.add(Frames.label(event));
            }
        }
        if (!missing.isEmpty()) {
            problems.add(missing.size() + " of " + events.size() + " events have no seq: " + missing);
        }
        if (seqs.isEmpty()) {
            return;
        }
        boolean inOrder = true;
        for (int i = 0; i < seqs.size(); i++) {
            if (seqs.get(i) != i + 1L) {
                inOrder = false;
                break;
            }
        }
        if (inOrder && missing.isEmpty()) {
            return;
        }
        Set<Long> seen = new HashSet<>();
        Set<Long> duplicates = new LinkedHashSet<>();
        boolean decreasing = false;
        long max = 0;
        for (long seq : seqs) {
            if (!seen.add(seq)) {
                duplicates.add(seq);
            } else if (seq < max) {
                decreasing = true;
            }
            max = Math.max(max, seq);
        }
        List<Long> gaps = new ArrayList<>();
        for (long seq = 1; seq <= max && gaps.size() < 20; seq++) {
            if (!seen.contains(seq)) {
                gaps.add(seq);
            }
        }
        StringBuilder text = new StringBuilder("seq in arrival order was " + abbreviate(seqs)
                + ", expected 1.." + (seqs.size() + missing.size()));
        if (!gaps.isEmpty()) {
            text.append("; missing ").append(gaps);
        }
        if (!duplicates.isEmpty()) {
            text.append("; duplicated ").append(duplicates);
        }
        if (decreasing) {
            text.append("; out of order");
        }
        if (seqs.stream().anyMatch(seq -> seq < 1)) {
            text.append("; values below 1");
        }
        problems.add(text.toString());
    }

    private static void checkOrder(List<Received> events, List<String> problems) {
        Received first = events.getFirst();
        if (!first.type().equals(EventType.AGENT_STARTED)) {
            problems.add("the first event was " + Frames.label(first) + ", expected agent_started");
        }
        List<Integer> terminals = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            String type = events.get(i).type();
            if (EventType.isTerminal(type)) {
                terminals.add(i);
            } else if (i > 0 && !MIDDLE_TYPES.contains(type)) {
                unexpected.add(Frames.label(events.get(i)));
            }
        }
        if (terminals.isEmpty()) {
            problems.add("no agent_completed or agent_error ended the run");
        } else if (terminals.size() > 1) {
            problems.add(terminals.size() + " terminal events, expected exactly one: "
                    + terminals.stream().map(i -> Frames.label(events.get(i))).toList());
        } else if (terminals.getFirst() != events.size() - 1) {
            problems.add(Frames.label(events.get(terminals.getFirst())) + " was followed by "
                    + Frames.summary(events.subList(terminals.getFirst() + 1, events.size()))
                    + "; the terminal event must be the last");
        }
        if (!unexpected.isEmpty()) {
            problems.add("events of a kind that cannot appear inside a run: " + unexpected);
        }
    }

    private static void checkTools(List<Received> events, List<String> problems) {
        Map<String, String> open = new HashMap<>();
        Set<String> done = new HashSet<>();
        for (Received event : events) {
            String type = event.type();
            if (!type.equals(EventType.TOOL_EXECUTING) && !type.equals(EventType.TOOL_COMPLETED)) {
                continue;
            }
            String id = event.event().data().path("tool_call_id").asText("");
            String name = event.event().data().path("tool_name").asText("");
            if (id.isEmpty()) {
                problems.add(Frames.label(event) + " has no tool_call_id");
                continue;
            }
            if (type.equals(EventType.TOOL_EXECUTING)) {
                if (open.containsKey(id) || done.contains(id)) {
                    problems.add("tool_call_id " + id + " was announced by tool_executing more than once");
                }
                open.put(id, name);
            } else if (!open.containsKey(id)) {
                problems.add(done.contains(id) ? "tool_call_id " + id + " was completed twice"
                        : "tool_completed " + id + " (" + name + ") came without a tool_executing before it");
            } else {
                String announced = open.remove(id);
                done.add(id);
                if (!announced.equals(name)) {
                    problems.add("tool_call_id " + id + " was announced as '" + announced + "' but completed as '"
                            + name + "'");
                }
                String status = event.event().data().path("status").asText("");
                if (!status.equals("success") && !status.equals("error")) {
                    problems.add("tool_completed " + id + " has status '" + status + "', expected success or error");
                }
            }
        }
        if (!open.isEmpty()) {
            problems.add("tool calls never completed: " + open.keySet());
        }
    }

    private static String abbreviate(List<Long> seqs) {
        if (seqs.size() <= 30) {
            return seqs.toString();
        }
        return seqs.subList(0, 30).toString().replace("]", ", … " + (seqs.size() - 30) + " more]");
    }
}
