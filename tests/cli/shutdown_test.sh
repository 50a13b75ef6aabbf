#!/usr/bin/env bash
# SIGTERM during builds: a running build finishes within FORJA_SHUTDOWN_GRACE while the server
# still answers (a build posted meanwhile is recorded and runs at the next start); a build
# still running when the grace ends, or at a second signal, is queued again and runs at the
# next start without using up one of its attempts. Needs the test command's git daemon,
# registry and base image (exits 77, skipped, without them).
# usage: shutdown_test.sh PATH_TO_FORJA
set -uo pipefail

FORJA=${1:?usage: $0 PATH_TO_FORJA}
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
test_begin shutdown
export FORJA_TEST_API_TOKEN=shutdown-token-0123456789

# one repository; each build sleeps for its PAUSE build argument
repo_make "$name" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp
ARG PAUSE=0
RUN sleep \$PAUSE && echo slept \$PAUSE > /slept"
sha=$REPLY
port=$(free_port)
data=$WORK/data
log=$WORK/forja.log
flags=(--api-token "$FORJA_TEST_API_TOKEN" --workers 2)

post_build() { # SERVICE PAUSE: REPLY = the new build's id
  local body
  body=$(printf '{"service":"%s","version":"1","repository":"%s%s.git","ref":"%s","build_args":{"PAUSE":"%s"}}' \
    "$1" "$FORJA_TEST_GIT_URL" "$name" "$sha" "$2")
  REPLY=$(api POST /builds "$body" | json_get id)
  [ "$(api_status)" = 202 ] || { fail "POST /builds $1 answered $(api_status): $(cat "$WORK/api-body")"; REPLY=; }
}

# 1. a build running at SIGTERM finishes within the grace; the server answers meanwhile
forja_up "$port" "$data" "$log" "${flags[@]}" --shutdown-grace 60 || { cat "$log"; exit 1; }
post_build sd-graceful 4
graceful=$REPLY
build_wait "$graceful" 60 running succeeded failed
check '[ "$REPLY" = running ]' "the graceful build did not start: $REPLY"
t0=$(date +%s%3N)
kill -TERM "$FORJA_PID"
sleep 0.5
check 'kill -0 "$FORJA_PID" 2>/dev/null' "the server exited at once instead of waiting for its build"
check '[ "$(curl -s -o /dev/null -w "%{http_code}" "$FORJA_URL/healthz")" = 200 ]' \
  "/healthz is not answered during the grace"
post_build sd-later 8 # recorded now, runs at the next start
later=$REPLY
check '[ "$(build_field "$later" status)" = queued ]' "a build posted during the grace is not queued"
forja_gone 60
ms=$(( $(date +%s%3N) - t0 ))
check '[ "${FORJA_RC:-x}" = 0 ]' "the server did not stop cleanly after its build ended (rc ${FORJA_RC:-none})"
FORJA_PID=
echo "graceful stop: the running build ended and the server stopped ${ms} ms after SIGTERM"
check 'grep -q "waiting up to 60 s for 1 running builds" "$log"' "the wait for running builds is not logged"

# 2. the next start runs the build posted during the grace; the finished one stays succeeded
forja_up "$port" "$data" "$log" "${flags[@]}" --shutdown-grace 60 || { cat "$log"; exit 1; }
check '[ "$(build_field "$graceful" status)" = succeeded ]' "the graceful build is $(build_field "$graceful" status)"
digest=$(build_field "$graceful" digest)
check '[ -n "$digest" ] && [ "$digest" = "$(registry_digest sd-graceful 1)" ]' \
  "the graceful build's digest $digest is not what the registry serves"
build_wait "$later" 60 running succeeded failed
check '[ "$REPLY" = running ]' "the build posted during the grace did not start at the next start: $REPLY"
# a second signal ends the grace at once: the running build is queued again
t0=$(date +%s%3N)
kill -TERM "$FORJA_PID"
sleep 0.3
kill -TERM "$FORJA_PID"
forja_gone 20
ms=$(( $(date +%s%3N) - t0 ))
FORJA_PID=
check '[ "${FORJA_RC:-x}" = 0 ] && [ "$ms" -lt 8000 ]' "a second signal did not stop at once: ${ms} ms, rc ${FORJA_RC:-none}"
check 'grep -q "second signal: stopping now" "$log"' "the second signal is not logged"
echo "second signal: stopped ${ms} ms after the first"
st=$(sqlite3 "$data/forja.db" "SELECT status || ' ' || attempts FROM builds WHERE id = $later")
check '[ "$st" = "0 0" ]' "the interrupted build is not queued again with its attempt given back: status/attempts $st"

# 3. a grace that runs out: the build is queued again, and runs to the end at the next start
forja_up "$port" "$data" "$log" "${flags[@]}" --shutdown-grace 1 || { cat "$log"; exit 1; }
build_wait "$later" 60 running succeeded failed
t0=$(date +%s%3N)
kill -TERM "$FORJA_PID"
forja_gone 20
ms=$(( $(date +%s%3N) - t0 ))
FORJA_PID=
check '[ "${FORJA_RC:-x}" = 0 ] && [ "$ms" -lt 6000 ]' "the 1 s grace did not end the stop: ${ms} ms, rc ${FORJA_RC:-none}"
check 'grep -q "1 builds still running: aborted, they run again at the next start" "$log"' \
  "the end of the grace is not logged"
echo "grace of 1 s: stopped ${ms} ms after SIGTERM"
forja_up "$port" "$data" "$log" "${flags[@]}" || { cat "$log"; exit 1; }
build_wait "$later" 60 succeeded failed cancelled
check '[ "$REPLY" = succeeded ]' "the re-queued build ended $REPLY: $(build_field "$later" error)"
check '[ "$(build_field "$later" attempts)" = 1 ]' \
  "interrupted runs counted as attempts: $(build_field "$later" attempts)"
check '[ "$(build_field "$later" digest)" = "$(registry_digest sd-later 1)" ]' \
  "the re-queued build's digest is not what the registry serves"
n=$(api GET "/builds/$later/log" | grep -c "the build is queued again and runs at the next start")
check '[ "$n" = 2 ]' "the log does not say twice that the build was queued again ($n)"
kill -TERM "$FORJA_PID"
forja_gone 30
FORJA_PID=
check '[ "$(sqlite3 "$data/forja.db" "PRAGMA integrity_check")" = ok ]' "integrity_check failed"

echo "shutdown: $passed passed, $failed failed"
[ "$failed" = 0 ]
