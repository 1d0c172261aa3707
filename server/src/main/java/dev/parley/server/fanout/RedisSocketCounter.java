package dev.parley.server.fanout;

import dev.parley.server.redis.RedisConnections;
import dev.parley.server.redis.RedisUnavailableException;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts each user's sockets across every instance, in Redis.
 *
 * <p>Each user has a set of {@code <instance>/<connection>} members; each instance has an entry in one hash, the
 * time (Redis's clock) until which it vouches for its members, renewed every {@link #HEARTBEAT_EVERY}. A Lua script
 * counts and adds atomically, and drops the members of instances whose entry ran out: the sockets of an instance
 * that died stop counting {@link #INSTANCE_TTL} after its last heartbeat, without anyone cleaning up after it.
 *
 * <p>This instance's own sockets are also counted here in memory, which is what decides while Redis is unreachable
 * (the limit then holds per instance only), and what is written back to Redis when it returns: sockets opened
 * meanwhile are added, sockets closed meanwhile are removed. Thread-safe; each user's local set changes inside the
 * map's compute.
 */
public final class RedisSocketCounter implements SocketCounter, RedisConnections.Listener, AutoCloseable {
    static final Duration HEARTBEAT_EVERY = Duration.ofSeconds(5);
    static final Duration INSTANCE_TTL = Duration.ofSeconds(20);
    /** A user's set outlives its last change by this much; live instances write their members back every hour. */
    private static final Duration USER_KEY_TTL = Duration.ofHours(25);
    private static final Duration REWRITE_EVERY = Duration.ofHours(1);
    private static final Logger LOG = LoggerFactory.getLogger(RedisSocketCounter.class);

    private static final String NOW = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000) ";
    /** KEYS: user set, instances hash. ARGV: member, max, user key ttl ms; max < 0 only counts. */
    private static final String ACQUIRE = NOW
            + "local live = 0 local present = false "
            + "for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
            + "  local until_ = tonumber(redis.call('HGET', KEYS[2], string.match(m, '^(.-)/')) or '0') "
            + "  if until_ <= now then redis.call('SREM', KEYS[1], m) "
            + "  elseif m == ARGV[1] then present = true live = live + 1 "
            + "  else live = live + 1 end "
            + "end "
            + "local max = tonumber(ARGV[2]) "
            + "if max < 0 then return live end "
            + "if present then return 1 end "
            + "if live >= max then return 0 end "
            + "redis.call('SADD', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
            + "return 1";
    /** KEYS: instances hash. ARGV: instance id, ttl ms. Also forgets instances dead for a day. */
    private static final String HEARTBEAT = NOW
            + "redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2])) "
            + "local all = redis.call('HGETALL', KEYS[1]) "
            + "for i = 1, #all, 2 do if tonumber(all[i + 1]) < now - 86400000 then redis.call('HDEL', KEYS[1], all[i]) end end "
            + "return 1";

    private final RedisConnections redis;
    private final String instanceId = UUID.randomUUID().toString();
    private final String instancesKey;
    private final LocalSocketCounter local = new LocalSocketCounter();
    /** Sockets closed while Redis could not be told; removed from Redis when it returns. */
    private final ConcurrentHashMap<String, Set<String>> unreleased = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> heartbeat;
    private volatile Instant lastRewrite = Instant.now();

    /** Heartbeats run on {@code scheduler}, the process's housekeeping scheduler. */
    public RedisSocketCounter(RedisConnections redis, ScheduledExecutorService scheduler) {
        this.redis = redis;
        this.instancesKey = redis.key("instances");
        quietlyHeartbeat();
        this.heartbeat = scheduler.scheduleWithFixedDelay(this::beat, HEARTBEAT_EVERY.toMillis(),
                HEARTBEAT_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        redis.addListener(this);
    }

    private String userKey(String userId) {
        return redis.key("sockets", userId);
    }

    private String member(String connectionId) {
        return instanceId + "/" + connectionId;
    }

    @Override
    public boolean tryAcquire(String userId, String connectionId, int max) {
        if (!local.tryAcquire(userId, connectionId, max)) {
            return false;
        }
        try {
            Long result = redis.call(commands -> commands.eval(ACQUIRE, ScriptOutputType.INTEGER,
                    new String[] {userKey(userId), instancesKey}, member(connectionId), Integer.toString(max),
                    Long.toString(USER_KEY_TTL.toMillis())));
            if (result != null && result == 1L) {
                return true;
            }
            local.remove(userId, connectionId);
            return false;
        } catch (RedisUnavailableException e) {
            LOG.debug("Counting socket {} of user {} on this instance only: {}", connectionId, userId, e.getMessage());
            return true;
        }
    }

    @Override
    public void release(String userId, String connectionId) {
        if (!local.remove(userId, connectionId)) {
            return;
        }
        try {
            redis.async().srem(userKey(userId), member(connectionId)).whenComplete((removed, failure) -> {
                if (failure != null) {
                    remember(userId, connectionId);
                }
            });
        } catch (RedisUnavailableException | io.lettuce.core.RedisException e) {
            remember(userId, connectionId);
        }
    }

    private void remember(String userId, String connectionId) {
        unreleased.computeIfAbsent(userId, id -> ConcurrentHashMap.newKeySet()).add(connectionId);
    }

    @Override
    public int count(String userId) {
        try {
            Long live = redis.call(commands -> commands.eval(ACQUIRE, ScriptOutputType.INTEGER,
                    new String[] {userKey(userId), instancesKey}, "", "-1", "0"));
            return live == null ? 0 : live.intValue();
        } catch (RedisUnavailableException e) {
            return local.count(userId);
        }
    }

    /** This instance's own sockets of the user, whatever Redis says. */
    public int localCount(String userId) {
        return local.count(userId);
    }

    @Override
    public void recovered(Instant since) {
        heartbeatNow();
        rewrite();
    }

    /** Writes this instance's sockets back to Redis and removes the ones closed while it could not be told. */
    private void rewrite() {
        var commands = redis.async();
        List<io.lettuce.core.RedisFuture<?>> pending = new ArrayList<>();
        local.forEachUser((userId, sockets) -> {
            List<String> members = sockets.stream().map(this::member).toList();
            if (!members.isEmpty()) {
                String key = userKey(userId);
                pending.add(commands.sadd(key, members.toArray(String[]::new)));
                pending.add(commands.pexpire(key, USER_KEY_TTL.toMillis()));
            }
        });
        for (Map.Entry<String, Set<String>> entry : Map.copyOf(unreleased).entrySet()) {
            unreleased.remove(entry.getKey());
            List<String> members = entry.getValue().stream().map(this::member).toList();
            if (!members.isEmpty()) {
                pending.add(commands.srem(userKey(entry.getKey()), members.toArray(String[]::new)));
            }
        }
        for (io.lettuce.core.RedisFuture<?> future : pending) {
            redis.await(future);
        }
        lastRewrite = Instant.now();
    }

    private void beat() {
        quietlyHeartbeat();
        if (Instant.now().isAfter(lastRewrite.plus(REWRITE_EVERY)) && redis.isUp()) {
            try {
                rewrite();
            } catch (RuntimeException e) {
                LOG.debug("Writing the socket counts back failed: {}", e.toString());
            }
        }
    }

    private void heartbeatNow() {
        redis.call(commands -> commands.eval(HEARTBEAT, ScriptOutputType.INTEGER, new String[] {instancesKey},
                instanceId, Long.toString(INSTANCE_TTL.toMillis())));
    }

    private void quietlyHeartbeat() {
        try {
            heartbeatNow();
        } catch (RedisUnavailableException e) {
            LOG.debug("Socket count heartbeat skipped: {}", e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("Socket count heartbeat failed", e);
        }
    }

    /** Stops vouching for this instance's sockets: they stop counting at once on every instance. */
    @Override
    public void close() {
        heartbeat.cancel(true);
        try {
            redis.call(commands -> commands.hdel(instancesKey, instanceId));
        } catch (RuntimeException e) {
            LOG.debug("Could not withdraw this instance's socket counts: {}", e.toString());
        }
    }
}
