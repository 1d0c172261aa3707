#!/usr/bin/env bash
# Builds Parley's container image with no Docker daemon: a jlink'd Java runtime holding only the modules
# the server uses, the C library copied from this machine, the server's jars, and a JDK AOT cache trained
# on that very runtime; Jib assembles them into an OCI tarball (or pushes them to a registry).
#
# Layers, bottom to top: runtime (/opt/java, the C library, /etc, /tmp, /data), libraries (/app/libs, /app/native),
# Jib's small argument-file layer, application (/app/parley-server.jar and /app/parley.aot). The first two
# come from a docker-archive tarball this script writes (Jib reads it as the base image), because Jib's own
# layers cannot give /data to the non-root user; the last one is Jib's extra-files layer.
#
# The JVM flags below are the single source for the image's entrypoint AND for the training run, so the AOT
# cache is always created with the flags it is used with. The Dockerfile repeats them; ImageIT checks that
# the two agree.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bin/image.sh [OPTIONS]

Builds the server's container image without Docker. The last line printed is the tarball's path
(or, with --push, the pushed image reference with its digest).

Options:
  --no-aot        leave the AOT cache out (a smaller image that starts more slowly)
  --skip-build    use server/target as it is instead of building the server first
  --output FILE   where to write the tarball (default: image/target/parley-image.tar)
  --push REF      push to a registry instead of writing a tarball, e.g.
                  us-central1-docker.pkg.dev/PROJECT/parley/parley:abc1234; credentials come from
                  docker-credential-gcloud (part of the Google Cloud CLI)
  --rootfs DIR    only assemble the image's filesystem in DIR, without Jib (the Dockerfile uses this)
  -h, --help      show this text

Environment:
  PARLEY_IMAGE_JDK  the JDK 25+ whose jlink, jdeps and runtime go into the image
                    (default: the newest one bin/lib/jdk.sh finds, else /usr/lib/jvm/temurin-25-jdk-amd64)
EOF
}

# The image's JVM flags (before the optional AOT cache flag): heap from the container's memory limit,
# the serial collector (one vCPU; no GC threads competing with requests), and exit instead of limping on
# after an OutOfMemoryError so that the platform restarts the instance; every 5 s the C library's allocator gives
# back the pages its freed blocks left (the JIT compilers' arenas above all), which it would otherwise keep.
# sqlite-jdbc loads its native library from /app/native instead of extracting it from its jar to /tmp at every start
# (60-100 ms of a one-CPU start, and 1 MB of /tmp, which is memory on Cloud Run).
JAVA_FLAGS=(-XX:MaxRAMPercentage=65 -XX:+UseSerialGC -XX:NewSize=24m -XX:+ExitOnOutOfMemoryError
  -XX:TrimNativeHeapInterval=5000
  -Dorg.sqlite.lib.path=/app/native -Dorg.sqlite.lib.name=libsqlitejdbc.so)
AOT_FLAG=-XX:AOTCache=/app/parley.aot
APP_ARGS=(-jar /app/parley-server.jar serve)
# The image's user; /data belongs to it.
USER_ID=65532

