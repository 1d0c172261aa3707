package dev.parley.server.fanout;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/** Counts the sockets of this instance, per user. Each user's set changes atomically inside the map's compute. */
public final class LocalSocketCounter implements SocketCounter {
    private final ConcurrentHashMap<String, Set<String>> sockets = new ConcurrentHashMap<>();

    @Override
    public boolean tryAcquire(String userId, String connectionId, int max) {
        boolean[] counted = {false};
        sockets.compute(userId, (id, set) -> {
            Set<String> target = set == null ? new HashSet<>() : set;
            if (target.contains(connectionId) || target.size() < max) {
                target.add(connectionId);
                counted[0] = true;
            }
            return target.isEmpty() ? null : target;
        });
        return counted[0];
    }

    @Override
    public void release(String userId, String connectionId) {
        remove(userId, connectionId);
    }

    /** Releases the socket; false when it was not counted. */
    boolean remove(String userId, String connectionId) {
        boolean[] removed = {false};
        sockets.computeIfPresent(userId, (id, set) -> {
            removed[0] = set.remove(connectionId);
            return set.isEmpty() ? null : set;
        });
        return removed[0];
    }

    @Override
    public int count(String userId) {
        int[] count = {0};
        sockets.computeIfPresent(userId, (id, set) -> {
            count[0] = set.size();
            return set;
        });
        return count[0];
    }

    /** Hands each user with sockets, and the set of them, to {@code action}, as the map's iteration sees them. */
    void forEachUser(BiConsumer<String, Set<String>> action) {
        sockets.forEach(action);
    }
}
