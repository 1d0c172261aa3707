# shellcheck shell=bash
# The flags every AOT cache training run adds, shared by bin/parley, bin/image.sh and bench/run.sh.
#
# aot_training_flags FEATURE: prints them, one per line, for a JDK of that feature version (25 or newer).
# - No method profiles in the cache (-XX:-AOTRecordTraining): a start replays them by compiling the training's hot
#   methods at once, which on one CPU competes with the start itself and with its first requests (docs/benchmarks.md,
#   "JIT compilation during a start").
# - Java 25 can store two method adapters under one hash and then warns on every start (JDK-8364929, fixed in 26);
#   leaving adapters out of the cache avoids that.
aot_training_flags() {
  printf '%s\n' -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining
  if [ "$1" -eq 25 ]; then
    printf '%s\n' -XX:-AOTAdapterCaching
  fi
}
