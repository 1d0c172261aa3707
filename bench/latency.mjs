// Time from a client's start_agent to its agent_started, with many users each sending one message per second.
//
//   node bench/latency.mjs --base http://127.0.0.1:PORT --pid SERVER_PID [--users 1000] [--rate 1] [--warmup 5]
//                          [--duration 20] [--drain 20] [--clk-tck 100] [--out result.json]
//
// Every user signs in by dev login and opens one socket. Sends are paced and spread evenly: send n (n = 0, 1, ...)
// is due at n / (users × rate) seconds and goes to user n % users, so each user sends `rate` messages a second.
// Every message is a start_agent without thread_id (a new thread each time, so run_in_progress cannot happen) whose
// user_request carries a tag "[bench <user>.<k>]"; the server echoes user_request in agent_started, and the
// latency is taken from that tag, not from arrival order. Sends in the first --warmup seconds are not measured.
// After --duration seconds of sending, the client waits up to --drain seconds for every run to end
// (agent_completed or agent_error) and reports the runs started, completed and failed.
import {
  Samples, deadline, fmt, log, loginMany, machineBusyTicks, nowMs, num, openMany, parseArgs, printTable, procCpuTicks,
  procStatus, sleep, str, writeResult,
} from './lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const base = str(args, 'base');
const pid = num(args, 'pid');
const users = num(args, 'users', 1000);
const rate = num(args, 'rate', 1);
const warmup = num(args, 'warmup', 5);
const duration = num(args, 'duration', 20);
const drain = num(args, 'drain', 20);
const clkTck = num(args, 'clk-tck', 100);
const label = str(args, 'label', 'latency');
const sources = args.sources ? String(args.sources).split(',') : [undefined];
const REQUEST = 'Where does my LLM spend go?';

deadline(120 + users / 10 + warmup + duration + drain + 30, 'latency');

const tokens = await loginMany(base, users, `${label}-user`);
const wsUrl = `${base.replace(/^http/, 'ws')}/ws`;
const opened = await openMany(tokens.map((token, i) => ({ url: wsUrl, token, localAddress: sources[i % sources.length] })), 200);
if (opened.failed) throw new Error(`${opened.failed} handshakes failed ${JSON.stringify(opened.failures)}`);
const sockets = opened.sockets;

const pending = new Map(); // tag -> send time (ms)
const runs = new Map(); // run_id -> { tag, sentAt }
const measured = new Samples(1 << 16);
const runDurations = new Samples(1 << 16);
const errors = {};
let measureFrom = Infinity;
let sent = 0;
let started = 0;
let startedMeasured = 0;
let completed = 0;
let failed = 0;
let cancelled = 0;
let unexpectedCloses = 0;
let stopping = false;
let sendFailures = 0;

function onFrame(data) {
  const t = nowMs();
  const text = data.toString();
  const head = text.slice(0, 32);
  if (head.startsWith('{"type":"agent_started"')) {
    const frame = JSON.parse(text);
    const tag = /\[bench (\S+)\]/.exec(frame.data.user_request)?.[1];
    const sentAt = pending.get(tag);
    if (sentAt === undefined) return;
    pending.delete(tag);
    started++;
    runs.set(frame.run_id, { tag, sentAt });
    if (sentAt >= measureFrom) {
      startedMeasured++;
      measured.add(t - sentAt);
    }
  } else if (head.startsWith('{"type":"agent_completed"') || head.startsWith('{"type":"agent_error"')) {
    const frame = JSON.parse(text);
    const run = runs.get(frame.run_id);
    if (!run) return;
    runs.delete(frame.run_id);
    if (frame.type === 'agent_error') {
      failed++;
      const code = frame.data?.error?.code || 'agent_error';
      errors[`agent_error ${code}`] = (errors[`agent_error ${code}`] || 0) + 1;
    } else if (frame.data?.status === 'cancelled') {
      cancelled++;
    } else {
      completed++;
    }
    if (run.sentAt >= measureFrom) runDurations.add(t - run.sentAt);
  } else if (head.startsWith('{"type":"error"')) {
    const frame = JSON.parse(text);
    const code = frame.data?.error?.code || 'error';
    errors[code] = (errors[code] || 0) + 1;
    const tag = frame.data?.in_reply_to;
    if (tag) pending.delete(tag);
  }
}

for (const ws of sockets) {
  ws.on('message', onFrame);
  ws.on('close', () => {
    if (!stopping) unexpectedCloses++;
  });
  ws.on('error', () => {});
}

