#!/usr/bin/env bash
# `forja builds` and `forja logs` against a running server with a read token: the table and its
# filters, a log read and followed to the end (the exit code is the build's outcome), and clear
# errors for a missing token, an unknown build and bad usage. Needs the test command's git
# daemon, registry and base image (exits 77, skipped, without them).
# usage: client_test.sh PATH_TO_FORJA
set -uo pipefail

FORJA=${1:?usage: $0 PATH_TO_FORJA}
# shellcheck source=tests/cli/harness.sh
source "$(dirname "$0")/harness.sh"
test_begin client
export FORJA_TEST_API_TOKEN=client-api-token-0123456789
READ=client-read-token-0123456789

repo_make "$name" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp
RUN echo building && sleep 2 && echo built"
sha=$REPLY
forja_up "$(free_port)" "$WORK/data" "$WORK/forja.log" --api-token "$FORJA_TEST_API_TOKEN" \
  --read-token "$READ" || { cat "$WORK/forja.log"; exit 1; }
export FORJA_URL
post() { # SERVICE REPOSITORY: REPLY = id
  REPLY=$(api POST /builds "{\"service\":\"$1\",\"version\":\"1\",\"repository\":\"$2\",\"ref\":\"$sha\"}" | json_get id)
}
post cl-good "$FORJA_TEST_GIT_URL$name.git"
good=$REPLY
post cl-bad "git://127.0.0.1:1/none.git"
bad=$REPLY

# logs -f of the running build: the lines as they come, exit 0 once it succeeded
out=$(FORJA_READ_TOKEN=$READ "$FORJA" logs -f "$good" 2>"$WORK/err"); rc=$?
check '[ "$rc" = 0 ]' "logs -f of a succeeding build exited $rc: $(cat "$WORK/err")"
check 'grep -q "^building" <<<"$out" && grep -q "forja: build succeeded: sha256:" <<<"$out"' \
  "logs -f did not print the whole log: $out"
out=$(FORJA_READ_TOKEN=$READ "$FORJA" logs -f "$bad" 2>"$WORK/err"); rc=$?
check '[ "$rc" = 1 ] && grep -q "build $bad failed" "$WORK/err"' "logs -f of a failed build: rc $rc, $(cat "$WORK/err")"
out=$(FORJA_API_TOKEN=$FORJA_TEST_API_TOKEN "$FORJA" logs "$good"); rc=$?
check '[ "$rc" = 0 ] && grep -q "forja: build succeeded" <<<"$out"' "logs with the API token: rc $rc"

# the table and its filters
out=$(FORJA_READ_TOKEN=$READ "$FORJA" builds); rc=$?
check '[ "$rc" = 0 ] && head -1 <<<"$out" | grep -q "^ID .*SERVICE .*STATUS"' "no table header: $out"
check 'grep -q "^$good .*cl-good .*succeeded" <<<"$out" && grep -q "^$bad .*cl-bad .*failed" <<<"$out"' \
  "the table lacks a build: $out"
check 'grep -q "${sha:0:8}" <<<"$out"' "the short commit is not shown"
out=$(FORJA_READ_TOKEN=$READ "$FORJA" builds --status failed)
check 'grep -q "cl-bad" <<<"$out" && ! grep -q "cl-good" <<<"$out"' "--status failed: $out"
out=$(FORJA_READ_TOKEN=$READ "$FORJA" builds --service=cl-good)
check '[ "$(grep -c "cl-" <<<"$out")" = 1 ] && grep -q cl-good <<<"$out"' "--service: $out"

# errors
err=$(FORJA_READ_TOKEN= FORJA_API_TOKEN= "$FORJA" builds 2>&1 >/dev/null); rc=$?
check '[ "$rc" = 1 ] && grep -q "answered 401" <<<"$err" && grep -q "Authorization: Bearer" <<<"$err"' \
  "without a token: rc $rc, $err"
err=$(FORJA_READ_TOKEN=$READ "$FORJA" logs 999999 2>&1 >/dev/null); rc=$?
check '[ "$rc" = 1 ] && grep -q "no build with id 999999" <<<"$err"' "unknown build: rc $rc, $err"
"$FORJA" logs >/dev/null 2>&1; rc=$?
check '[ "$rc" = 2 ]' "logs without an id exited $rc"
"$FORJA" builds --colour 2>/dev/null; rc=$?
check '[ "$rc" = 2 ]' "an unknown flag exited $rc"
err=$(FORJA_URL=http://127.0.0.1:1 "$FORJA" builds 2>&1); rc=$?
check '[ "$rc" = 1 ] && grep -q "cannot reach http://127.0.0.1:1" <<<"$err"' "no server: rc $rc, $err"

kill -TERM "$FORJA_PID"; forja_gone 30; FORJA_PID=
echo "client: $passed passed, $failed failed"
[ "$failed" = 0 ]
