#!/usr/bin/env bash
# Parley's load benchmarks (method and figures: docs/benchmarks.md).
#
#   bench/run.sh [rss|ping|latency|versus|turns|all] [--short] [--repeat N] [--latency-users LIST] [--wait-quiet] [--postgres]
#                [--out DIR] [--keep]
#
#   rss      server RSS with 10,000 authenticated idle sockets, one user per socket, each signed in over HTTP first
#            (readings at 0 before and after the sign-ins, 1,000, 5,000 and 10,000), server on one CPU
#            and a 512 MiB container's heap sizing; then the same sockets on the bare Helidon echo server, and one
#            more Parley run with Native Memory Tracking and a live-heap histogram, for attribution
#   ping     {"type":"ping"} → pong round trips through Parley against a bare Helidon echo endpoint, 100 connections,
#            closed loop, both servers on CPU 0 and the client on CPU 1, 6 rounds of 5 s alternating between the
#            two; the rate limit is raised for this one (PARLEY_WS_RATE_LIMIT=100000 per 1 s)
#   latency  start_agent → agent_started with 1,000 users sending one message a second each (offline agent, no
#            step delay), server and client sharing both CPUs
#   versus   Parley against the replaced system's stack (bench/peer: FastAPI + uvicorn + SQLite, run with Debian's
#            python3 and its packages python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-jwt
#            python3-websockets), one after the other with the same drivers: closed loop (bench/peer/turns.mjs,
#            20 users × 10 s) and open loop (bench/peer/latency.mjs, 1,000 users × 1 message/s × 20 s); prints each
#            result and Parley's ratio to the peer; the per-socket rate limit is lifted and the agent unpaced
#   turns    versus's closed loop on Parley alone (bench/peer/turns.mjs, 20 users × 10 s, same settings), with the
#            server's CPU time over the loop (sign-up included); for comparing two settings of Parley run after run;
#            BENCH_TURNS_SECONDS sets the loop's length (default 10), for looking at the server after its warm-up
#   all      rss, ping and latency, one after another (the default)
#
#   --short     small sizes that finish in about a minute in total (CI): 1,000 sockets, 20 connections for 2 × 2 s,
#               100 users for 5 s (versus: 10 users × 3 s closed loop, 100 users × 5 s open loop); the figures then only show that the harness and the server work under load, and
#               the exit status is 1 when a handshake, an answer or a run went missing
#   --repeat N  run each benchmark N times (default 1; each run gets fresh servers and data directories)
#   --out DIR   keep each run's JSON result and server log in DIR
#   --keep      keep the temporary directory (server data and logs) instead of deleting it
#   --latency-users LIST  comma-separated user counts for latency, one run each (default 1000; --short: 100)
#   --wait-quiet  before each run, wait (up to BENCH_QUIET_MAX_S, default 900 s) until the rest of the machine has
#               used under BENCH_QUIET_PERCENT (default 25) % of one CPU for 5 s in a row; the busy share is printed
#               either way, since other processes on the machine distort every figure
#   --postgres  run each Parley server on a fresh PostgreSQL database instead of the embedded one: created with
#               psql at BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432, trust or PGPASSWORD) and
#               dropped afterwards
#
# Environment: BENCH_JVM_OPTS replaces the server JVM flags (default: the container image's flags with a 512 MiB
# memory limit: -XX:MaxRAM=512m -XX:MaxRAMPercentage=65 -XX:+UseSerialGC -XX:NewSize=24m -XX:+ExitOnOutOfMemoryError
# -XX:TrimNativeHeapInterval=5000), and on JDK 25+
# Parley starts from an AOT cache as the image does (trained by the server's `train` workload; BENCH_AOT=0: none);
# BENCH_SERVER_CPUS / BENCH_CLIENT_CPUS (default 0 / 1) pin rss and ping, BENCH_LATENCY_SERVER_CPUS /
# BENCH_LATENCY_CLIENT_CPUS (default unset: not pinned) pin latency; BENCH_SERVER_ENV adds settings to every
# Parley server (space-separated NAME=VALUE, e.g. "PARLEY_DB_POOL_SIZE=30"); JAVA_HOME picks the JDK (21+).
# It builds the server (and the echo server) when missing or stale, installs the Node client with `npm ci` when
# needed, starts every server on 127.0.0.1 with a fresh data directory, and stops every process it started on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bench=$root/bench
cd "$root"

