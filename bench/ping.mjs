// Ping round trips through Parley (authentication, JSON, routing, send queue) against a bare Helidon echo endpoint,
// measured alternately in one run with the same client and the same connection count.
//
//   node bench/ping.mjs --parley http://127.0.0.1:P1 --parley-pid PID1 --echo ws://127.0.0.1:P2/ws --echo-pid PID2
//                       [--connections 100] [--warmup 5] [--duration 10] [--rounds 3] [--clk-tck 100] [--out f.json]
//
// Each connection runs a closed loop: send {"type":"ping"}, wait for the answer (Parley's pong, the echo's copy),
// send again; so one message is in flight per connection and every answer is matched to its own send. After a
// warm-up of each target, the rounds alternate echo, parley, echo, parley, ... so that a change in the machine's
// load hits both alike. Server CPU per message comes from /proc/<pid>/stat (user + system) over each window.
import {
  Samples, deadline, fmt, log, loginMany, machineBusyTicks, nowMs, num, openMany, parseArgs, printTable, procCpuTicks,
  sleep, str, writeResult,
} from './lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const connections = num(args, 'connections', 100);
const warmup = num(args, 'warmup', 5);
const duration = num(args, 'duration', 10);
const rounds = num(args, 'rounds', 3);
const clkTck = num(args, 'clk-tck', 100);
const label = str(args, 'label', 'ping');
const PING = '{"type":"ping"}';

deadline(120 + connections / 10 + 2 * (warmup + 5) + 2 * rounds * (duration + 10), 'ping');

const targets = [];
if (args.echo) targets.push({ name: 'bare echo', url: str(args, 'echo'), pid: num(args, 'echo-pid'), prefix: '{"type":"ping"' });
if (args.parley) {
  const base = str(args, 'parley');
  const tokens = await loginMany(base, connections, `${label}-user`);
  targets.push({
    name: 'parley', url: `${base.replace(/^http/, 'ws')}/ws`, pid: num(args, 'parley-pid'), tokens, prefix: '{"type":"pong"',
  });
}
if (targets.length === 0) throw new Error('give --parley and/or --echo');

for (const target of targets) {
  const specs = Array.from({ length: connections }, (_, i) => ({ url: target.url, token: target.tokens?.[i] }));
  const opened = await openMany(specs, 200);
  if (opened.failed) throw new Error(`${target.name}: ${opened.failed} handshakes failed ${JSON.stringify(opened.failures)}`);
  target.sockets = opened.sockets;
  target.rounds = [];
}

/** One closed-loop window over every socket of the target; returns counts, latencies and CPU. */
async function measure(target, seconds, record) {
  const samples = new Samples(1 << 21);
  let running = true;
  let replies = 0;
  let others = 0;
  let inFlight = 0;
  let drained;
  const drainedPromise = new Promise((resolve) => {
    drained = resolve;
  });
  const handlers = [];
  for (const ws of target.sockets) {
    let sentAt = 0;
    const onMessage = (data) => {
      const t = nowMs();
      // A server heartbeat is not an answer (it only comes after a silence, so not inside a window).
      if (data.toString('latin1', 0, 19) === '{"type":"heartbeat"') return;
      inFlight--;
      if (!running) {
        if (inFlight === 0) drained();
        return;
      }
      if (data.toString('latin1', 0, target.prefix.length) === target.prefix) {
        replies++;
        samples.add(t - sentAt);
      } else {
        others++;
      }
      sentAt = nowMs();
      inFlight++;
      ws.send(PING);
    };
    ws.on('message', onMessage);
    handlers.push([ws, onMessage, () => {
      sentAt = nowMs();
      inFlight++;
      ws.send(PING);
    }]);
  }
  const cpu0 = procCpuTicks(target.pid);
  const machine0 = machineBusyTicks();
  const client0 = process.cpuUsage();
  const t0 = nowMs();
  for (const [, , start] of handlers) start();
  await sleep(seconds * 1000);
  running = false;
  const t1 = nowMs();
  const cpu1 = procCpuTicks(target.pid);
  const machine1 = machineBusyTicks();
  const client1 = process.cpuUsage(client0);
  await Promise.race([drainedPromise, sleep(10_000)]);
  for (const [ws, onMessage] of handlers) ws.off('message', onMessage);
  if (inFlight !== 0) log(`${target.name}: ${inFlight} answers still missing 10 s after the window`);
  const elapsed = (t1 - t0) / 1000;
  const serverCpuSeconds = (cpu1 - cpu0) / clkTck;
  const clientCpuSeconds = (client1.user + client1.system) / 1e6;
  const result = {
    replies, others, elapsed, msgsPerSecond: replies / elapsed, ...samples.summary(),
    serverCpuPercent: (100 * serverCpuSeconds) / elapsed,
    serverCpuMicrosPerMsg: (serverCpuSeconds * 1e6) / Math.max(1, replies),
    clientCpuPercent: (100 * clientCpuSeconds) / elapsed,
    // Everything else on the machine (other processes, the kernel's share not charged to these two): interference.
    otherCpuPercent: (100 * ((machine1 - machine0) / clkTck - serverCpuSeconds - clientCpuSeconds)) / elapsed,
    missing: inFlight,
  };
  if (record) {
    log(`${target.name}: ${fmt(result.msgsPerSecond, 0)} msg/s, p50 ${fmt(result.p50, 2)} ms, p99 ${fmt(result.p99, 2)} ms, ` +
      `server ${fmt(result.serverCpuPercent, 0)}% (${fmt(result.serverCpuMicrosPerMsg)} µs/msg), ` +
      `client ${fmt(result.clientCpuPercent, 0)}%, rest of the machine ${fmt(result.otherCpuPercent, 0)}%` +
      (others ? `, ${others} other frames` : ''));
  }
  return result;
}

