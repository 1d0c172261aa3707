# shellcheck shell=bash
# The flags every AOT cache training run adds, shared by bin/parley, bin/image.sh and bench/run.sh.
#
# aot_training_flags FEATURE: prints them, one per line, for a JDK of that feature version (25 or newer).
# - The cache keeps the training's method profiles: a fresh instance's first seconds under load then run compiled
#   code much sooner (1,000 users' open loop from a fresh start: agent_started p99 23-63 ms with them against
#   115-321 ms without), for about 4 MB more cache and a start within the machine's spread of one without them
#   (docs/benchmarks.md, "JIT compilation during a start").
# - Java 25 can store two method adapters under one hash and then warns on every start (JDK-8364929, fixed in 26);
#   leaving adapters out of the cache avoids that.
aot_training_flags() {
  if [ "$1" -eq 25 ]; then
    printf '%s\n' -XX:+UnlockDiagnosticVMOptions -XX:-AOTAdapterCaching
  fi
}
