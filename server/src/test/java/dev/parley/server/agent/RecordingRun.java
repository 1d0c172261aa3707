package dev.parley.server.agent;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.parley.protocol.EventType;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The run an agent works on in these tests: it records every event and the usage the agent reports, and lets a test
 * wait for an event. Stands in for the run machinery, which stores and fans out the same calls.
 */
final class RecordingRun implements AgentRun {
    record Event(String agent, String type, ObjectNode data) {
    }

    private final String userId;
    private final String request;
    private final List<Turn> history;
    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile Usage usage = Usage.ZERO;

    RecordingRun(String userId, String request) {
        this(userId, request, List.of());
    }

    RecordingRun(String userId, String request, List<Turn> history) {
        this.userId = userId;
        this.request = request;
        this.history = history;
    }

    @Override
    public String runId() {
        return "run-1";
    }

    @Override
    public String threadId() {
        return "thread-1";
    }

    @Override
    public String userId() {
        return userId;
    }

    @Override
    public String request() {
        return request;
    }

    @Override
    public List<Turn> history() {
        return history;
    }

    @Override
    public void emit(String agentName, String type, ObjectNode data) {
        events.add(new Event(agentName, type, data.deepCopy()));
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void addUsage(Usage more) {
        usage = usage.plus(more);
    }

    List<Event> events() {
        return List.copyOf(events);
    }

    List<Event> events(String type) {
        return events.stream().filter(e -> e.type().equals(type)).toList();
    }

    Usage usage() {
        return usage;
    }

    /** The text of every {@code partial_result}, joined in order. */
    String streamedText() {
        return events(EventType.PARTIAL_RESULT).stream().map(e -> e.data().path("delta").asText())
                .collect(Collectors.joining());
    }

    /** Waits until an event matches, and returns it. */
    Event await(Predicate<Event> match, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (true) {
                for (Event event : events) {
                    if (match.test(event)) {
                        return event;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no matching event within " + timeout + "; events: " + events);
                }
                changed.await(left, TimeUnit.NANOSECONDS);
            }
        } finally {
            lock.unlock();
        }
    }
}