for (const target of targets) {
  log(`${target.name}: warm-up ${warmup} s`);
  await measure(target, warmup, false);
}
for (let round = 0; round < rounds; round++) {
  // Alternate the order, so that load that builds up during a round does not always hit the same server.
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  for (const target of order) {
    target.rounds.push(await measure(target, duration, true));
  }
}
for (const target of targets) for (const ws of target.sockets) ws.terminate();

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
// A round is clean when the rest of the machine (other processes) used under --quiet-percent of one CPU meanwhile.
const quietPercent = num(args, 'quiet-percent', 20);
const isClean = (x) => x.otherCpuPercent < quietPercent;
const summarize = (r) => ({
  rounds: r.length, msgsPerSecond: median(r.map((x) => x.msgsPerSecond)), p50: median(r.map((x) => x.p50)),
  p99: median(r.map((x) => x.p99)), p999: median(r.map((x) => x.p999)),
  serverCpuPercent: median(r.map((x) => x.serverCpuPercent)),
  serverCpuMicrosPerMsg: median(r.map((x) => x.serverCpuMicrosPerMsg)),
  clientCpuPercent: median(r.map((x) => x.clientCpuPercent)),
});
const rows = [];
const summary = {};
for (const target of targets) {
  const r = target.rounds;
  const all = summarize(r);
  const clean = summarize(r.filter(isClean));
  summary[target.name] = { all, clean };
  const variants = clean.rounds === all.rounds ? [[`all ${all.rounds} (all clean)`, all]]
    : [[`all ${all.rounds}`, all], [`clean ${clean.rounds}`, clean]];
  for (const [which, x] of variants) {
    rows.push([
      target.name, which, fmt(x.msgsPerSecond, 0), fmt(x.p50, 2), fmt(x.p99, 2), fmt(x.p999, 2),
      fmt(x.serverCpuPercent, 0), fmt(x.serverCpuMicrosPerMsg, 1), fmt(x.clientCpuPercent, 0),
    ]);
  }
}
// Ratios from pairs of rounds (round i of each server, measured back to back) in which both were clean.
let pairRatios = [];
let cpuRatio = NaN;
let ratioAll = NaN;
if (summary.parley && summary['bare echo']) {
  const echo = targets.find((t) => t.name === 'bare echo').rounds;
  const parley = targets.find((t) => t.name === 'parley').rounds;
  pairRatios = parley.map((p, i) => (isClean(p) && isClean(echo[i]) ? p.msgsPerSecond / echo[i].msgsPerSecond : NaN))
    .filter(Number.isFinite);
  ratioAll = median(parley.map((p, i) => p.msgsPerSecond / echo[i].msgsPerSecond));
  cpuRatio = summary['bare echo'].all.serverCpuMicrosPerMsg / summary.parley.all.serverCpuMicrosPerMsg;
}
const ratio = median(pairRatios);
writeResult(args.out, {
  benchmark: 'ping', label, connections, warmup, duration, rounds, quietPercent,
  targets: Object.fromEntries(targets.map((t) => [t.name, t.rounds])), summary, pairRatios, ratio, ratioAll, cpuRatio,
});
printTable(`Ping round trips (${label}): ${connections} connections, closed loop, ${rounds} rounds of ${duration} s per ` +
  `server after a ${warmup} s warm-up, alternating; medians over the rounds`,
  ['server', 'rounds', 'msg/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'server CPU %', 'server CPU µs/msg', 'client CPU %'],
  rows);
console.log('per round (msg/s, rest of the machine in % of one CPU): ' + targets.map((t) => `${t.name} ` +
  t.rounds.map((x) => `${fmt(x.msgsPerSecond, 0)} (${fmt(x.otherCpuPercent, 0)}%)`).join(', ')).join('; '));
if (Number.isFinite(ratioAll)) {
  console.log(`parley / bare echo, message rate: ${fmt(ratio, 2)}× (median of ${pairRatios.length} clean round pairs: ` +
    `${pairRatios.map((x) => fmt(x, 2)).join(', ') || 'none'}; all pairs ${fmt(ratioAll, 2)}×); messages per server ` +
    `CPU second: ${fmt(cpuRatio, 2)}×; goal ≥ 0.8× the rate: ` +
    `${!Number.isFinite(ratio) ? 'no clean pair to judge' : ratio >= 0.8 ? 'met' : 'missed'}`);
}
if (targets.some((t) => t.rounds.some((x) => x.others > 0 || x.missing > 0))) process.exitCode = 1;
