package dev.parley.server.fanout;

/**
 * Counts the open sockets of each user for the per-user limit. The local implementation counts this instance's
 * sockets; a shared one (Redis) counts across instances, and must let the entries of an instance that died age out.
 */
public interface SocketCounter {
    /**
     * Counts socket {@code connectionId} for the user unless the user already has {@code max} sockets.
     *
     * @return true when the socket was counted; false when the limit is reached
     */
    boolean tryAcquire(String userId, String connectionId, int max);

    /** Stops counting a socket; releasing one that is not counted is harmless. */
    void release(String userId, String connectionId);

    /** The user's counted sockets. */
    int count(String userId);

    /**
     * Says that a counted socket is still open; called about once per heartbeat interval. A shared implementation
     * keeps each entry alive with it, so that the entries of an instance that died expire; the local one needs it not.
     */
    default void refresh(String userId, String connectionId) {
    }
}
