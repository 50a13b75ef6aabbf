# The frame of a shell test that runs forja against the services of the test command: the skip
# when they are absent, a scratch directory cleaned up at exit, and the count of checks. Source
# it (it sources scripts/lib.sh and tests/cli/lib.sh); set FORJA (the binary) first.

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
# shellcheck source=tests/cli/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# needs_test_services VAR... : exits 77 (skipped) unless scripts/test.sh set every VAR
needs_test_services() {
  local v
  for v in "$@"; do
    if [ -z "${!v:-}" ]; then echo "SKIP: $v is not set (run under scripts/test.sh)"; exit 77; fi
  done
}

# test_begin NAME : skipped without the git daemon, the registry and the base image; else WORK
# (a scratch directory), name=NAME-PID (a repository the git daemon serves), FORJA_PID (empty)
# and the counts; at exit the server still running is killed, WORK and the repository removed
test_begin() {
  needs_test_services FORJA_TEST_GIT_DIR FORJA_TEST_GIT_URL FORJA_TEST_REGISTRY FORJA_TEST_BASE_IMAGE
  WORK=$(mktemp -d)
  name=$1-$$
  FORJA_PID=
  passed=0
  failed=0
  trap test_cleanup EXIT
}
test_cleanup() {
  [ -n "$FORJA_PID" ] && kill -KILL "$FORJA_PID" 2>/dev/null
  rm -rf "$WORK" "$FORJA_TEST_GIT_DIR/$name.git"
}

ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check CONDITION WHAT : ok when CONDITION (evaluated) holds, else fail WHAT
check() { if eval "$1"; then ok; else fail "$2"; fi; }
