# shellcheck shell=bash
# The flags every AOT cache training run adds, shared by bin/parley, bin/image.sh and bench/run.sh.
#
# aot_training_flags FEATURE: prints them, one per line, for a JDK of that feature version. Java 25 can store two
# method adapters under one hash and then warns on every start (JDK-8364929, fixed in 26); leaving adapters out of
# the cache avoids that.
aot_training_flags() {
  if [ "$1" -eq 25 ]; then
    printf '%s\n' -XX:+UnlockDiagnosticVMOptions -XX:-AOTAdapterCaching
  fi
}
