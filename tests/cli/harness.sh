# The frame of a shell test that runs forja against the services of the test command: the skip
# when they are absent, a scratch directory cleaned up at exit, and the count of checks. Source
# it after scripts/lib.sh and tests/cli/lib.sh.

# needs_test_services VAR... : exits 77 (skipped) unless scripts/test.sh set every VAR
needs_test_services() {
  local v
  for v in "$@"; do
    if [ -z "${!v:-}" ]; then echo "SKIP: $v is not set (run under scripts/test.sh)"; exit 77; fi
  done
}

# test_begin NAME : WORK (a scratch directory), name=NAME-PID (a repository the git daemon
# serves), FORJA_PID (empty) and the counts; at exit the server still running is killed and
# WORK and the repository are removed
test_begin() {
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
