#!/usr/bin/env python3
"""Cold start of the Parley server: time from process spawn to the first 200 on /health/ready.

Runs the server N times (fresh data directory each time, so the embedded database is created and migrated every
run), optionally pinned to CPUs with taskset and optionally with a JDK AOT cache, and prints min / median / max of
the wall time, and of the CPU time the server had used when it first answered 200 (user + system, from
/proc/PID/stat: the work of starting, which other load on a shared machine does not inflate as it does the wall
time; on one CPU with nothing else running the two are close).

  bench/startup.py --runs 7 --cpus 0            # one CPU
  bench/startup.py --runs 7 --cpus 0,1 --aot server/target/parley.aot
  bench/startup.py --java /opt/java/bin/java --root /path/to/rootfs ...   (see docs/benchmarks.md)
"""
import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
        conn.request("GET", "/health/ready")
        status = conn.getresponse().status
        conn.close()
        return status == 200
    except OSError:
        return False


def cpu_ms(pid):
    """User + system CPU time of a process so far, in ms (Linux /proc; the fields after the command name)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def one_run(args, port, data_dir):
    env = dict(os.environ)
    for name in ("PARLEY_DATABASE_URL", "PARLEY_REDIS_URL"):
        env.pop(name, None)
    env.update({"PORT": str(port), "PARLEY_HOST": "127.0.0.1", "PARLEY_DATA_DIR": data_dir,
                "PARLEY_LOG_FORMAT": "text"})
    cmd = []
    if args.cpus:
        cmd += ["taskset", "-c", args.cpus]
    cmd += [args.java] + args.jvm_flag
    if args.aot:
        cmd += ["-XX:AOTCache=" + args.aot]
    cmd += ["-cp", args.classpath, "dev.parley.server.Main", "serve"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = started + args.timeout
        while time.perf_counter() < deadline:
            if ready(port):
                return (time.perf_counter() - started) * 1000.0, cpu_ms(proc.pid)
            if proc.poll() is not None:
                raise SystemExit("server exited with %s before it was ready" % proc.returncode)
            time.sleep(0.002)
        raise SystemExit("server not ready within %ss" % args.timeout)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cpus", default="", help="taskset CPU list, e.g. 0 or 0,1")
    parser.add_argument("--aot", default="", help="path of a JDK AOT cache to use")
    parser.add_argument("--java", default=os.environ.get("PARLEY_BENCH_JAVA", "java"))
    parser.add_argument("--classpath", default=os.path.join(ROOT, "server/target/parley-server.jar"))
    parser.add_argument("--jvm-flag", action="append", default=[], help="extra JVM flag (repeatable)")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--label", default="")
    args = parser.parse_args()

    times, cpus = [], []
    for _ in range(args.runs):
        data_dir = tempfile.mkdtemp(prefix="parley-bench-")
        try:
            wall, cpu = one_run(args, free_port(), data_dir)
            times.append(wall)
            cpus.append(cpu)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    label = args.label or ("cpus=%s aot=%s" % (args.cpus or "all", "yes" if args.aot else "no"))
    for name, values in (("wall", times), ("cpu", cpus)):
        print("%s: %s runs=%d min=%.0f ms median=%.0f ms max=%.0f ms  (%s)" % (
            label, name, len(values), min(values), statistics.median(values), max(values),
            " ".join("%.0f" % v for v in values)))


if __name__ == "__main__":
    sys.exit(main())
