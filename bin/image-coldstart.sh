#!/usr/bin/env bash
# Measures the image's cold start on one CPU: unpacks the OCI tarball, runs its entrypoint from the image's own
# filesystem with chroot pinned to CPU 0 (close to a 1-vCPU Cloud Run instance), and times process spawn ->
# first 200 from /health/ready, polled from CPU 1, and the CPU time (user + system) the server had used by then: the
# work of starting, which other load on a shared machine does not inflate as it does the wall time. Each run starts
# on an empty /data, as a new instance does.
# Runs with the AOT cache (the image's entrypoint as it is) and without it (the same entrypoint minus
# -XX:AOTCache). Needs root (chroot, mount), curl and taskset; two CPUs.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bin/image-coldstart.sh [--runs N] [TARBALL]

TARBALL defaults to image/target/parley-image.tar (bin/image.sh writes it). Prints each run in ms (wall, then the server's CPU time) and
min/median/max per variant.
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
runs=7 tarball=$root/image/target/parley-image.tar
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=${2:?}; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; exit 2 ;;
    *) tarball=$1 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "coldstart: needs root (chroot and mount)" >&2; exit 1; }
[ -f "$tarball" ] || { echo "coldstart: no image at $tarball; run bin/image.sh first" >&2; exit 1; }

work=$(mktemp -d)
rootfs=$work/rootfs
server=''
cleanup() {
  [ -z "$server" ] || kill -KILL "$server" 2>/dev/null || true
  if mountpoint -q "$rootfs/proc" 2>/dev/null; then
    umount "$rootfs/proc"
  fi
  mountpoint -q "$rootfs/proc" 2>/dev/null || rm -rf "$work"
}
trap cleanup EXIT

# The OCI layout, read with grep: one manifest; the config's digest comes before the layers' in it.
mkdir -p "$work/layout" "$rootfs"
tar -xf "$tarball" -C "$work/layout"
blob() { printf '%s/layout/blobs/sha256/%s' "$work" "${1#sha256:}"; }
digests() { grep -o '"digest":"sha256:[0-9a-f]*"' "$1" | sed 's/"digest":"//; s/"$//'; }
manifest=$(blob "$(digests "$work/layout/index.json" | head -n 1)")
config=$(blob "$(digests "$manifest" | head -n 1)")
for layer in $(digests "$manifest" | tail -n +2); do
  tar --warning=no-unknown-keyword --numeric-owner -xzf "$(blob "$layer")" -C "$rootfs"
done
json_array() { grep -o "\"$1\":\[[^]]*\]" "$config" | sed "s/^\"$1\":\[\"//; s/\"\]$//; s/\",\"/\n/g"; }
mapfile -t entrypoint < <(json_array Entrypoint)
mapfile -t environment < <(json_array Env)
user=$(grep -o '"User":"[^"]*"' "$config" | sed 's/"User":"//; s/"$//')

# What a container runtime provides.
mkdir -p "$rootfs/proc" "$rootfs/dev"
mount -t proc proc "$rootfs/proc"
for device in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9"; do
  # shellcheck disable=SC2086 # name, major and minor as three words
  set -- $device
  mknod -m 666 "$rootfs/dev/$1" c "$2" "$3"
done
cp /etc/hosts /etc/resolv.conf "$rootfs/etc/"

port=18180
taskset=$(command -v taskset)
chroot=$(command -v chroot)
last_ms=0 last_cpu_ms=0
ticks=$(getconf CLK_TCK)
# Sets last_ms to the ms from spawn to the first 200 of /health/ready for one start of the given command, and
# last_cpu_ms to the server's CPU time then (env, taskset and chroot each exec the next, so $! is the JVM).
one_start() {
  rm -rf "${rootfs:?}/data/"* "$rootfs/tmp/"*
  local start end code
  start=$(date +%s%N)
  env -i "${environment[@]}" PORT=$port "$taskset" -c 0 "$chroot" --userspec="$user" "$rootfs" "$@" >"$work/server.log" 2>&1 &
  server=$!
  until code=$(taskset -c 1 curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/health/ready") \
      && [ "$code" = 200 ]; do
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; echo "coldstart: the server died" >&2; exit 1; }
  done
  end=$(date +%s%N)
  local stat
  stat=$(cat "/proc/$server/stat")
  stat=${stat##*) }
  # shellcheck disable=SC2086 # the fields after the command name, as words
  set -- $stat
  last_cpu_ms=$(((${12} + ${13}) * 1000 / ticks))
  kill -TERM "$server"
  wait "$server" || true
  server=''
  last_ms=$(((end - start) / 1000000))
}

summary() {
  local label=$1
  shift
  local sorted
  sorted=$(printf '%s\n' "$@" | sort -n)
  printf '%-14s min %5d  median %5d  max %5d ms   (runs: %s)\n' "$label" "$(head -n 1 <<<"$sorted")" \
    "$(sed -n "$((($# + 1) / 2))p" <<<"$sorted")" "$(tail -n 1 <<<"$sorted")" "$*"
}

without=()
for arg in "${entrypoint[@]}"; do
  case $arg in -XX:AOTCache=*) ;; *) without+=("$arg") ;; esac
done
has_aot=false
[ "${#without[@]}" -eq "${#entrypoint[@]}" ] || has_aot=true

echo "image: $tarball ($(du -sb "$rootfs" --exclude=proc | cut -f1) bytes unpacked); load: $(cut -d' ' -f1-3 /proc/loadavg)"
# One start of each, not counted: the page cache then holds the image's files for every variant alike.
one_start "${entrypoint[@]}"
with_times=() without_times=() with_cpu=() without_cpu=()
for _ in $(seq 1 "$runs"); do
  # Interleaved, so that load from elsewhere on the machine hits both variants alike.
  if [ "$has_aot" = true ]; then
    one_start "${entrypoint[@]}"
    with_times+=("$last_ms")
    with_cpu+=("$last_cpu_ms")
  fi
  one_start "${without[@]}"
  without_times+=("$last_ms")
  without_cpu+=("$last_cpu_ms")
done
[ "$has_aot" = false ] || summary "AOT cache" "${with_times[@]}"
[ "$has_aot" = false ] || summary "  CPU time" "${with_cpu[@]}"
summary "no AOT cache" "${without_times[@]}"
summary "  CPU time" "${without_cpu[@]}"
