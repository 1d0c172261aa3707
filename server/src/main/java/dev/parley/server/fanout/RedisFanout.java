package dev.parley.server.fanout;

import dev.parley.protocol.EventType;
import dev.parley.server.redis.RedisConnections;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fan-out shared by every instance: Redis pub/sub for live delivery, the run event logs in the database for
 * anything pub/sub lost.
 *
 * <p><b>Why pub/sub and not Streams.</b> Every run event is written to the run's log in the shared database before it
 * is published, so a durable copy already exists; what the bus must add is speed. Pub/sub costs one {@code PUBLISH}
 * per event and one {@code SUBSCRIBE} per user with sockets here, keeps nothing in Redis memory, and needs no
 * trimming. Its weakness is loss: a message published while an instance's subscription is reconnecting, or while the
 * publisher cannot reach Redis, is gone. Streams ({@code XADD} per user, {@code XREAD} from the last id) would replay
 * the first case, but not the second (a publisher that cannot reach Redis cannot {@code XADD} either), nor a Redis
 * restart without persistence, so the database would still be needed to be lossless; and a blocking {@code XREAD}
 * over the streams of thousands of users, re-issued for every change of that set, costs more than pub/sub on the hot
 * path. So this fan-out uses pub/sub and recovers every loss from the log:
 * <ul>
 *   <li><b>Gap</b>: per user and run, it remembers the last {@code seq} delivered here; an event further ahead
 *       (a lost message) is held while the missing ones are read from the log, then all go out in order;</li>
 *   <li><b>Outage</b>: when Redis comes back (Lettuce reconnects and the subscriptions are renewed), the events logged
 *       since the outage began, minus {@link #CLOCK_MARGIN}, for every user with sockets here, are delivered after
 *       what each socket already has; while Redis is down the same catch-up runs about once a second, so the other
 *       instances' events still arrive, later;</li>
 *   <li><b>Lost publishes</b>: an instance that was cut off tells the others when it is back ({@code resync}), and
 *       they catch up on the window it names, since the events it published meanwhile never reached them;</li>
 *   <li><b>Quiet runs</b>: a run of another instance that has gone quiet before its last event arrived here is
 *       checked against its log after {@link #QUIET_CHECK}, then less and less often: this finds what an instance
 *       logged and never published because it died in between (its run's last event, say), which no later event
 *       would expose.</li>
 * </ul>
 * Events of runs on this instance are delivered to its own sockets directly (as {@link LocalFanout} does), whether or
 * not Redis is up, and each instance ignores its own messages on the bus. The per-run cursors also drop any event
 * already delivered, so recovery never sends an event twice to the same socket through this fan-out.
 *
 * <p>Stop requests go to every instance on the {@link ControlChannel}; whichever runs the run stops it (the run
 * service keeps a flag in the database as well, for when Redis is down). Events travel on the bus as
 * {@link BusMessage}s.
 *
 * <p>State: {@link #users} holds a {@link UserState} per user with at least one subscriber here; each is its own lock,
 * guarding its cursors, and subscribers are called while it is held, which is what keeps each run's events in
 * {@code seq} order. Fetches from the database run on {@link #backfills}, never on Redis's I/O thread.
 *
 * <p>It is one class of over 500 lines because live delivery and every recovery path above (gap fill, outage
 * catch-up, resync, quiet-run checks, pruning) read and advance the same per-run cursors under the same per-user lock,
 * and call each other while holding it; that shared lock is what keeps each socket's events whole and in order.
 */
public final class RedisFanout implements Fanout, RedisConnections.Listener {
    /** How far back a catch-up reaches before the outage began, for clocks that differ between instances. */
    static final Duration CLOCK_MARGIN = Duration.ofSeconds(5);
    /** Cursors of ended runs are forgotten after this long idle; catch-up windows never reach further back. */
    static final Duration CURSOR_IDLE = Duration.ofMinutes(15);
    private static final Duration BACKFILL_GIVE_UP = Duration.ofSeconds(30);
    /** A run of another instance that has been quiet this long is checked against its log, then less and less often. */
    static final Duration QUIET_CHECK = Duration.ofSeconds(3);
    private static final Duration QUIET_CHECK_MAX = Duration.ofSeconds(30);
    private static final Duration UPKEEP_EVERY = Duration.ofSeconds(1);
    private static final Logger LOG = LoggerFactory.getLogger(RedisFanout.class);

    private final RedisConnections redis;
    private final EventLogReader log;
    private final Clock clock;
    private final String instanceId = UUID.randomUUID().toString();
    private final ConcurrentHashMap<String, UserState> users = new ConcurrentHashMap<>();
    private final Object membership = new Object();
    private final ExecutorService backfills = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("parley-fanout-backfill-", 0).factory());
    private final java.util.concurrent.ScheduledExecutorService upkeep =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("parley-fanout").factory());
    private final ControlChannel control;
    private final AtomicLong recovered = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private volatile Instant lastPoll;
    private volatile Instant lastPrune;

    /** One user's subscribers here and, per run, how far delivery has got. Guarded by itself. */
    private static final class UserState {
        final String userId;
        final CopyOnWriteArrayList<Consumer<Envelope>> subscribers = new CopyOnWriteArrayList<>();
        final Map<String, Cursor> cursors = new HashMap<>();
        /** Set while an outage is not yet caught up: first sights of runs wait for the catch-up. */
        boolean recovering;
        RedisConnections.Subscription channel;

        UserState(String userId, boolean recovering) {
            this.userId = userId;
            this.recovering = recovering;
        }
    }

    /** Delivery of one run to one user's subscribers here. */
    private static final class Cursor {
        long lastSeq;
        boolean terminal;
        boolean filling;
        /** The run publishes from this instance: its events cannot go missing here. */
        boolean local;
        Instant touched;
        Instant checked;
        Duration nextCheck = QUIET_CHECK;
        final TreeMap<Long, Envelope> held = new TreeMap<>();
    }

    public RedisFanout(RedisConnections redis, EventLogReader log, Clock clock) {
        this.redis = redis;
        this.log = log;
        this.clock = clock;
        this.lastPrune = clock.instant();
        this.control = new ControlChannel(redis, instanceId, this::resync);
        redis.addListener(this);
        upkeep.scheduleWithFixedDelay(this::quietlyUpkeep, UPKEEP_EVERY.toMillis(), UPKEEP_EVERY.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /** The channel of one user's events. */
    private String channel(String userId) {
        return redis.key("events", userId);
    }

    @Override
    public void publish(String userId, Envelope event) {
        UserState state = users.get(userId);
        if (state != null) {
            synchronized (state) {
                accept(state, event, true);
            }
        }
        if (!redis.publish(channel(userId), new BusMessage(instanceId, event).encode())) {
            dropped.incrementAndGet();
        }
    }

    @Override
    public Subscription subscribe(String userId, Consumer<Envelope> subscriber) {
        Consumer<Envelope> registration = subscriber::accept;
        RedisConnections.Subscription pending = null;
        synchronized (membership) {
            UserState state = users.computeIfAbsent(userId,
                    id -> new UserState(id, redis.downSince().isPresent()));
            state.subscribers.add(registration);
            if (state.channel == null) {
                state.channel = redis.subscribe(channel(userId), message -> onMessage(userId, message));
                pending = state.channel;
            }
        }
        if (pending != null) {
            awaitSubscribed(userId, pending);
        }
        return () -> unsubscribe(userId, registration);
    }

    /** Waits for Redis to confirm the subscription: events published after {@code subscribe} returns must arrive. */
    private void awaitSubscribed(String userId, RedisConnections.Subscription subscription) {
        try {
            subscription.ready().get(redis.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            // Redis is down: the catch-up that follows its return (and the polling meanwhile) delivers instead.
            LOG.debug("Events of user {} will come from the database until Redis is back: {}", userId, e.toString());
            markRecovering(userId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void markRecovering(String userId) {
        UserState state = users.get(userId);
        if (state != null) {
            synchronized (state) {
                state.recovering = true;
            }
        }
    }

    private void unsubscribe(String userId, Consumer<Envelope> registration) {
        synchronized (membership) {
            UserState state = users.get(userId);
            if (state == null || !state.subscribers.remove(registration)) {
                return;
            }
            if (state.subscribers.isEmpty()) {
                users.remove(userId, state);
                if (state.channel != null) {
                    state.channel.close();
                }
            }
        }
    }

    @Override
    public void requestStop(String runId) {
        control.requestStop(runId);
    }

    @Override
    public Subscription onStopRequest(Consumer<String> handler) {
        return control.onStopRequest(handler);
    }

    @Override
    public String describe() {
        return redis.isUp() ? "up" : "down";
    }

    /** Whether the control channel's subscription is confirmed (stop requests of other instances reach this one). */
    boolean controlListening() {
        return control.listening();
    }

    /** Events recovered from the database (gaps and outages); for diagnostics and tests. */
    public long recoveredEvents() {
        return recovered.get();
    }

    /** Events this instance could not put on the bus (Redis was down); others fetch them from the database. */
    public long unpublishedEvents() {
        return dropped.get();
    }

    // ---- delivery; every method below that touches a UserState is called with its lock held ----

    /**
     * Takes one event for the user's subscribers here. {@code local}: published by this instance, whose own runs'
     * events always come complete and in order, so they never wait for a catch-up.
     */
    private void accept(UserState state, Envelope event, boolean local) {
        if (!event.isRunEvent()) {
            deliver(state, event);
            return;
        }
        Cursor cursor = state.cursors.computeIfAbsent(event.runId(), id -> new Cursor());
        cursor.touched = clock.instant();
        cursor.nextCheck = QUIET_CHECK;
        cursor.local |= local;
        if (event.seq() <= cursor.lastSeq) {
            return; // delivered already
        }
        if (cursor.filling) {
            cursor.held.put(event.seq(), event);
            return;
        }
        boolean firstSight = cursor.lastSeq == 0;
        if (firstSight && state.recovering && !local) {
            cursor.held.put(event.seq(), event); // the catch-up decides where this run starts
            return;
        }
        if (firstSight && !local && event.seq() > 1) {
            // What came before went by while this instance could not hear it (its subscription was being renewed
            // after an outage, after the catch-up had run) or before this user's first socket here: read it from
            // the log, so that the run arrives whole.
            cursor.held.put(event.seq(), event);
            startFill(state, event.runId(), cursor);
            return;
        }
        if (firstSight || event.seq() == cursor.lastSeq + 1) {
            advance(state, cursor, event);
            return;
        }
        cursor.held.put(event.seq(), event);
        startFill(state, event.runId(), cursor);
    }

    /** Delivers the next event of a run, then whatever held events now follow on without a gap. */
    private void advance(UserState state, Cursor cursor, Envelope event) {
        cursor.lastSeq = event.seq();
        cursor.terminal |= EventType.isTerminal(event.type());
        deliver(state, event);
        while (!cursor.held.isEmpty() && cursor.held.firstKey() <= cursor.lastSeq + 1) {
            Envelope next = cursor.held.pollFirstEntry().getValue();
            if (next.seq() == cursor.lastSeq + 1) {
                cursor.lastSeq = next.seq();
                cursor.terminal |= EventType.isTerminal(next.type());
                deliver(state, next);
            }
        }
    }

    private void deliver(UserState state, Envelope event) {
        for (Consumer<Envelope> subscriber : state.subscribers) {
            try {
                subscriber.accept(event);
            } catch (RuntimeException e) {
                LOG.error("A subscriber of user {} failed on a {} event", state.userId, event.type(), e);
            }
        }
    }

    private void startFill(UserState state, String runId, Cursor cursor) {
        cursor.filling = true;
        backfills.execute(() -> fill(state, runId, clock.instant().plus(BACKFILL_GIVE_UP)));
    }

    /**
     * Reads the run's log after the cursor and delivers it, then the held events; repeats while the log yields more.
     * Gives up on a gap the log cannot fill (events past retention) and goes on from the held events.
     */
    private void fill(UserState state, String runId, Instant giveUpAt) {
        while (true) {
            long from;
            synchronized (state) {
                Cursor cursor = state.cursors.get(runId);
                if (cursor == null) {
                    return;
                }
                from = cursor.lastSeq;
            }
            List<Envelope> events;
            try {
                events = log.after(runId, from);
            } catch (RuntimeException e) {
                if (clock.instant().isAfter(giveUpAt)) {
                    LOG.warn("Could not read the log of run {} to fill a gap: {}", runId, e.toString());
                    events = List.of();
                } else {
                    pause(Duration.ofMillis(500));
                    continue;
                }
            }
            synchronized (state) {
                Cursor cursor = state.cursors.get(runId);
                if (cursor == null) {
                    return;
                }
                for (Envelope event : events) {
                    if (event.seq() == cursor.lastSeq + 1) {
                        recovered.incrementAndGet();
                        advance(state, cursor, event);
                    }
                }
                if (cursor.held.isEmpty()) {
                    cursor.filling = false;
                    return;
                }
                if (events.isEmpty() || cursor.lastSeq == from) {
                    // The log cannot fill the gap: go on from what was held rather than hold it forever.
                    Envelope next = cursor.held.pollFirstEntry().getValue();
                    LOG.warn("Run {} of user {}: events {}..{} are not in the log; delivering from {}", runId,
                            state.userId, cursor.lastSeq + 1, next.seq() - 1, next.seq());
                    cursor.filling = false;
                    advance(state, cursor, next);
                    return;
                }
            }
        }
    }

    private static void pause(Duration duration) {
        try {
            Thread.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    // ---- the bus ----

    private void onMessage(String userId, String message) {
        Optional<BusMessage> decoded = BusMessage.decode(message);
        if (decoded.isEmpty()) {
            LOG.warn("Ignoring a malformed message on the events channel of user {}", userId);
            return;
        }
        if (decoded.get().instanceId().equals(instanceId)) {
            return; // this instance's own event, delivered here already
        }
        UserState state = users.get(userId);
        if (state != null) {
            synchronized (state) {
                accept(state, decoded.get().event(), false);
            }
        }
    }

    /** Another instance was cut off: the events it logged since {@code since} never reached the bus. */
    private void resync(Instant since) {
        backfills.execute(() -> {
            try {
                catchUp(since, false);
            } catch (RuntimeException e) {
                LOG.warn("Catching up on events another instance could not publish failed: {}", e.toString());
            }
        });
    }

    // ---- outages ----

    @Override
    public void recovered(Instant since) {
        catchUp(since, true);
        control.announceResync(since);
        pruneCursors();
    }

    @Override
    public void stillDown(Instant since) {
        Instant previous = lastPoll;
        Instant from = previous == null || previous.isBefore(since) ? since : previous;
        Instant now = clock.instant();
        catchUp(from, false);
        lastPoll = now;
    }

    /**
     * Delivers, for every user with subscribers here, the events logged since {@code since} (less the clock margin)
     * that this instance has not delivered; {@code endRecovery} then lets first sights of runs through again.
     */
    void catchUp(Instant since, boolean endRecovery) {
        Instant now = clock.instant();
        Instant from = since.minus(CLOCK_MARGIN);
        Instant floor = now.minus(CURSOR_IDLE).plus(CLOCK_MARGIN);
        if (from.isBefore(floor)) {
            from = floor;
        }
        List<String> userIds = List.copyOf(users.keySet());
        List<EventLogReader.Recent> recent = userIds.isEmpty() ? List.of() : log.since(userIds, from);
        for (EventLogReader.Recent run : recent) {
            UserState state = users.get(run.userId());
            if (state == null) {
                continue;
            }
            synchronized (state) {
                Cursor cursor = state.cursors.computeIfAbsent(run.runId(), id -> new Cursor());
                cursor.touched = now;
                if (cursor.filling) {
                    continue; // a fill in progress reads to the end of the log anyway
                }
                if (cursor.lastSeq == 0) {
                    cursor.lastSeq = run.firstSeq() - 1; // a run not seen here: start where the window starts
                }
                cursor.filling = true;
            }
            fill(state, run.runId(), now.plus(BACKFILL_GIVE_UP));
        }
        if (endRecovery) {
            for (UserState state : users.values()) {
                synchronized (state) {
                    if (!state.recovering) {
                        continue;
                    }
                    state.recovering = false;
                    for (Map.Entry<String, Cursor> entry : new ArrayList<>(state.cursors.entrySet())) {
                        Cursor cursor = entry.getValue();
                        if (cursor.filling || cursor.held.isEmpty()) {
                            continue;
                        }
                        if (cursor.lastSeq == 0 && cursor.held.firstKey() > 1) {
                            // A run first seen during the outage that the catch-up's query did not return: what it
                            // published before the first event held here reached no one here. Read it from its log.
                            startFill(state, entry.getKey(), cursor);
                            continue;
                        }
                        Envelope first = cursor.held.pollFirstEntry().getValue();
                        accept(state, first, false);
                    }
                }
            }
        }
    }

    private void quietlyUpkeep() {
        try {
            checkQuietRuns();
            Instant now = clock.instant();
            if (now.isAfter(lastPrune.plus(Duration.ofMinutes(1)))) {
                pruneCursors();
            }
        } catch (RuntimeException e) {
            LOG.warn("Fan-out upkeep failed", e);
        }
    }

    /**
     * Reads the log of every run of another instance that went quiet before its last event arrived here. This is
     * what finds the events of an instance that wrote them and died before (or while) publishing them, when no
     * later event exposes the gap: the last events of a run, above all its end.
     */
    private void checkQuietRuns() {
        Instant now = clock.instant();
        for (UserState state : users.values()) {
            synchronized (state) {
                for (Map.Entry<String, Cursor> entry : state.cursors.entrySet()) {
                    Cursor cursor = entry.getValue();
                    if (cursor.terminal || cursor.filling || cursor.local || cursor.lastSeq == 0 || cursor.touched == null) {
                        continue;
                    }
                    Instant since = cursor.checked != null && cursor.checked.isAfter(cursor.touched)
                            ? cursor.checked : cursor.touched;
                    if (since.plus(cursor.nextCheck).isAfter(now)) {
                        continue;
                    }
                    cursor.checked = now;
                    Duration doubled = cursor.nextCheck.multipliedBy(2);
                    cursor.nextCheck = doubled.compareTo(QUIET_CHECK_MAX) > 0 ? QUIET_CHECK_MAX : doubled;
                    startFill(state, entry.getKey(), cursor);
                }
            }
        }
    }

    /** Forgets cursors of runs that ended long ago, and of runs idle far longer than any run may last. */
    private void pruneCursors() {
        Instant now = clock.instant();
        lastPrune = now;
        for (UserState state : users.values()) {
            synchronized (state) {
                state.cursors.values().removeIf(cursor -> !cursor.filling && cursor.touched != null
                        && cursor.touched.isBefore(now.minus(cursor.terminal ? CURSOR_IDLE : CURSOR_IDLE.multipliedBy(8))));
            }
        }
    }

    @Override
    public void close() {
        upkeep.shutdownNow();
        control.close();
        synchronized (membership) {
            for (UserState state : users.values()) {
                if (state.channel != null) {
                    state.channel.close();
                }
            }
            users.clear();
        }
        backfills.shutdownNow();
    }
}