log() { printf 'image: %s\n' "$*" >&2; }
fail() {
  printf 'image: %s\n' "$*" >&2
  exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

aot=true build=true output='' push='' rootfs_only=''
while [ $# -gt 0 ]; do
  case $1 in
    --no-aot) aot=false ;;
    --skip-build) build=false ;;
    --output) output=${2:?--output needs a file}; shift ;;
    --output=*) output=${1#*=} ;;
    --push) push=${2:?--push needs an image reference}; shift ;;
    --push=*) push=${1#*=} ;;
    --rootfs) rootfs_only=${2:?--rootfs needs a directory}; shift ;;
    --rootfs=*) rootfs_only=${1#*=} ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'image: unknown option %s\n' "$1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

[ "$(uname -s)" = Linux ] || fail "the image holds Linux binaries taken from this machine, so build it on Linux (or use the Dockerfile)"

# --- the JDK ------------------------------------------------------------------------------------------
if [ -n "${PARLEY_IMAGE_JDK-}" ]; then
  jdk=$PARLEY_IMAGE_JDK
elif [ -f "$root/bin/lib/jdk.sh" ]; then
  # shellcheck source=lib/jdk.sh
  . "$root/bin/lib/jdk.sh"
  require_jdk 25 || exit 1
  jdk=$JDK_HOME
else
  jdk=/usr/lib/jvm/temurin-25-jdk-amd64
fi
for tool in java jlink jdeps; do
  [ -x "$jdk/bin/$tool" ] || fail "$jdk has no bin/$tool; point PARLEY_IMAGE_JDK at a full JDK 25 or newer"
done
feature=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p')
[ "${feature:-0}" -ge 25 ] 2>/dev/null || fail "$jdk is Java ${feature:-of unknown version}; the AOT cache needs Java 25 or newer (set PARLEY_IMAGE_JDK)"

if [ -x "$root/mvnw" ]; then
  mvn=("$root/mvnw")
else
  mvn=(mvn)
fi

jar=$root/server/target/parley-server.jar
libs=$root/server/target/libs
work=$root/image/target

# --- build the server ---------------------------------------------------------------------------------
if [ "$build" = true ]; then
  log "building the server"
  (cd "$root" && JAVA_HOME=$jdk "${mvn[@]}" -q -B -Dstyle.color=never -DskipTests -pl server -am package >&2) \
    || fail "the server build failed; see the output above"
fi
{ [ -f "$jar" ] && [ -d "$libs" ]; } || fail "$jar or $libs is missing; run without --skip-build"

# --- the filesystem -----------------------------------------------------------------------------------
if [ -n "$rootfs_only" ]; then
  rootfs=$rootfs_only
else
  rootfs=$work/rootfs
fi
rm -rf "$rootfs"
mkdir -p "$rootfs" "$work"
rootfs=$(cd "$rootfs" && pwd -P)

# Modules: what jdeps finds in the server and every library, minus java.desktop (AWT and Swing: only
# PostgreSQL's PGpoint <-> java.awt.Point conversion uses it, and it costs 15 MB), plus
# modules that libraries reach only by reflection or a service lookup, which jdeps cannot see:
# jdk.unsupported (sun.misc.Unsafe, probed by Nimbus) and jdk.zipfs (Helidon's metadata reader opens
# jars as file systems). TLS (PostgreSQL, Redis, LLM providers over HTTPS) needs nothing beyond java.base
# (JSSE, and elliptic curves since Java 22, when jdk.crypto.ec became an empty module) and java.net.http,
# which jdeps finds once an HTTP client uses it.
found=$("$jdk/bin/jdeps" --ignore-missing-deps --multi-release "$feature" --print-module-deps \
  --class-path "$libs/*" "$jar" "$libs"/*.jar 2>/dev/null | tail -n 1)
[[ $found =~ ^[a-z0-9.]+(,[a-z0-9.]+)*$ ]] || fail "jdeps printed no module list (got '$found')"
# shellcheck disable=SC2086 # splitting the list into words is the point
modules=$(printf '%s\n' ${found//,/ } jdk.unsupported jdk.zipfs | grep -vx 'java.desktop' | sort -u | paste -sd, -)
log "runtime modules: $modules"
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress zip-6 \
  --output "$rootfs/opt/java" >&2
# libjvm.so carries a 5 MB symbol table that only makes crash reports more readable.
if command -v strip >/dev/null; then
  strip --strip-unneeded "$rootfs/opt/java/lib/server/libjvm.so"
fi

# The C library: every shared object the runtime's binaries and libraries load from outside the runtime, at
# the same paths as here, plus what glibc opens by name at run time (name service switch and DNS modules;
# libgcc_s for thread cancellation).
needed=$(
  for f in "$rootfs"/opt/java/bin/* $(find "$rootfs/opt/java/lib" -name '*.so'); do ldd "$f" 2>/dev/null || true; done \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | grep -v "^$rootfs/" | sort -u
)
libc=$(printf '%s\n' "$needed" | grep '/libc\.so\.6$' | head -n 1)
[ -n "$libc" ] || fail "ldd found no glibc libc.so.6 for the runtime (a musl system cannot build this image; use the Dockerfile)"
for name in libnss_files.so.2 libnss_dns.so.2 libresolv.so.2 libgcc_s.so.1; do
  [ ! -e "$(dirname "$libc")/$name" ] || needed=$(printf '%s\n%s' "$needed" "$(dirname "$libc")/$name")
done
for lib in $needed; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/data" "$rootfs/app/libs"
printf 'root:x:0:0:root:/root:/sbin/nologin\nparley:x:%s:%s:Parley:/data:/sbin/nologin\n' "$USER_ID" "$USER_ID" >"$rootfs/etc/passwd"
printf 'root:x:0:\nparley:x:%s:\n' "$USER_ID" >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
# Container runtimes mount their own /etc/hosts and /etc/resolv.conf over these.
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$rootfs/etc/hosts"
chmod 1777 "$rootfs/tmp"
chmod 0700 "$rootfs/data"
if [ "$(id -u)" = 0 ]; then
  chown "$USER_ID:$USER_ID" "$rootfs/data"
fi
cp "$jar" "$rootfs/app/parley-server.jar"
cp "$libs"/*.jar "$rootfs/app/libs/"
# sqlite-jdbc carries its native library for 24 platforms (21 MB unpacked); the image runs on one, Linux with
# glibc on this machine's architecture. That one goes to /app/native (JAVA_FLAGS point sqlite-jdbc at it), and every
# native library is dropped from the image's copy of the jar, under the same name.
slim_sqlite_jar() {
  local jar=$1 arch work
  case $(uname -m) in
    x86_64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) return 0 ;;
  esac
  work=$(mktemp -d)
  (cd "$work" && "$jdk/bin/jar" xf "$jar")
  [ -f "$work/org/sqlite/native/Linux/$arch/libsqlitejdbc.so" ] || fail "$jar has no Linux/$arch native library"
  mkdir -p "$rootfs/app/native"
  cp "$work/org/sqlite/native/Linux/$arch/libsqlitejdbc.so" "$rootfs/app/native/"
  rm -rf "$work/org/sqlite/native"
  rm "$jar"
  "$jdk/bin/jar" --create --file "$jar" --manifest "$work/META-INF/MANIFEST.MF" -C "$work" .
  rm -rf "$work"
}
for sqlite_jar in "$rootfs"/app/libs/sqlite-jdbc-*.jar; do
  slim_sqlite_jar "$sqlite_jar"
done
# BouncyCastle's provider jar (7 MB) is there for one thing, Argon2id password hashes: the image's copy keeps the
# classes the server's own code reaches in it, directly or through other BouncyCastle classes (jdeps follows every
# static reference; the server uses BouncyCastle's lightweight API, which finds nothing by reflection), and drops
# the rest, the module descriptor and the signature files with it (the jar is on the class path, unsigned use).
slim_bouncycastle_jar() {
  local jar=$1 work list
  work=$(mktemp -d)
  # Class -> class edges, without the version prefix of multi-release entries (23/org/... is org/...).
  "$jdk/bin/jdeps" -verbose:class -filter:none --multi-release "$feature" "$jar" 2>/dev/null \
    | awk '$2 == "->" && $3 ~ /^([0-9]+\/)?org\.bouncycastle\./ { sub(/^[0-9]+\//, "", $1); sub(/^[0-9]+\//, "", $3); print $1, $3 }' \
    >"$work/edges"
  "$jdk/bin/jdeps" -verbose:class -filter:none --multi-release "$feature" --class-path "$libs/*" "$rootfs/app/parley-server.jar" \
    2>/dev/null | awk '$2 == "->" && $3 ~ /^org\.bouncycastle\./ { print $3 }' | sort -u >"$work/roots"
  [ -s "$work/roots" ] || { rm -rf "$work"; return 0; }
  list=$(awk 'NR == FNR { next_of[$1] = next_of[$1] " " $2; next }
    { queue[++n] = $1; seen[$1] = 1 }
    END {
      for (i = 1; i <= n; i++) {
        k = split(next_of[queue[i]], out, " ")
        for (j = 1; j <= k; j++) if (!(out[j] in seen)) { seen[out[j]] = 1; queue[++n] = out[j] }
      }
      for (c in seen) { gsub(/\./, "/", c); print c }
    }' "$work/edges" "$work/roots")
  mkdir "$work/all" "$work/kept"
  (cd "$work/all" && "$jdk/bin/jar" xf "$jar")
  local class path
  for class in $list; do
    for path in "$work/all/$class.class" "$work/all"/META-INF/versions/*/"$class.class"; do
      [ -f "$path" ] || continue
      mkdir -p "$work/kept/$(dirname "${path#"$work/all/"}")"
      cp "$path" "$work/kept/${path#"$work/all/"}"
    done
  done
  printf 'Manifest-Version: 1.0\nMulti-Release: true\n' >"$work/manifest"
  rm "$jar"
  "$jdk/bin/jar" --create --file "$jar" --manifest "$work/manifest" -C "$work/kept" .
  log "$(basename "$jar"): kept $(printf '%s\n' "$list" | wc -l) classes the server reaches"
  rm -rf "$work"
}
for bouncycastle_jar in "$rootfs"/app/libs/bcprov-*.jar; do
  slim_bouncycastle_jar "$bouncycastle_jar"
done
# Local variable tables (names of locals, for debuggers) go from every class the image holds, as --strip-debug did for
# the runtime: 8% of the classes' bytes and of what the AOT cache keeps of them. Line numbers stay.
"$jdk/bin/java" "$root/bin/lib/StripLocals.java" "$rootfs"/app/libs/*.jar "$rootfs/app/parley-server.jar" \
  | sed 's/^/image: /' >&2 || fail "stripping local variable tables failed"
# Jib gives every file it adds this modification time; the AOT cache records the jars' times and refuses
# to load against different ones, so the training run must see the same.
find "$rootfs" -exec touch -h -d @1 {} +

# shellcheck source=lib/aot.sh
. "$root/bin/lib/aot.sh"

# --- the AOT cache ------------------------------------------------------------------------------------
# `parley-server.jar train` is the training workload: a real server on a free port and a scratch data directory,
# and clients that sign up, sign in, open sockets and run a few thousand turns through it over HTTP and WebSocket
# (Training.java). Run under the image's own runtime and flags, so that the cache holds the classes, and the
# method profiles, of a fresh instance's first requests and turns.
train() {
  local scratch
  scratch=$(mktemp -d)
  log "training the AOT cache (the server's training workload, then exit)"
  # The same flags, with the native library's directory as this machine sees it (a system property: the AOT cache
  # does not depend on it).
  local flags=("${JAVA_FLAGS[@]}" -XX:MaxRAM=512m "-Dorg.sqlite.lib.path=$rootfs/app/native")
  # shellcheck disable=SC2207 # one flag per line, none with spaces
  flags+=($(aot_training_flags "$feature"))
  if ! env -i PATH=/usr/bin:/bin HOME="$scratch" \
    "$rootfs/opt/java/bin/java" "${flags[@]}" -XX:AOTCacheOutput="$rootfs/app/parley.aot" \
    -jar "$rootfs/app/parley-server.jar" train >"$work/training.log" 2>&1; then
    cat "$work/training.log" >&2
    rm -rf "$scratch"
    fail "the training run failed (log above, also in $work/training.log)"
  fi
  rm -rf "$scratch"
  [ -s "$rootfs/app/parley.aot" ] || { cat "$work/training.log" >&2; fail "the training run wrote no AOT cache"; }
  touch -d @1 "$rootfs/app/parley.aot"
}

entrypoint=(/opt/java/bin/java "${JAVA_FLAGS[@]}")
if [ "$aot" = true ]; then
  train
  entrypoint+=("$AOT_FLAG")
fi
entrypoint+=("${APP_ARGS[@]}")
size=$(du -sb "$rootfs" | cut -f1)
log "filesystem: $rootfs, $((size / 1000000)) MB ($size bytes)"
if [ -n "$rootfs_only" ]; then
  printf '%s\n' "$rootfs"
  exit 0
fi

# --- the base image: two layers in a docker-archive tarball -------------------------------------------
base=$work/base
rm -rf "$base"
mkdir -p "$base"
tar_layer() {
  tar --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@1 -C "$rootfs" "$@"
}
tar_layer --exclude=./app --exclude=./data -cf "$base/runtime.tar" .
tar_layer --owner="$USER_ID" --group="$USER_ID" --no-recursion -rf "$base/runtime.tar" ./data
tar_layer --no-recursion -cf "$base/libraries.tar" ./app
tar_layer -rf "$base/libraries.tar" ./app/libs ./app/native
arch=$(uname -m)
case $arch in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
esac
runtime_id=$(sha256sum "$base/runtime.tar" | cut -d' ' -f1)
libraries_id=$(sha256sum "$base/libraries.tar" | cut -d' ' -f1)
printf '{"architecture":"%s","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"bin/image.sh","comment":"Java runtime and C library"},{"created":"1970-01-01T00:00:00Z","created_by":"bin/image.sh","comment":"libraries"}]}' \
  "$arch" "$runtime_id" "$libraries_id" >"$base/config.json"
printf '[{"Config":"config.json","RepoTags":["parley-base:local"],"Layers":["runtime.tar","libraries.tar"]}]' >"$base/manifest.json"
tar --mtime=@1 -C "$base" -cf "$work/base.tar" manifest.json config.json runtime.tar libraries.tar
rm -rf "$base"

# --- Jib ----------------------------------------------------------------------------------------------
extra=$work/extra
rm -rf "$extra"
mkdir -p "$extra/app" "$root/image/target/classes"
cp -p "$rootfs/app/parley-server.jar" "$extra/app/"
[ "$aot" = false ] || cp -p "$rootfs/app/parley.aot" "$extra/app/"
revision=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
jib_args=(
  -q -B -Dstyle.color=never -f "$root/image/pom.xml"
  "-Dparley.image.base=tar://$work/base.tar"
  "-Dparley.image.extra=$extra"
  "-Dparley.image.revision=$revision"
  "-Djib.container.entrypoint=$(IFS=,; printf '%s' "${entrypoint[*]}")"
)
if [ -n "$push" ]; then
  log "pushing $push"
  (cd "$root/image" && "${mvn[@]}" "${jib_args[@]}" -Djib.to.image="$push" -Djib.to.credHelper=gcloud jib:build >&2) \
    || fail "the push failed; see the output above (is docker-credential-gcloud on PATH and are you logged in?)"
  digest=$(cat "$work/jib-image.digest")
  name=${push%@*}
  case ${name##*/} in
    *:*) name=${name%:*} ;;
  esac
  printf '%s@%s\n' "$name" "$digest"
  exit 0
fi

output=${output:-$work/parley-image.tar}
mkdir -p "$(dirname "$output")"
output=$(cd "$(dirname "$output")" && pwd -P)/$(basename "$output")
(cd "$root/image" && "${mvn[@]}" "${jib_args[@]}" -Djib.outputPaths.tar="$output" jib:buildTar >&2) \
  || fail "Jib failed; see the output above"
log "tarball: $output, $(($(stat -c %s "$output") / 1000000)) MB compressed; filesystem $((size / 1000000)) MB unpacked"
printf '%s\n' "$output"
