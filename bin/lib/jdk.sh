# shellcheck shell=bash disable=SC2034  # JDK_HOME and JDK_FEATURE are for the caller
# Finds a Java runtime of a minimum feature version. Sourced by bin/parley and .ci/run; written for
# bash 3.2 too (macOS): no associative arrays, mapfile or ${var,,}.
#
# require_jdk MIN sets JDK_HOME and JDK_FEATURE, or prints one error naming every place it looked
# and returns 1. Order: $JAVA_HOME, then `java` on PATH (either wins if it is new enough, since
# someone chose it), then the newest one under the install folders.
#
# PARLEY_JDK_SEARCH_PATH, if set, replaces the install folders: a colon-separated list of glob
# patterns, each matching JDK homes (the default is listed in _jdk_default_search_path).

_jdk_default_search_path() {
  printf '%s' "/usr/lib/jvm/*:/opt/java/*:/opt/jdk*:/usr/local/lib/jvm/*:$HOME/.sdkman/candidates/java/*"
  printf '%s' ":/Library/Java/JavaVirtualMachines/*/Contents/Home"
}

# Prints the path with every symlink resolved; `readlink -f` is missing on older macOS.
_jdk_resolve() {
  local path=$1 link
  while [ -L "$path" ]; do
    link=$(readlink "$path")
    case $link in
      /*) path=$link ;;
      *) path=$(dirname "$path")/$link ;;
    esac
  done
  (cd "$(dirname "$path")" 2>/dev/null && printf '%s/%s\n' "$(pwd -P)" "$(basename "$path")")
}

# Prints the feature version (8, 17, 21, 25...) of the runtime at HOME, or nothing. The release
# file is read first because starting a JVM per candidate is slow.
_jdk_feature() {
  local home=$1 version=''
  if [ -f "$home/release" ]; then
    version=$(sed -n 's/^JAVA_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$home/release" | head -n 1)
  fi
  if [ -z "$version" ] && [ -x "$home/bin/java" ]; then
    version=$("$home/bin/java" -version 2>&1 | sed -n 's/^[^ ]* version "\([^"]*\)".*/\1/p' | head -n 1)
  fi
  case $version in
    1.*) version=${version#1.} ;; # 1.8.0_392 is Java 8
  esac
  version=${version%%[!0-9]*}
  printf '%s' "$version"
}

_jdk_looked=''
_jdk_checked_feature=''

# Notes a candidate home in _jdk_looked (for the error message) and sets _jdk_checked_feature to
# its feature version; fails if it has no runnable bin/java. Not run in a subshell, so that the
# notes survive.
_jdk_check() {
  local label=$1 home=$2
  _jdk_checked_feature=''
  if [ ! -x "$home/bin/java" ]; then
    _jdk_looked="$_jdk_looked"$'\n'"  $label: no bin/java"
    return 1
  fi
  _jdk_checked_feature=$(_jdk_feature "$home")
  _jdk_looked="$_jdk_looked"$'\n'"  $label: Java ${_jdk_checked_feature:-of unknown version}"
}

require_jdk() {
  local min=$1 home java_on_path pattern patterns restore_nullglob best_home='' best_feature=0
  local old_ifs=$IFS search_path=${PARLEY_JDK_SEARCH_PATH-$(_jdk_default_search_path)}
  _jdk_looked=''

  if [ -n "${JAVA_HOME-}" ]; then
    if _jdk_check "JAVA_HOME=$JAVA_HOME" "$JAVA_HOME" && [ "${_jdk_checked_feature:-0}" -ge "$min" ]; then
      JDK_HOME=$JAVA_HOME JDK_FEATURE=$_jdk_checked_feature
      return 0
    fi
  else
    _jdk_looked="$_jdk_looked"$'\n'"  JAVA_HOME: not set"
  fi

  if java_on_path=$(command -v java); then
    home=$(dirname "$(dirname "$(_jdk_resolve "$java_on_path")")")
    if _jdk_check "java on PATH ($java_on_path -> $home)" "$home" \
        && [ "${_jdk_checked_feature:-0}" -ge "$min" ]; then
      JDK_HOME=$home JDK_FEATURE=$_jdk_checked_feature
      return 0
    fi
  else
    _jdk_looked="$_jdk_looked"$'\n'"  java on PATH: none"
  fi

  # Splitting on ':' first and globbing with IFS empty keeps a pattern with spaces in one piece.
  IFS=: read -r -a patterns <<<"$search_path"
  [ -n "$search_path" ] || _jdk_looked="$_jdk_looked"$'\n'"  install folders: none (PARLEY_JDK_SEARCH_PATH is empty)"
  restore_nullglob=$(shopt -p nullglob || true)
  shopt -s nullglob
  for pattern in ${patterns[@]+"${patterns[@]}"}; do
    [ -n "$pattern" ] || continue
    IFS=''
    # shellcheck disable=SC2086  # unquoted on purpose: this is the glob expansion
    set -- $pattern
    IFS=$old_ifs
    if [ $# -eq 0 ]; then
      _jdk_looked="$_jdk_looked"$'\n'"  $pattern: nothing there"
    fi
    for home in "$@"; do
      home=${home%/}
      if _jdk_check "$home" "$home" && [ "${_jdk_checked_feature:-0}" -gt "$best_feature" ]; then
        best_home=$home best_feature=$_jdk_checked_feature
      fi
    done
  done
  eval "$restore_nullglob"

  if [ "$best_feature" -ge "$min" ]; then
    JDK_HOME=$best_home JDK_FEATURE=$best_feature
    return 0
  fi
  {
    printf 'parley: needs Java %s or newer and found none. Looked at:%s\n' "$min" "$_jdk_looked"
    printf 'Install a JDK %s or newer, or point JAVA_HOME (or PARLEY_JDK_SEARCH_PATH) at one.\n' "$min"
  } >&2
  return 1
}
