#!/usr/bin/env python3
"""Cold start of the Parley server: time from process spawn to the first 200 on /health/ready.

Runs the server N times (fresh data directory each time, so the embedded database is created and migrated every
run), optionally pinned to CPUs with taskset and optionally with a JDK AOT cache, and prints min / median / max of
the wall time, and of the CPU time the server had used when it first answered 200 (user + system, from
/proc/PID/stat: the work of starting, which other load on a shared machine does not inflate as it does the wall
time; on one CPU with nothing else running the two are close).

  bench/startup.py --runs 7 --cpus 0            # one CPU
  bench/startup.py --runs 7 --cpus 0,1 --aot server/target/parley.aot
  bench/startup.py --cpus 0 --java ROOTFS/opt/java/bin/java --classpath ROOTFS/app/parley-server.jar \
      --aot ROOTFS/app/parley.aot --jvm-flag=-XX:+UseSerialGC ...    (an image's filesystem, its flags one by one)

With --first-answer, each run goes on as the first user of a new instance does: signs up and signs in over HTTP,
opens a WebSocket, sends start_agent and waits for agent_completed; the time from spawn to that answer is printed
too (the offline agent answers at once, so what it measures is the server's own work).
"""
import argparse
import base64
import http.client
import json
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


def post(port, path, body):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise SystemExit("%s answered %d: %s" % (path, response.status, data[:200]))
    return json.loads(data)


class Socket:
    """A minimal WebSocket client (RFC 6455): text frames, masked as a client sends them, no fragments."""

    def __init__(self, port, token):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n"
                           % (port, key, token)).encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
            raise SystemExit("the socket was refused: %s" % head.split(b"\r\n", 1)[0])

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the socket")
        return chunk

    def _take(self, n):
        while len(self.buffer) < n:
            self.buffer += self._recv()
        taken, self.buffer = self.buffer[:n], self.buffer[n:]
        return taken

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        if len(payload) < 126:
            header = bytes([0x81, 0x80 | len(payload)])
        else:
            header = bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big")
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def next(self, wanted):
        """Reads messages up to the next one of type `wanted`; fails on an error or a close."""
        while True:
            first, second = self._take(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._take(2), "big")
            elif length == 127:
                length = int.from_bytes(self._take(8), "big")
            payload = self._take(length)
            if first & 0x0F == 8:
                raise SystemExit("the server closed the socket: %s" % payload[2:])
            if first & 0x0F != 1:
                continue
            message = json.loads(payload)
            if message.get("type") in ("error", "agent_error"):
                raise SystemExit("waiting for %s, got %s" % (wanted, message))
            if message.get("type") == wanted:
                return message

    def close(self):
        self.sock.close()


def first_answer(port):
    """The first user's path on a new instance: sign up, sign in, open a socket, one turn to its answer."""
    account = {"email": "first-%s@parley.local" % os.getpid(), "password": "a first password 1"}
    post(port, "/auth/register", account)
    token = post(port, "/auth/login", account)["access_token"]
    ws = Socket(port, token)
    try:
        ws.next("connection_established")
        ws.send({"type": "start_agent", "payload": {"user_request": "What did my AI usage cost by model last month?"}})
        ws.next("agent_completed")
    finally:
        ws.close()


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
                wall, cpu = (time.perf_counter() - started) * 1000.0, cpu_ms(proc.pid)
                answer = None
                if args.first_answer:
                    first_answer(port)
                    answer = (time.perf_counter() - started) * 1000.0
                return wall, cpu, answer
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
    parser.add_argument("--first-answer", action="store_true",
                        help="also time spawn -> the first user's first answer (sign-up, sign-in, socket, one turn)")
    args = parser.parse_args()

    times, cpus, answers = [], [], []
    for _ in range(args.runs):
        data_dir = tempfile.mkdtemp(prefix="parley-bench-")
        try:
            wall, cpu, answer = one_run(args, free_port(), data_dir)
            times.append(wall)
            cpus.append(cpu)
            if answer is not None:
                answers.append(answer)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    label = args.label or ("cpus=%s aot=%s" % (args.cpus or "all", "yes" if args.aot else "no"))
    for name, values in (("wall", times), ("cpu", cpus), ("answer", answers)):
        if not values:
            continue
        print("%s: %s runs=%d min=%.0f ms median=%.0f ms max=%.0f ms  (%s)" % (
            label, name, len(values), min(values), statistics.median(values), max(values),
            " ".join("%.0f" % v for v in values)))


if __name__ == "__main__":
    sys.exit(main())
