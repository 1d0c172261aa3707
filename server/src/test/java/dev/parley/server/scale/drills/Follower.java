package dev.parley.server.scale.drills;

import com.fasterxml.jackson.databind.JsonNode;
import dev.parley.client.ParleySocket;
import dev.parley.protocol.EventType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One client following a user's runs, over one socket or, after reconnecting, several in turn: every run event it
 * received, in arrival order, and what a client that drops duplicates by {@code seq} makes of them.
 */
final class Follower {
    /** One run event as received. */
    record Received(String runId, long seq, String type, JsonNode raw, long arrivedNanos) {
    }

    /** One run as this follower saw it. */
    record RunView(String runId, int received, int duplicates, int outOfOrder, long lastSeq, boolean gapless,
                   String terminalType, JsonNode terminal) {
        boolean ended() {
            return terminalType != null;
        }
    }

    final String name;
    private final List<ParleySocket> sockets = new CopyOnWriteArrayList<>();

    Follower(String name, ParleySocket socket) {
        this.name = name;
        sockets.add(socket);
    }

    void reconnected(ParleySocket socket) {
        sockets.add(socket);
    }

    ParleySocket current() {
        return sockets.getLast();
    }

    List<ParleySocket> sockets() {
        return List.copyOf(sockets);
    }

    /** Every run event received, over every socket, in arrival order per socket (sockets one after another). */
    List<Received> events() {
        List<Received> all = new ArrayList<>();
        for (ParleySocket socket : sockets) {
            for (ParleySocket.Received frame : socket.frames()) {
                String runId = frame.event().runId();
                if (runId != null && frame.event().seq() > 0) {
                    all.add(new Received(runId, frame.event().seq(), frame.type(), frame.raw(), frame.arrivedNanos()));
                }
            }
        }
        return all;
    }

    Map<String, RunView> runs() {
        Map<String, List<Received>> byRun = new LinkedHashMap<>();
        for (Received event : events()) {
            byRun.computeIfAbsent(event.runId(), id -> new ArrayList<>()).add(event);
        }
        Map<String, RunView> views = new LinkedHashMap<>();
        byRun.forEach((runId, events) -> views.put(runId, view(runId, events)));
        return views;
    }

    private static RunView view(String runId, List<Received> events) {
        Set<Long> seen = new LinkedHashSet<>();
        int duplicates = 0;
        int outOfOrder = 0;
        long max = 0;
        String terminalType = null;
        JsonNode terminal = null;
        for (Received event : events) {
            if (!seen.add(event.seq())) {
                duplicates++;
                continue;
            }
            if (event.seq() < max) {
                outOfOrder++;
            }
            max = Math.max(max, event.seq());
            if (EventType.isTerminal(event.type())) {
                terminalType = event.type();
                terminal = event.raw();
            }
        }
        boolean gapless = seen.size() == max;
        return new RunView(runId, events.size(), duplicates, outOfOrder, max, gapless, terminalType, terminal);
    }

    /** First arrival time of each seq of the run. */
    Map<Long, Long> arrivals(String runId) {
        Map<Long, Long> arrivals = new LinkedHashMap<>();
        for (Received event : events()) {
            if (event.runId().equals(runId)) {
                arrivals.putIfAbsent(event.seq(), event.arrivedNanos());
            }
        }
        return arrivals;
    }

    /** Whether every one of the runs has its last event here. */
    boolean sawEnd(Set<String> runIds) {
        Map<String, RunView> views = runs();
        for (String runId : runIds) {
            RunView view = views.get(runId);
            if (view == null || !view.ended()) {
                return false;
            }
        }
        return true;
    }

    /** The run ids of {@code agent_started} events received (the acknowledged messages), with their frames. */
    Map<String, JsonNode> started() {
        Map<String, JsonNode> started = new LinkedHashMap<>();
        for (Received event : events()) {
            if (EventType.AGENT_STARTED.equals(event.type())) {
                started.putIfAbsent(event.runId(), event.raw());
            }
        }
        return started;
    }
}