mode=all
short=false
repeat=1
out=''
keep=false
postgres=false
wait_quiet=false
latency_users=''
while [ $# -gt 0 ]; do
  case $1 in
    rss | ping | latency | versus | turns | all) mode=$1 ;;
    --short) short=true ;;
    --repeat) repeat=$2; shift ;;
    --out) out=$2; shift ;;
    --keep) keep=true ;;
    --postgres) postgres=true ;;
    --wait-quiet) wait_quiet=true ;;
    --latency-users) latency_users=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=bin/lib/jdk.sh
. "$root/bin/lib/jdk.sh"
# shellcheck source=bin/lib/aot.sh
. "$root/bin/lib/aot.sh"
require_jdk 21 || exit 1
java=$JDK_HOME/bin/java
jcmd=$JDK_HOME/bin/jcmd
jar=$root/server/target/parley-server.jar
libs=$root/server/target/libs
echo_src=$bench/echo-server/EchoServer.java
echo_classes=$bench/target/echo-classes
server_cpus=${BENCH_SERVER_CPUS:-0}
client_cpus=${BENCH_CLIENT_CPUS:-1}
jvm_opts=(${BENCH_JVM_OPTS:--XX:MaxRAM=512m -XX:MaxRAMPercentage=65 -XX:+UseSerialGC -XX:NewSize=24m -XX:+ExitOnOutOfMemoryError -XX:TrimNativeHeapInterval=5000})
clk_tck=$(getconf CLK_TCK)

pg_url=${BENCH_PG_URL:-postgresql://postgres@127.0.0.1:5432}
if $postgres; then
  command -v psql >/dev/null || { echo "run.sh: --postgres needs psql" >&2; exit 1; }
  psql "$pg_url/postgres" -qAtc 'select 1' >/dev/null || { echo "run.sh: cannot reach $pg_url" >&2; exit 1; }
fi
[ -n "$latency_users" ] || latency_users=$($short && echo 100 || echo 1000)

command -v node >/dev/null || { echo "run.sh: node (18+) is required" >&2; exit 1; }
command -v taskset >/dev/null || { echo "run.sh: taskset (util-linux) is required" >&2; exit 1; }
if [ "$mode" = versus ] && ! /usr/bin/python3 -c 'import fastapi, uvicorn, uvloop, httptools, jwt, websockets' 2>/dev/null; then
  echo "run.sh: versus needs the peer's packages: apt-get install -y python3-fastapi python3-uvicorn python3-uvloop" \
    "python3-httptools python3-jwt python3-websockets" >&2
  exit 1
fi

# ---- build what is missing or stale ----
stale() { # stale TARGET INPUT...: true if TARGET is missing or an input is newer
  local target=$1
  shift
  [ -e "$target" ] || return 0
  [ -n "$(find "$@" -newer "$target" -print -quit 2>/dev/null)" ]
}
if stale "$jar" "$root/pom.xml" "$root/protocol/pom.xml" "$root/protocol/src/main" "$root/server/pom.xml" \
  "$root/server/src/main" || [ ! -d "$libs" ]; then
  echo "run.sh: building the server with Java $JDK_FEATURE..." >&2
  JAVA_HOME=$JDK_HOME ./mvnw -q -B -DskipTests -pl server -am package
  touch "$jar"
fi
if stale "$echo_classes/EchoServer.class" "$echo_src" "$jar"; then
  mkdir -p "$echo_classes"
  "$JDK_HOME/bin/javac" -d "$echo_classes" -cp "$jar:$libs/*" "$echo_src"
fi
# ---- the AOT cache: Parley's servers start from one, as the image's entrypoint does ----
# Trained by the server's own training workload (`train`, what bin/parley and bin/image.sh run) under the same
# JVM flags (a JFR recording left out), again whenever the jar or the flags change. BENCH_AOT=0 leaves it out.
aot_opts=()
aot_note='none'
if [ "$JDK_FEATURE" -ge 25 ] && [ "${BENCH_AOT:-1}" != 0 ]; then
  aot_cache=$bench/target/parley.aot
  train_flags=()
  for flag in "${jvm_opts[@]}"; do
    case $flag in -XX:StartFlightRecording* | -XX:FlightRecorderOptions*) ;; *) train_flags+=("$flag") ;; esac
  done
  mkdir -p "$bench/target"
  if stale "$aot_cache" "$jar" || [ "$(cat "$aot_cache.flags" 2>/dev/null)" != "${train_flags[*]}" ]; then
    echo "run.sh: training the AOT cache (about 15 s)..." >&2
    rm -f "$aot_cache"
    # shellcheck disable=SC2207 # one flag per line, none with spaces
    training_only=($(aot_training_flags "$JDK_FEATURE"))
    if ! "$java" "${train_flags[@]}" ${training_only[@]+"${training_only[@]}"} \
      -XX:AOTCacheOutput="$aot_cache" -cp "$jar" dev.parley.server.Main train >"$bench/target/aot-training.log" 2>&1 \
      || [ ! -s "$aot_cache" ]; then
      echo "run.sh: AOT training failed; see $bench/target/aot-training.log" >&2
      exit 1
    fi
    printf '%s' "${train_flags[*]}" >"$aot_cache.flags"
  fi
  aot_opts=(-XX:AOTCache="$aot_cache")
  aot_note="$aot_cache (trained by the server's training workload)"
