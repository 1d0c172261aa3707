package dev.parley.server.gateway;

import dev.parley.server.config.Config;
import dev.parley.server.fanout.Fanout;
import dev.parley.server.run.RunService;
import java.time.Clock;
import java.util.concurrent.ScheduledExecutorService;

/**
 * What every socket of the endpoint shares: limits, the clock, the one scheduler for delayed work (forced closes),
 * the registry of open sockets, the message handlers, the fan-out and the metrics.
 */
record SocketRuntime(Config.Socket config, Clock clock, ScheduledExecutorService scheduler, SocketRegistry registry,
                     ClientMessages messages, Fanout fanout, RunService runs, SocketMetrics metrics) {
}
