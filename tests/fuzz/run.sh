#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/*.c) with clang-14, ASan and UBSan in their own
# build directory and runs each for SECONDS (default 600): first the saved regressions
# (tests/fuzz/regressions/<harness>/), then the fuzzer from the committed seeds. Prints one row
# per harness: executions, exec/s, coverage (libFuzzer's cov: and ft:) and crashes. Exits 1 when
# any harness crashed, leaked or hung; the inputs are kept under <build>/crashes/<harness>/.
# usage: tests/fuzz/run.sh [SECONDS_PER_HARNESS] [HARNESS...]
#   FORJA_FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   FORJA_FUZZ_JANSSON=0  use the system's jansson instead of an instrumented one built from the
#                         Debian source package (needs a deb-src entry: added when run as root)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FUZZ=$ROOT/tests/fuzz
BUILD=${FORJA_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=${1:-600}
shift || true
case "$SECONDS_EACH" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_HARNESS] [HARNESS...]" >&2; exit 2 ;;
esac
"$ROOT/scripts/deps.sh" fuzz
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)

# The Debian source of the jansson Forja links, compiled with coverage and the sanitizers: with
# the system's uninstrumented library libFuzzer is blind inside every JSON parse.
JANSSON=$BUILD/jansson
have_deb_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
add_deb_src() {
  local src=/etc/apt/sources.list.d/debian.sources
  [ "$(id -u)" = 0 ] && [ -f "$src" ] || return 1
  # the same URIs, suites and keys as the machine's binary sources
  sed -n '/^Types:/s/.*/Types: deb-src/p; /^\(URIs\|Suites\|Components\|Signed-By\):/p; /^$/p' \
    "$src" > /etc/apt/sources.list.d/forja-deb-src.sources
  apt-get update -q >/dev/null
}
build_jansson() {
  local work=$BUILD/jansson-src flags="-g -O1 -fno-omit-frame-pointer"
  flags+=" -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get source -q jansson >/dev/null 2>&1) || return 1
  cmake -S "$work"/jansson-*/ -B "$work/build" -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_C_FLAGS="$flags" -DJANSSON_BUILD_DOCS=OFF \
    -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON -DJANSSON_BUILD_SHARED_LIBS=OFF \
    -DCMAKE_INSTALL_PREFIX="$JANSSON" >/dev/null &&
    cmake --build "$work/build" -j2 >/dev/null &&
    cmake --install "$work/build" >/dev/null
}
jansson_prefix=
if [ "${FORJA_FUZZ_JANSSON:-1}" != 0 ]; then
  if [ ! -f "$JANSSON/lib/libjansson.a" ]; then
    echo "building an instrumented jansson from the Debian source package"
    if ! { have_deb_src || add_deb_src; } || ! build_jansson; then
      echo "warning: no instrumented jansson (no deb-src entry, or apt-get source failed):" \
           "the system's is used, coverage inside JSON parsing is not measured" >&2
    fi
  fi
  [ -f "$JANSSON/lib/libjansson.a" ] && jansson_prefix=$JANSSON
fi

mkdir -p "$BUILD/logs"
if ! { cmake -S "$ROOT" -B "$BUILD" -DFORJA_FUZZ=ON -DFORJA_TESTS=OFF \
         -DFORJA_FUZZ_JANSSON="$jansson_prefix" &&
       cmake --build "$BUILD" --target forja_fuzz -j2; } >"$BUILD/logs/build.log" 2>&1; then
  grep -m10 -E 'error|Error' "$BUILD/logs/build.log" >&2 || tail -20 "$BUILD/logs/build.log" >&2
  echo "building the harnesses failed: see $BUILD/logs/build.log" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for src in "$FUZZ"/*.c; do harnesses+=("$(basename "$src" .c)"); done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
rows=()
for h in "${harnesses[@]}"; do
  bin=$BUILD/fuzz/fuzz_$h
  corpus=$BUILD/corpus/$h
  crashes=$BUILD/crashes/$h
  log=$BUILD/logs/$h.log
  mkdir -p "$corpus" "$crashes"
  # earlier runs' crash inputs stay until someone saves or removes them; count only new ones
  before=$(find "$crashes" -type f | wc -l)
  [ -x "$bin" ] || { echo "no harness $h" >&2; exit 2; }
  seeds=()
  [ -d "$FUZZ/corpus/$h" ] && seeds+=("$FUZZ/corpus/$h")
  # the webhook deliveries the tests use are seeds too
  if [ "$h" = webhook_body ]; then
    for f in "$ROOT"/tests/fixtures/github/*.json; do
      [ -f "$f" ] && { printf '0'; cat "$f"; } > "$corpus/fixture-$(basename "$f")"
    done
  fi
  dict=()
  [ -f "$FUZZ/$h.dict" ] && dict=(-dict="$FUZZ/$h.dict")
  crashed=0
  # every input that ever crashed a harness must keep passing
  if [ -d "$FUZZ/regressions/$h" ] && [ -n "$(ls -A "$FUZZ/regressions/$h")" ]; then
    if ! "$bin" -runs=1 "$FUZZ/regressions/$h"/* >"$log.regressions" 2>&1; then
      echo "$h: a saved regression fails again (see $log.regressions)" >&2
      crashed=1
    fi
  fi
  rc=0
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || crashed=1
  found=$(( $(find "$crashes" -type f | wc -l) - before ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d" " -f2 || true)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d" " -f2 || true)
  if [ "$crashed" = 1 ]; then
    failed=1
    echo "$h crashed (exit $rc): see $log and $crashes/" >&2
    grep -m3 -E 'ERROR|SUMMARY|runtime error' "$log" >&2 || tail -3 "$log" >&2
  fi
  rows+=("$(printf '%-18s %6s %12s %8s %6s %6s %8s' "$h" "$SECONDS_EACH" "${execs:--}" \
    "${speed:--}" "${cov:--}" "${ft:--}" "$found")")
done

printf '%-18s %6s %12s %8s %6s %6s %8s\n' harness secs executions exec/s cov ft crashes
printf '%s\n' "${rows[@]}"
[ -n "$jansson_prefix" ] || echo "(jansson not instrumented: its code is not in cov/ft)"
exit "$failed"