fi

if [ ! -d "$bench/node_modules/ws" ]; then
  (cd "$bench" && npm ci --no-audit --no-fund --loglevel=error)
fi

# ---- limits ----
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
fd_limit=$(ulimit -n)

# ---- processes: every one started here is stopped on exit ----
tmp=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
pids=()
databases=()
cleanup() {
  local pid db
  for pid in ${pids[@]+"${pids[@]}"}; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  pids=()
  for db in ${databases[@]+"${databases[@]}"}; do
    psql "$pg_url/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  if $keep; then
    echo "run.sh: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # stop PID: SIGTERM, wait up to 10 s, then SIGKILL; forget it
  local pid=$1 rest=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in ${pids[@]+"${pids[@]}"}; do
    [ "$p" = "$pid" ] || rest+=("$p")
  done
  pids=(${rest[@]+"${rest[@]}"})
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_ready() { # wait_ready PID URL NAME
  local pid=$1 url=$2 name=$3
  for _ in $(seq 1 1200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $name exited before it was ready; its log:" >&2
      tail -n 30 "$tmp/$name.log" >&2
      exit 1
    fi
    curl -sf -o /dev/null "$url" && return 0
    sleep 0.1
  done
  echo "run.sh: $name not ready after 120 s" >&2
  exit 1
}

# start_parley NAME CPUS [ENV=VALUE...]: starts the server; sets server_pid and server_port
start_parley() {
  local name=$1 cpus=$2
  shift 2
  server_port=$(free_port)
  mkdir -p "$tmp/$name-data"
  local launcher=() storage=()
  [ -n "$cpus" ] && launcher=(taskset -c "$cpus")
  if $postgres; then
    local db
    db=parley_bench_$$_$(echo "$name" | tr -c 'a-z0-9\n' _)
    psql "$pg_url/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    databases+=("$db")
    storage=(PARLEY_DATABASE_URL="$(jdbc_url "$db")" PARLEY_JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')")
  fi
  env -u PARLEY_DATABASE_URL -u PARLEY_REDIS_URL -u PARLEY_JWT_SECRET \
    PORT="$server_port" PARLEY_HOST=127.0.0.1 PARLEY_DATA_DIR="$tmp/$name-data" PARLEY_DEV_LOGIN=true \
    PARLEY_SIGNUP_LIMIT=100000000 \
    ${storage[@]+"${storage[@]}"} ${BENCH_SERVER_ENV:-} "$@" \
    ${launcher[@]+"${launcher[@]}"} "$java" "${jvm_opts[@]}" ${aot_opts[@]+"${aot_opts[@]}"} \
    ${extra_jvm_opts[@]+"${extra_jvm_opts[@]}"} \
    -cp "$jar" dev.parley.server.Main serve >"$tmp/$name.log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  wait_ready "$server_pid" "http://127.0.0.1:$server_port/health/ready" "$name"
}

# jdbc_url DB: the JDBC URL of database DB on the server of BENCH_PG_URL (postgresql://user[:password]@host[:port])
jdbc_url() {
  local rest=${pg_url#postgresql://} userinfo='' hostport query
  rest=${rest#postgres://}
  rest=${rest%/}
  case $rest in
    *@*) userinfo=${rest%@*} hostport=${rest#*@} ;;
    *) hostport=$rest ;;
  esac
  query="user=${userinfo%%:*}"
  case $userinfo in
    *:*) query="$query&password=${userinfo#*:}" ;;
    '') query="user=${USER:-postgres}" ;;
  esac
  [ -n "${PGPASSWORD:-}" ] && query="$query&password=$PGPASSWORD"
  printf 'jdbc:postgresql://%s/%s?%s' "$hostport" "$1" "$query"
}

# start_echo NAME CPUS: starts the bare echo server; sets echo_pid and echo_port
start_echo() {
  local name=$1 cpus=$2
  echo_port=$(free_port)
  local launcher=()
  [ -n "$cpus" ] && launcher=(taskset -c "$cpus")
  ${launcher[@]+"${launcher[@]}"} "$java" "${jvm_opts[@]}" -cp "$echo_classes:$jar:$libs/*" EchoServer "$echo_port" \
    >"$tmp/$name.log" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  wait_ready "$echo_pid" "http://127.0.0.1:$echo_port/health" "$name"
}

# client NAME CPUS SCRIPT ARGS...: runs a Node client (pinned when CPUS is set) until it ends; its progress goes to
# stderr, its tables to the results; returns its exit status
client() {
  local name=$1 cpus=$2 pid rc=0
  shift 2
  local launcher=()
  [ -n "$cpus" ] && launcher=(taskset -c "$cpus")
  ${launcher[@]+"${launcher[@]}"} node "$@" >"$tmp/$name.out" &
  pid=$!
  pids+=("$pid")
  wait "$pid" || rc=$?
  pids=($(printf '%s\n' "${pids[@]}" | grep -vx "$pid" || true))
  tee -a "$results" <"$tmp/$name.out"
  return $rc
}

results=$tmp/results.md
status=0
busy_ticks() { # busy clock ticks of the whole machine so far (every CPU state but idle and iowait)
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
busy_percent() { # busy_percent SECONDS: the machine's busy share over that time, in % of one CPU
  local a b
  a=$(busy_ticks)
  sleep "$1"
  b=$(busy_ticks)
  echo $(((b - a) * 100 / clk_tck / $1))
}
note_run() { # note_run NAME: waits for a quiet machine if asked, then records the conditions of a run
  local busy waited=0 quiet=0 limit=${BENCH_QUIET_PERCENT:-25} max=${BENCH_QUIET_MAX_S:-900}
  busy=$(busy_percent 1)
  if $wait_quiet; then
    while [ $quiet -lt 5 ] && [ $waited -lt "$max" ]; do
      if [ "$busy" -lt "$limit" ]; then quiet=$((quiet + 1)); else quiet=0; fi
      [ $quiet -lt 5 ] && busy=$(busy_percent 1) && waited=$((waited + 1))
    done
  fi
  echo "run.sh: $1 at $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), machine busy ${busy}% of one" \
    "CPU before the start$($wait_quiet && echo " (waited ${waited} s for a quiet machine)")" | tee -a "$results" >&2
}
keep_files() { # keep_files NAME: copies the run's JSON and logs to --out
  [ -n "$out" ] || return 0
  mkdir -p "$out"
  cp "$tmp/$1".* "$tmp/$1"-*.log "$out/" 2>/dev/null || true
}

run_rss() { # run_rss NAME [nmt|echo]
  local name=$1 variant=${2:-}
  # One user per socket, as users arrive: every socket's user signed in over HTTP first.
  local users=10000 steps=1000,5000,10000 idle=5
  $short && users=1000 steps=100,1000 idle=2
  extra_jvm_opts=()
  local attribution=()
  if [ "$variant" = nmt ]; then
    extra_jvm_opts=(-XX:NativeMemoryTracking=summary)
    attribution=(--histogram)
  fi
  note_run "$name"
  local rc=0 pid
  if [ "$variant" = echo ]; then
    start_echo "$name" "$server_cpus"
    pid=$echo_pid
    client "$name" "$client_cpus" "$bench/rss.mjs" --ws "ws://127.0.0.1:$echo_port/ws" --pid "$pid" \
      --steps "$steps" --idle "$idle" --sources 127.0.0.2,127.0.0.3,127.0.0.4 --jcmd "$jcmd" --label "$name" \
      --out "$tmp/$name.json" || rc=$?
  else
    start_parley "$name" "$server_cpus"
    pid=$server_pid
    client "$name" "$client_cpus" "$bench/rss.mjs" --base "http://127.0.0.1:$server_port" --pid "$pid" \
      --users "$users" --steps "$steps" --idle "$idle" --sources 127.0.0.2,127.0.0.3,127.0.0.4 --jcmd "$jcmd" \
      --label "$name" ${attribution[@]+"${attribution[@]}"} --out "$tmp/$name.json" || rc=$?
  fi
  stop "$pid"
  extra_jvm_opts=()
  keep_files "$name"
  [ $rc -eq 0 ] || { echo "run.sh: $name failed ($rc)" | tee -a "$results" >&2; status=1; }
}

run_ping() { # run_ping NAME
  local name=$1
  local connections=100 warmup=5 duration=5 rounds=6
  $short && connections=20 warmup=2 duration=2 rounds=2
  note_run "$name"
  # The rate limit (30 messages per 10 s per socket) would refuse a closed loop: raised to 100,000 a second.
  start_parley "$name" "$server_cpus" PARLEY_WS_RATE_LIMIT=100000 PARLEY_WS_RATE_WINDOW=1s PARLEY_WS_RATE_BURST=100000
  start_echo "$name-echo" "$server_cpus"
  local rc=0
  client "$name" "$client_cpus" "$bench/ping.mjs" --parley "http://127.0.0.1:$server_port" --parley-pid "$server_pid" \
    --echo "ws://127.0.0.1:$echo_port/ws" --echo-pid "$echo_pid" --connections "$connections" --warmup "$warmup" \
    --duration "$duration" --rounds "$rounds" --clk-tck "$clk_tck" --label "$name" --out "$tmp/$name.json" || rc=$?
  stop "$echo_pid"
  stop "$server_pid"
  keep_files "$name"
  [ $rc -eq 0 ] || { echo "run.sh: $name failed ($rc)" | tee -a "$results" >&2; status=1; }
}

run_latency() { # run_latency NAME USERS
  local name=$1 users=$2
  local warmup=5 duration=20 drain=30
  $short && warmup=2 duration=5 drain=15
  note_run "$name"
  start_parley "$name" "${BENCH_LATENCY_SERVER_CPUS:-}" PARLEY_AGENT_STEP_DELAY=0
  local rc=0
  client "$name" "${BENCH_LATENCY_CLIENT_CPUS:-}" "$bench/latency.mjs" --base "http://127.0.0.1:$server_port" \
    --pid "$server_pid" --users "$users" --rate 1 --warmup "$warmup" --duration "$duration" --drain "$drain" \
    --clk-tck "$clk_tck" --sources 127.0.0.2,127.0.0.3,127.0.0.4 --label "$name" --out "$tmp/$name.json" || rc=$?
  stop "$server_pid"
  keep_files "$name"
  [ $rc -eq 0 ] || { echo "run.sh: $name failed ($rc)" | tee -a "$results" >&2; status=1; }
}

# start_peer NAME: starts the peer (the replaced system's stack) on a fresh SQLite file; sets peer_pid and peer_port
start_peer() {
  local name=$1
  peer_port=$(free_port)
  /usr/bin/python3 "$bench/peer/fastapi_peer.py" "$peer_port" "$tmp/$name.db" >"$tmp/$name.log" 2>&1 &
  peer_pid=$!
  pids+=("$peer_pid")
  wait_ready "$peer_pid" "http://127.0.0.1:$peer_port/health" "$name"
}

# ratio FIELD PARLEY_JSON PEER_JSON: Parley's FIELD over the peer's, from the drivers' one-line JSON results
ratio() {
  node -e 'const [f, a, b] = process.argv.slice(1); const x = JSON.parse(require("fs").readFileSync(a, "utf8"))[f];
    const y = JSON.parse(require("fs").readFileSync(b, "utf8"))[f];
    console.log(x == null || !y ? "n/a" : (x / y).toFixed(2) + "x");' "$@"
}

# What versus lifts on Parley: the per-socket rate limit, the sign-up limit and the agent's pacing
lifted=(PARLEY_WS_RATE_LIMIT=100000 PARLEY_WS_RATE_WINDOW=1s PARLEY_WS_RATE_BURST=100000 PARLEY_AGENT_STEP_DELAY=0
  PARLEY_SIGNUP_LIMIT=100000)

run_turns() { # run_turns NAME: versus's closed loop on Parley alone, with the server's CPU time over it
  local name=$1 users=20 secs=${BENCH_TURNS_SECONDS:-10} rc=0 before after
  $short && users=10 secs=3
  note_run "$name"
  start_parley "$name" "" "${lifted[@]}"
  before=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
  client "$name" "" "$bench/peer/turns.mjs" "http://127.0.0.1:$server_port" "$users" "$secs" || rc=$?
  after=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
  echo "run.sh: $name server CPU $(((after - before) * 1000 / clk_tck)) ms over the loop" | tee -a "$results" >&2
  stop "$server_pid"
  keep_files "$name"
  [ $rc -eq 0 ] || { echo "run.sh: $name failed ($rc)" | tee -a "$results" >&2; status=1; }
}

run_versus() { # run_versus NAME
  local name=$1 users=20 secs=10 lat_users=1000 lat_secs=20 rc=0
  $short && users=10 secs=3 lat_users=100 lat_secs=5
  note_run "$name-turns-peer"
  start_peer "$name-peer"
  client "$name-turns-peer" "" "$bench/peer/turns.mjs" "http://127.0.0.1:$peer_port" "$users" "$secs" || rc=$?
  stop "$peer_pid"
  note_run "$name-turns-parley"
  start_parley "$name-turns" "" "${lifted[@]}"
  client "$name-turns-parley" "" "$bench/peer/turns.mjs" "http://127.0.0.1:$server_port" "$users" "$secs" || rc=$?
  stop "$server_pid"
  echo "run.sh: $name closed loop: Parley/peer turns/s $(ratio turnsPerSec "$tmp/$name-turns-parley.out" \
    "$tmp/$name-turns-peer.out"), turn p99 $(ratio turnP99ms "$tmp/$name-turns-parley.out" "$tmp/$name-turns-peer.out")" \
    | tee -a "$results" >&2
  note_run "$name-latency-peer"
  start_peer "$name-lpeer"
  client "$name-latency-peer" "" "$bench/peer/latency.mjs" "http://127.0.0.1:$peer_port" "$lat_users" "$lat_secs" \
    || rc=$?
  stop "$peer_pid"
  note_run "$name-latency-parley"
  start_parley "$name-latency" "" "${lifted[@]}"
  client "$name-latency-parley" "" "$bench/peer/latency.mjs" "http://127.0.0.1:$server_port" "$lat_users" \
    "$lat_secs" || rc=$?
  stop "$server_pid"
  echo "run.sh: $name open loop: Parley/peer agent_started p99 $(ratio startedP99ms "$tmp/$name-latency-parley.out" \
    "$tmp/$name-latency-peer.out"), completed $(ratio completed "$tmp/$name-latency-parley.out" \
    "$tmp/$name-latency-peer.out")" | tee -a "$results" >&2
  keep_files "$name"
  [ $rc -eq 0 ] || { echo "run.sh: $name failed ($rc)" | tee -a "$results" >&2; status=1; }
}

{
  echo "run.sh: mode $mode$($short && echo ' (short)'), repeat $repeat, $(nproc) CPUs, $(uname -r)"
  echo "run.sh: $("$java" -version 2>&1 | head -n 1); node $(node -v); fd limit $fd_limit"
  echo "run.sh: server JVM flags: ${jvm_opts[*]}; rss/ping server on CPU $server_cpus, client on CPU $client_cpus"
  echo "run.sh: Parley's AOT cache: $aot_note"
  [ -z "${BENCH_SERVER_ENV:-}" ] || echo "run.sh: extra server settings: $BENCH_SERVER_ENV"
  echo "run.sh: database: $($postgres && echo "PostgreSQL at $pg_url (a fresh database per server)" || echo "embedded (a fresh data directory per server)")"
} | tee -a "$results" >&2

for i in $(seq 1 "$repeat"); do
  case $mode in
    rss | all) run_rss "rss-$i" ;;
  esac
  case $mode in
    ping | all) run_ping "ping-$i" ;;
  esac
  case $mode in
    versus) run_versus "versus-$i" ;;
    turns) run_turns "turns-$i" ;;
  esac
  case $mode in
    latency | all)
      for users in ${latency_users//,/ }; do
        run_latency "latency-$users-$i" "$users"
      done
      ;;
  esac
done
case $mode in
  rss | all)
    if ! $short; then
      run_rss "rss-echo" echo # the same sockets on the bare Helidon echo server: what Helidon itself costs
      run_rss "rss-nmt" nmt   # attribution: native memory by category and the live heap by class
    fi
    ;;
esac

echo
echo "================ summary ================"
cat "$results"
exit $status
