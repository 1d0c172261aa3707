package dev.parley.server;

import dev.parley.server.auth.InMemoryLoginThrottle;
import dev.parley.server.auth.LocalRevocations;
import dev.parley.server.auth.LoginThrottle;
import dev.parley.server.auth.RedisLoginThrottle;
import dev.parley.server.auth.RedisRevocations;
import dev.parley.server.auth.Revocations;
import dev.parley.server.config.Config;
import dev.parley.server.db.Database;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.fanout.LocalFanout;
import dev.parley.server.fanout.LocalSocketCounter;
import dev.parley.server.fanout.RedisFanout;
import dev.parley.server.fanout.RedisSocketCounter;
import dev.parley.server.fanout.SocketCounter;
import dev.parley.server.redis.RedisConnections;
import dev.parley.server.run.RunEventLog;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The parts that are shared across instances when Redis is configured (their local twins otherwise), and the Redis
 * client itself (null without Redis).
 */
record SharedParts(RedisConnections redis, Revocations revocations, LoginThrottle throttle, SocketCounter counter) {
    /** Opens Redis when it is configured; what must be closed goes on {@code parts}. */
    static SharedParts start(Config config, Database database, Clock clock, ScheduledExecutorService scheduler,
                             StartedParts parts) {
        if (config.storage().redisUrl().isEmpty()) {
            return new SharedParts(null, new LocalRevocations(), new InMemoryLoginThrottle(clock),
                    new LocalSocketCounter());
        }
        RedisConnections redis = parts.add("redis",
                RedisConnections.open(config.storage().redisUrl().get(), config.redis(), clock));
        return new SharedParts(redis, parts.add("revocations", new RedisRevocations(redis, database.sql(), clock)),
                new RedisLoginThrottle(redis, clock), parts.add("socket counter", new RedisSocketCounter(redis, scheduler)));
    }

    /** The fan-out: {@link LocalFanout}, or {@link RedisFanout} when Redis is configured. */
    Fanout fanout(RunEventLog log, Clock clock) {
        return redis == null ? new LocalFanout() : new RedisFanout(redis, log, clock);
    }
}
