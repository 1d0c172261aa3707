// Server RSS with many authenticated idle sockets.
//
//   node bench/rss.mjs --base http://127.0.0.1:PORT --pid SERVER_PID --users 1000 --steps 5000,10000 [--idle 5]
//                      [--sources 127.0.0.2,127.0.0.3,127.0.0.4] [--inflight 200] [--jcmd PATH] [--out result.json]
//
//   node bench/rss.mjs --ws ws://127.0.0.1:PORT/ws --pid ECHO_PID --steps 5000,10000   (a bare echo server: no sign-ins)
//
// Signs in --users users by dev login, then opens sockets (Authorization: Bearer, one token per user, socket k
// belongs to user k % users) up to each step count, waits --idle seconds with every socket open and silent, and
// reads VmRSS of --pid from /proc. The first readings are the server with no sockets, before and after the sign-ins.
// With --jcmd, every reading also records heap use (GC.heap_info) and, when the server runs with
// -XX:NativeMemoryTracking=summary, the last step records the committed memory by category.
import {
  fmt, jcmd, log, loginMany, nowMs, num, openMany, parseArgs, parseHeapInfo, parseNmt, printTable, procStatus,
  sleep, str, writeResult, deadline,
} from './lib/common.mjs';

const args = parseArgs(process.argv.slice(2));
const bare = args.ws !== undefined; // a server without authentication (the bare echo baseline)
const base = bare ? null : str(args, 'base');
const pid = num(args, 'pid');
const users = num(args, 'users', 1000);
const steps = str(args, 'steps', '5000,10000').split(',').map(Number);
const idleSeconds = num(args, 'idle', 5);
const inflight = num(args, 'inflight', 200);
const sources = args.sources ? String(args.sources).split(',') : [undefined];
const jcmdPath = args.jcmd ? String(args.jcmd) : null;
const label = str(args, 'label', 'rss');
const wsUrl = bare ? str(args, 'ws') : `${base.replace(/^http/, 'ws')}/ws`;
const total = steps[steps.length - 1];

deadline(120 + users / 20 + total / 100 + steps.length * (idleSeconds + 30), 'rss');

const readings = [];
function reading(sockets, note) {
  const status = procStatus(pid);
  const heap = jcmdPath ? parseHeapInfo(jcmd(jcmdPath, pid, 'GC.heap_info')) : null;
  const row = {
    sockets, rssMb: status.rssKb / 1024, hwmMb: status.hwmKb / 1024, threads: status.threads,
    heapUsedMb: heap?.usedMb, heapCommittedMb: heap?.committedMb, note,
  };
  readings.push(row);
  log(`${note}: ${sockets} sockets, VmRSS ${fmt(row.rssMb)} MB, heap ${fmt(row.heapUsedMb)} used of ` +
    `${fmt(row.heapCommittedMb)} MB committed, ${status.threads} threads`);
  return row;
}

await sleep(idleSeconds * 1000);
let tokens = [];
if (bare) {
  reading(0, 'idle');
} else {
  reading(0, 'idle, before sign-ins');
  tokens = await loginMany(base, users, `${label}-user`);
  await sleep(idleSeconds * 1000);
  reading(0, 'idle, after sign-ins');
}

const open = [];
let closing = false;
let unexpectedCloses = 0;
let failed = 0;
const failures = {};
let handshakeSeconds = 0;
for (const step of steps) {
  const specs = [];
  for (let k = open.length; k < step; k++) {
    specs.push({ url: wsUrl, token: bare ? undefined : tokens[k % users], localAddress: sources[k % sources.length] });
  }
  const result = await openMany(specs, inflight);
  handshakeSeconds += result.seconds;
  failed += result.failed;
  for (const [reason, count] of Object.entries(result.failures)) failures[reason] = (failures[reason] || 0) + count;
  for (const ws of result.sockets) {
    if (!ws) continue;
    ws.on('message', (data) => {
      // Keeps a socket that outlives a heartbeat interval alive; idle otherwise.
      if (data.toString('latin1', 0, 24).includes('"heartbeat"')) ws.send('{"type":"heartbeat_ack"}');
    });
    ws.on('close', () => {
      if (!closing) unexpectedCloses++;
    });
    ws.on('error', () => {});
    open.push(ws);
  }
  await sleep(idleSeconds * 1000);
  reading(open.length, `${step} sockets requested, ${idleSeconds} s idle`);
}

const nmtText = jcmdPath ? jcmd(jcmdPath, pid, 'VM.native_memory', 'summary') : null;
const nmt = nmtText && nmtText.includes('Total:') ? parseNmt(nmtText) : null;
// --histogram: the live heap after a full collection (GC.class_histogram collects first), by class.
let live = null;
if (jcmdPath && args.histogram) {
  const text = jcmd(jcmdPath, pid, 'GC.class_histogram') || '';
  const rows = [...text.matchAll(/^\s*\d+:\s+(\d+)\s+(\d+)\s+(\S+)/gm)]
    .map((m) => ({ instances: Number(m[1]), bytes: Number(m[2]), cls: m[3] }));
  const total = text.match(/^Total\s+(\d+)\s+(\d+)/m);
  live = { totalMb: total ? Number(total[2]) / 1048576 : NaN, top: rows.slice(0, 10) };
}

closing = true;
const stillOpen = open.filter((ws) => ws.readyState === 1).length;
const started = nowMs();
for (const ws of open) ws.terminate();
log(`terminated ${open.length} sockets in ${((nowMs() - started) / 1000).toFixed(1)} s`);

const baseline = readings[bare ? 0 : 1]; // after the sign-ins: what the sockets add
const last = readings[readings.length - 1];
const kbPerSocket = last.sockets > 0 ? ((last.rssMb - baseline.rssMb) * 1024) / last.sockets : NaN;
const result = {
  benchmark: 'rss', label, users, steps, idleSeconds, readings, failedHandshakes: failed, failures,
  unexpectedCloses, stillOpen, handshakeSeconds, kbPerSocket, nmt, live,
};
writeResult(args.out, result);

printTable(`RSS of the server (${label}): ${bare ? 'bare echo, no authentication' : `${users} users`}, ` +
  `${idleSeconds} s idle before each reading`,
  ['sockets open', 'VmRSS MB', 'VmHWM MB', 'heap used MB', 'heap committed MB', 'platform threads', 'when'],
  readings.map((r) => [r.sockets, fmt(r.rssMb), fmt(r.hwmMb), fmt(r.heapUsedMb), fmt(r.heapCommittedMb), r.threads,
    r.note]));
console.log(`RSS growth per socket (${bare ? 'idle' : 'after the sign-ins'} → last step): ${fmt(kbPerSocket)} KB; ` +
  `failed handshakes: ${failed}; sockets closed by the server while idle: ${unexpectedCloses}; ` +
  `still open at the end: ${stillOpen}/${last.sockets}`);
if (nmt) {
  const parts = Object.entries(nmt).filter(([k, v]) => k !== 'platformThreads' && v >= 1)
    .sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`);
  console.log(`NMT committed MB at the last step: ${parts.join(', ')}`);
}
if (live) {
  const n = Math.max(1, last.sockets);
  console.log(`live heap after a full GC at the last step: ${fmt(live.totalMb)} MB; largest classes, bytes per socket: ` +
    live.top.slice(0, 8).map((r) => `${r.cls} ${fmt(r.bytes / n / 1024, 1)} KB (${fmt(r.instances / n, 1)}/socket)`)
      .join(', '));
}
if (failed > 0 || unexpectedCloses > 0) process.exitCode = 1;
