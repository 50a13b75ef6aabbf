#!/usr/bin/env bash
# The test command: installs what is missing, builds with AddressSanitizer + UBSan and -Werror,
# starts dockerd (if none runs), a registry, a git daemon, an authenticated smart-HTTP git server
# (lighttpd), an sshd with a deploy key and two extra engines (unix socket, TCP+TLS; not with
# FORJA_TEST_EXTRA_ENGINES=0) on loopback, runs the whole suite, and stops exactly what it
# started, even when tests fail.
# usage: scripts/test.sh [ctest arguments, e.g. -R webhook]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FORJA_TEST_BUILD_DIR:-$ROOT/build-test}
STATE=$(mktemp -d "${TMPDIR:-/tmp}/forja-test-services.XXXXXX")
started=0
t0=$(date +%s)

cleanup() {
  local rc=$?
  if [ "$started" = 1 ]; then "$ROOT/scripts/services.sh" stop "$STATE" || true; fi
  rm -rf "$STATE"
  echo "test command finished in $(( $(date +%s) - t0 )) s (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/deps.sh" test
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DFORJA_SANITIZE=ON -DFORJA_WERROR=ON >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

started=1
"$ROOT/scripts/services.sh" start "$STATE"
# shellcheck disable=SC1091
source "$STATE/env"
export FORJA_SOURCE_DIR=$ROOT
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:print_summary=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$ROOT/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cd "$BUILD"
ctest --output-on-failure --timeout 900 "$@"