// Paced sender: a 1 ms timer sends every message that is due; the send time is taken at the actual send.
const interval = 1000 / (users * rate);
const total = Math.round((warmup + duration) * users * rate);
const t0 = nowMs();
measureFrom = t0 + warmup * 1000;
let cpuAtMeasure = null;
let clientAtMeasure = null;
let machineAtMeasure = null;
log(`sending ${total} start_agent messages over ${warmup + duration} s (${users * rate}/s, first ${warmup} s warm-up)`);
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const now = nowMs();
    if (cpuAtMeasure === null && now >= measureFrom) {
      cpuAtMeasure = procCpuTicks(pid);
      machineAtMeasure = machineBusyTicks();
      clientAtMeasure = process.cpuUsage();
    }
    while (sent < total && t0 + sent * interval <= now) {
      const user = sent % users;
      const k = Math.floor(sent / users);
      const tag = `${user}.${k}`;
      const ws = sockets[user];
      sent++;
      if (ws.readyState !== 1) {
        sendFailures++;
        continue;
      }
      pending.set(tag, nowMs());
      ws.send(JSON.stringify({
        type: 'start_agent', message_id: tag, payload: { user_request: `${REQUEST} [bench ${tag}]` },
      }));
    }
    if (sent >= total) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});
const t1 = nowMs();
const cpuEnd = procCpuTicks(pid);
const machineEnd = machineBusyTicks();
const clientEnd = process.cpuUsage(clientAtMeasure ?? undefined);
const measuredSeconds = (t1 - measureFrom) / 1000;
log(`sent ${sent} in ${((t1 - t0) / 1000).toFixed(1)} s; waiting up to ${drain} s for the runs to end`);
const drainStart = nowMs();
while ((pending.size > 0 || runs.size > 0) && nowMs() - drainStart < drain * 1000) await sleep(50);
const drainSeconds = (nowMs() - drainStart) / 1000;
const rssMb = procStatus(pid).rssKb / 1024;
stopping = true;
for (const ws of sockets) ws.terminate();

const s = measured.summary();
const d = runDurations.summary();
const serverCpuPercent = cpuAtMeasure === null ? NaN : (100 * (cpuEnd - cpuAtMeasure)) / clkTck / measuredSeconds;
const clientCpuPercent = (100 * (clientEnd.user + clientEnd.system)) / 1e6 / measuredSeconds;
const otherCpuPercent = cpuAtMeasure === null ? NaN
  : (100 * (machineEnd - machineAtMeasure)) / clkTck / measuredSeconds - serverCpuPercent - clientCpuPercent;
const result = {
  benchmark: 'latency', label, users, rate, warmup, duration, sent, started, startedMeasured, completed, cancelled,
  failed, neverStarted: pending.size, stillRunning: runs.size, errors, sendFailures, unexpectedCloses,
  startToStarted: s, startToEnd: d, serverCpuPercent, clientCpuPercent, otherCpuPercent, rssMb, drainSeconds,
};
writeResult(args.out, result);
printTable(`start_agent → agent_started (${label}): ${users} users × ${rate}/s, one socket each, ${duration} s measured ` +
  `after a ${warmup} s warm-up`,
  ['measured', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'run end-to-end p50 / p99 ms', 'server CPU %',
    'client CPU %', 'rest of machine CPU %'],
  [[s.count, fmt(s.p50, 2), fmt(s.p90, 2), fmt(s.p99, 2), fmt(s.p999, 2), fmt(s.max, 1),
    `${fmt(d.p50, 1)} / ${fmt(d.p99, 1)}`, fmt(serverCpuPercent, 0), fmt(clientCpuPercent, 0), fmt(otherCpuPercent, 0)]]);
console.log(`runs: ${sent} sent, ${started} started, ${completed} completed, ${cancelled} cancelled, ${failed} failed, ` +
  `${pending.size} never started, ${runs.size} still running after the ${fmt(drainSeconds)} s drain; ` +
  `errors: ${JSON.stringify(errors)}; sockets closed by the server: ${unexpectedCloses}; server RSS ${fmt(rssMb)} MB; ` +
  `p99 goal ≤ 5 ms: ${s.p99 <= 5 ? 'met' : 'missed'}`);
if (pending.size > 0 || runs.size > 0 || failed > 0 || unexpectedCloses > 0 || sendFailures > 0
  || Object.keys(errors).length > 0) process.exitCode = 1;
