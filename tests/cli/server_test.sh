#!/usr/bin/env bash
# The forja binary as an operator meets it: --help lists every FORJA_* key, bad configuration
# stops start-up naming the key, and SIGTERM / SIGINT stop a running server cleanly and quickly.
# usage: server_test.sh PATH_TO_FORJA
set -uo pipefail

FORJA=${1:?usage: $0 PATH_TO_FORJA}
work=$(mktemp -d)
pid=
passed=0
failed=0
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"

ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }



# --help names every variable of the configuration
help=$("$FORJA" --help)
for key in FORJA_LISTEN FORJA_DATA_DIR FORJA_DOCKER_HOST FORJA_REGISTRY FORJA_REGISTRY_URL \
           FORJA_REGISTRY_USERNAME FORJA_REGISTRY_PASSWORD FORJA_WEBHOOK_SECRET FORJA_API_TOKEN \
           FORJA_BRANCH FORJA_MANIFEST FORJA_WORKERS FORJA_BUILD_TIMEOUT FORJA_REGISTRY_RETRY \
           FORJA_GITHUB_API_URL \
           FORJA_GITHUB_TOKEN FORJA_PUBLIC_URL FORJA_LOG_LEVEL; do
  grep -q "$key" <<<"$help" && ok || fail "--help does not list $key"
done

# bad configuration: exit code 2 and a message naming the key, nothing listening
out=$(FORJA_WORKERS=lots "$FORJA" --data-dir "$work/d1" 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'FORJA_WORKERS (environment): "lots"' <<<"$out" && ok ||
  fail "bad FORJA_WORKERS: rc=$rc out=$out"
out=$("$FORJA" --listen nowhere 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'FORJA_LISTEN' <<<"$out" && ok || fail "bad --listen: rc=$rc out=$out"
out=$(FORJA_DOCKER_HOSTS='unix:///a.sock,tcp://b;slots=2' "$FORJA" --data-dir "$work/d1" 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'FORJA_DOCKER_HOSTS entry 2 ("tcp://b"): not unix:///path or tcp://host:port' <<<"$out" && ok ||
  fail "malformed FORJA_DOCKER_HOSTS: rc=$rc out=$out"
out=$("$FORJA" --no-such-flag 2>&1); rc=$?
[ "$rc" = 2 ] && grep -q 'unknown option --no-such-flag' <<<"$out" && ok ||
  fail "unknown flag: rc=$rc out=$out"

# start, answer, stop on each signal within a few seconds
for sig in TERM INT; do
  port=$(free_port)
  "$FORJA" --listen "127.0.0.1:$port" --data-dir "$work/data-$sig" --registry 127.0.0.1:1 \
    --log-level info >"$work/log-$sig" 2>&1 &
  pid=$!
  up=0
  for _ in $(seq 1 100); do
    if curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json"; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  [ "$up" = 1 ] && ok || { fail "server did not start for SIG$sig"; cat "$work/log-$sig"; continue; }
  # access-log lines are buffered for at most 100 ms: the line is there well within a second
  seen=0
  for _ in $(seq 1 40); do
    if grep -q '127.0.0.1 "GET /openapi.json" 200' "$work/log-$sig"; then seen=1; break; fi
    sleep 0.05
  done
  [ "$seen" = 1 ] && ok || fail "no access-log line for the request within 2 s"
  start=$(date +%s%3N)
  kill -"$sig" "$pid"
  stopped=0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.05
  done
  wait "$pid"; rc=$?
  ms=$(( $(date +%s%3N) - start ))
  pid=
  if [ "$stopped" = 1 ] && [ "$rc" = 0 ]; then ok; else fail "SIG$sig: stopped=$stopped rc=$rc after ${ms} ms"; fi
  grep -q "stopped" "$work/log-$sig" && ok || fail "SIG$sig: no clean stop logged"
  echo "SIG$sig: stopped in ${ms} ms"
done

# a token given as ?access_token= (GET /events, for EventSource) never reaches the log
port=$(free_port)
"$FORJA" --listen "127.0.0.1:$port" --data-dir "$work/tok" --registry 127.0.0.1:1 \
  --read-token tok-secret-0123456789 --log-level info >"$work/tok.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
  "http://127.0.0.1:$port/events?access_token=tok-secret-0123456789")
kill -TERM "$pid"; wait "$pid"; pid=
[ "$code" = 200 ] || [ "$code" = 000 ] && ok || fail "/events with ?access_token= answered $code"
grep -q '"GET /events?access_token=REDACTED"' "$work/tok.log" && ok || fail "the access log line is missing or not redacted"
grep -q 'tok-secret-0123456789' "$work/tok.log" && fail "the token reached the log" || ok

# two servers on one port: the second says why it cannot start
port=$(free_port)
"$FORJA" --listen "127.0.0.1:$port" --data-dir "$work/a" --registry 127.0.0.1:1 >"$work/a.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && break; sleep 0.05; done
out=$("$FORJA" --listen "127.0.0.1:$port" --data-dir "$work/b" --registry 127.0.0.1:1 2>&1); rc=$?
[ "$rc" != 0 ] && grep -q "cannot listen on 127.0.0.1:$port" <<<"$out" && ok ||
  fail "second server on a taken port: rc=$rc out=$out"
kill -TERM "$pid"; wait "$pid"; pid=

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
