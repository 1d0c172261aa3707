package dev.parley.server.gateway;

import dev.parley.server.fanout.SocketCounter;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The open sockets of this instance, by connection id and by user, and the per-user socket limit. A handshake
 * reserves its slot in the {@link SocketCounter} before the upgrade (so that a refusal is an HTTP 429) and the
 * socket takes the reservation over when it opens; a reservation that never turned into a socket (the upgrade failed
 * after the check) is released by {@link #sweepReservations}. Thread-safe.
 */
final class SocketRegistry {
    static final Duration RESERVATION_TTL = Duration.ofSeconds(30);

    private record Reservation(String userId, long reservedNanos) {
    }

    private final SocketCounter counter;
    private final int maxPerUser;
    private final ConcurrentHashMap<String, SocketSession> sessions = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Set<SocketSession>> byUser = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Reservation> reservations = new ConcurrentHashMap<>();

    SocketRegistry(SocketCounter counter, int maxPerUser) {
        this.counter = counter;
        this.maxPerUser = maxPerUser;
    }

    /** Reserves a socket slot for the user; false when the user is at the limit. */
    boolean reserve(String userId, String connectionId) {
        // Sockets whose connection died without a close frame still hold slots until noticed: notice them now.
        for (SocketSession session : sessionsOf(userId)) {
            if (session.lostWithoutClose()) {
                session.connectionLost();
            }
        }
        if (!counter.tryAcquire(userId, connectionId, maxPerUser)) {
            return false;
        }
        reservations.put(connectionId, new Reservation(userId, System.nanoTime()));
        return true;
    }

    /** Gives a reservation back (the handshake did not go ahead). */
    void unreserve(String userId, String connectionId) {
        if (reservations.remove(connectionId) != null) {
            counter.release(userId, connectionId);
        }
    }

    /** Registers an opened socket; it takes over its handshake's reservation. */
    void add(SocketSession session) {
        reservations.remove(session.connectionId);
        sessions.put(session.connectionId, session);
        byUser.computeIfAbsent(session.userId(), id -> ConcurrentHashMap.newKeySet()).add(session);
    }

    /** Unregisters a socket and frees its slot; removing twice is harmless. */
    void remove(SocketSession session) {
        if (sessions.remove(session.connectionId, session)) {
            byUser.computeIfPresent(session.userId(), (id, set) -> {
                set.remove(session);
                return set.isEmpty() ? null : set;
            });
        }
        counter.release(session.userId(), session.connectionId);
    }

    /** Tells the counter that an open socket is still there. */
    void refresh(SocketSession session) {
        counter.refresh(session.userId(), session.connectionId);
    }

    List<SocketSession> sessionsOf(String userId) {
        Set<SocketSession> set = byUser.get(userId);
        return set == null ? List.of() : List.copyOf(set);
    }

    Collection<SocketSession> all() {
        return List.copyOf(sessions.values());
    }

    int size() {
        return sessions.size();
    }

    /** Releases reservations whose socket never opened. */
    void sweepReservations() {
        long now = System.nanoTime();
        reservations.forEach((connectionId, reservation) -> {
            if (now - reservation.reservedNanos() > RESERVATION_TTL.toNanos()) {
                unreserve(reservation.userId(), connectionId);
            }
        });
    }
}
