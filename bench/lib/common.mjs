// Helpers shared by the load clients: /proc readings of the server process, dev-login tokens, opening many
// sockets with a bounded number of handshakes in flight, percentiles and tables.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';

export { WebSocket };

/** Parses `--name value` pairs (and bare `--flag`) into an object; numbers stay strings. */
export function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    const name = arg.slice(2);
    if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      args[name] = argv[++i];
    } else {
      args[name] = true;
    }
  }
  return args;
}

export function num(args, name, fallback) {
  const value = args[name];
  if (value === undefined) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, not '${value}'`);
  return n;
}

export function str(args, name, fallback) {
  const value = args[name];
  if (value === undefined || value === true) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  return value;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
export const log = (...parts) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);

/** Ends the process if the whole measurement overruns its budget, so that nothing can hang a CI job. */
export function deadline(seconds, what) {
  const timer = setTimeout(() => {
    console.error(`${what}: gave up after ${seconds} s (time budget exceeded)`);
    process.exit(3);
  }, seconds * 1000);
  timer.unref();
}

/** VmRSS, VmHWM (kB) and the thread count of a process, from /proc/<pid>/status. */
export function procStatus(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => {
    const match = text.match(new RegExp(`^${name}:\\s+(\\d+)`, 'm'));
    return match ? Number(match[1]) : NaN;
  };
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM'), threads: field('Threads') };
}

/** User + system CPU time of a process, in clock ticks, from /proc/<pid>/stat. */
export function procCpuTicks(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  return Number(rest[11]) + Number(rest[12]);
}

/** CPU time the whole machine spent busy (all CPUs, every state but idle and iowait), in clock ticks, from /proc/stat. */
export function machineBusyTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]; // "cpu  user nice system idle iowait irq softirq steal ..."
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
}

/** Runs `jcmd <pid> <command...>` and returns its output, or null when jcmd is missing or fails. */
export function jcmd(jcmdPath, pid, ...command) {
  if (!jcmdPath) return null;
  try {
    return execFileSync(jcmdPath, [String(pid), ...command], { encoding: 'utf8', timeout: 60_000 });
  } catch (e) {
    log(`jcmd ${command.join(' ')} failed: ${e.message.split('\n')[0]}`);
    return null;
  }
}

/** Committed MB per category from `jcmd VM.native_memory summary`, plus the total. */
export function parseNmt(text) {
  if (!text) return null;
  const out = {};
  const total = text.match(/Total: reserved=(\d+)KB, committed=(\d+)KB/);
  if (total) out.Total = Number(total[2]) / 1024;
  for (const match of text.matchAll(/^-\s+([A-Za-z ]+?) \(reserved=\d+KB, committed=(\d+)KB\)/gm)) {
    out[match[1].trim()] = Number(match[2]) / 1024;
  }
  const threads = text.match(/\(threads? #(\d+)\)/);
  if (threads) out.platformThreads = Number(threads[1]);
  return out;
}

/** Heap used and committed (MB) from `jcmd GC.heap_info` (Serial or G1 layouts). */
export function parseHeapInfo(text) {
  if (!text) return null;
  let total = 0;
  let used = 0;
  for (const match of text.matchAll(/total (\d+)K, used (\d+)K/g)) {
    total += Number(match[1]);
    used += Number(match[2]);
  }
  return { committedMb: total / 1024, usedMb: used / 1024 };
}

/** Signs a user in through POST /auth/dev/login (the server needs PARLEY_DEV_LOGIN=true); returns the access token. */
export async function devLogin(base, email) {
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const response = await fetch(`${base}/auth/dev/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      const body = await response.text();
      if (response.status !== 200) throw new Error(`dev login of ${email}: HTTP ${response.status} ${body.slice(0, 200)}`);
      return JSON.parse(body).access_token;
    } catch (e) {
      lastError = e;
      await sleep(200);
    }
  }
  throw lastError;
}

/** Dev-logs in `count` users (one email each) with a few requests in flight; returns their access tokens. */
export async function loginMany(base, count, prefix, concurrency = 16) {
  const tokens = new Array(count);
  let next = 0;
  const started = nowMs();
  async function worker() {
    while (next < count) {
      const i = next++;
      tokens[i] = await devLogin(base, `${prefix}-${i}@bench.parley.local`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  log(`${count} users signed in by dev login in ${((nowMs() - started) / 1000).toFixed(1)} s`);
  return tokens;
}

/**
 * Opens one socket. With a token, it authenticates with `Authorization: Bearer` and resolves on the first frame
 * (Parley's `connection_established`); without one it resolves on open. Rejects on a refused upgrade (with the HTTP
 * status), an error, or after `timeoutMs`.
 */
export function openSocket(url, { token, localAddress, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const options = { perMessageDeflate: false, handshakeTimeout: timeoutMs };
    if (token) options.headers = { Authorization: `Bearer ${token}` };
    if (localAddress) options.localAddress = localAddress;
    const ws = new WebSocket(url, options);
    let settled = false;
    const timer = setTimeout(() => fail(new Error('timeout')), timeoutMs);
    function fail(error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    }
    function ok() {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ws);
    }
    ws.on('unexpected-response', (request, response) => fail(new Error(`HTTP ${response.statusCode}`)));
    ws.on('error', (error) => fail(new Error(error.code || error.message)));
    ws.on('close', (code) => fail(new Error(`closed ${code} before ready`)));
    if (token) {
      ws.once('message', (data) => {
        if (data.toString().includes('"connection_established"')) ok();
        else fail(new Error(`unexpected first frame ${data.toString().slice(0, 80)}`));
      });
    } else {
      ws.once('open', ok);
    }
  });
}

/**
 * Opens sockets for every spec ({url, token, localAddress}) with at most `inflight` handshakes at a time. Returns
 * the open sockets (null where one failed), the failure count, and the failures by reason.
 */
export async function openMany(specs, inflight = 200) {
  const sockets = new Array(specs.length).fill(null);
  const failures = {};
  let failed = 0;
  let next = 0;
  let active = 0;
  let done = 0;
  const started = nowMs();
  await new Promise((resolve) => {
    if (specs.length === 0) {
      resolve();
      return;
    }
    const launch = () => {
      while (active < inflight && next < specs.length) {
        const i = next++;
        active++;
        openSocket(specs[i].url, specs[i])
          .then((ws) => {
            sockets[i] = ws;
          }, (error) => {
            failed++;
            failures[error.message] = (failures[error.message] || 0) + 1;
          })
          .finally(() => {
            active--;
            done++;
            if (done === specs.length) resolve();
            else launch();
          });
      }
    };
    launch();
  });
  const seconds = (nowMs() - started) / 1000;
  log(`opened ${specs.length - failed}/${specs.length} sockets in ${seconds.toFixed(1)} s` +
    (failed ? ` (failed: ${JSON.stringify(failures)})` : ''));
  return { sockets, failed, failures, seconds };
}

/** The p-th percentile (0..100) of an ascending-sorted typed array, nearest-rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A growable sample store of latencies in milliseconds. */
export class Samples {
  constructor(capacity = 1 << 20) {
    this.values = new Float64Array(capacity);
    this.length = 0;
  }

  add(ms) {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = ms;
  }

  summary() {
    const sorted = this.values.slice(0, this.length).sort();
    return {
      count: this.length,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted.length ? sorted[sorted.length - 1] : NaN,
    };
  }
}

/** Prints rows (arrays of cells) as a Markdown table to stdout. */
export function printTable(title, header, rows) {
  console.log(`\n${title}\n`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
}

export const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

export function writeResult(path, result) {
  if (path) writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}
