#!/usr/bin/env bash
# The two extra engines the test command starts behave as the engine pool relies on: both answer
# _ping; the TCP engine takes only a client certificate from its CA, and a client that trusts
# another CA refuses the engine's certificate; the base image is in both; a RUN step builds on
# each with networkmode=none (and on the engine's own bridge); the machine's engine still has its
# docker0 bridge. Exits 77 (skipped) when the engines' variables are absent, i.e. when not
# run under scripts/test.sh or when FORJA_TEST_EXTRA_ENGINES=0.
# usage: engines_test.sh [PATH_TO_FORJA, unused]
set -uo pipefail

for v in FORJA_TEST_ENGINE2 FORJA_TEST_ENGINE3 FORJA_TEST_ENGINE3_CERTS \
         FORJA_TEST_ENGINE3_WRONG_CLIENT FORJA_TEST_ENGINE3_WRONG_CA FORJA_TEST_BASE_IMAGE; do
  if [ -z "${!v:-}" ]; then
    echo "SKIP: $v is not set (run under scripts/test.sh, which starts the extra engines)"
    exit 77
  fi
done

work=$(mktemp -d)
tag=forja-engines-test-$$:1
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check WHAT CMD...: ok when CMD succeeds, else fail WHAT
check() {
  local what=$1; shift
  if "$@"; then ok; else fail "$what"; fi
}
# refused_by_engine RC OUT: curl connected, trusted the engine and then got no answer (a TLS
# alert from the engine: exit 35 or 56), as opposed to 60 (the engine's certificate refused)
refused_by_engine() { [ "$1" != 0 ] && [ "$1" != 60 ] && [ "$1" != 7 ] && [ "$2" != OK ]; }

sock2=${FORJA_TEST_ENGINE2#unix://}
url3=https://${FORJA_TEST_ENGINE3#tcp://}
certs=$FORJA_TEST_ENGINE3_CERTS
# e2 ARGS... / e3 ARGS...: curl against engine 2 / engine 3 (with the right client certificate)
e2() { curl -s --max-time 60 --unix-socket "$sock2" "$@"; }
e3() { curl -s --max-time 60 --cacert "$certs/ca.pem" --cert "$certs/cert.pem" --key "$certs/key.pem" "$@"; }

# --- _ping ----------------------------------------------------------------------------------
check "engine 2 does not answer _ping on $sock2" [ "$(e2 http://localhost/_ping)" = OK ]
check "engine 3 does not answer _ping with the client certificate" [ "$(e3 "$url3/_ping")" = OK ]

# --- TLS: who is refused ----------------------------------------------------------------------
# curl exits 60 when it refuses the server's certificate; any other failure after connecting
# (35, 56: a TLS alert) is the engine refusing the client
out=$(curl -s --max-time 10 --cacert "$certs/ca.pem" "$url3/_ping" 2>&1); rc=$?
check "engine 3 without a client certificate: curl exit $rc, '$out' (want a refusal by the engine)" \
  refused_by_engine "$rc" "$out"

w=$FORJA_TEST_ENGINE3_WRONG_CLIENT
out=$(curl -s --max-time 10 --cacert "$w/ca.pem" --cert "$w/cert.pem" --key "$w/key.pem" "$url3/_ping" 2>&1); rc=$?
check "engine 3 with another CA's client certificate: curl exit $rc, '$out' (want a refusal by the engine)" \
  refused_by_engine "$rc" "$out"
check "WRONG_CLIENT must hold the engine's ca.pem" cmp -s "$w/ca.pem" "$certs/ca.pem"
check "WRONG_CLIENT must hold another certificate" test "$(cat "$w/cert.pem")" != "$(cat "$certs/cert.pem")"

# the right client certificate, but a ca.pem the engine's certificate does not chain to
out=$(curl -s --max-time 10 --cacert "$FORJA_TEST_ENGINE3_WRONG_CA/ca.pem" --cert "$certs/cert.pem" \
  --key "$certs/key.pem" "$url3/_ping" 2>&1); rc=$?
check "engine 3 with the wrong CA: curl exit $rc (want 60, certificate not verified), '$out'" [ "$rc" = 60 ]

# the certificate names both ways a client may reach the engine
port=${url3##*:}
check "engine 3's certificate does not verify as localhost" \
  [ "$(e3 --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/_ping")" = OK ]

# --- the base image -----------------------------------------------------------------------------
code=$(e2 -o /dev/null -w '%{http_code}' "http://localhost/images/$FORJA_TEST_BASE_IMAGE/json")
check "engine 2 lacks $FORJA_TEST_BASE_IMAGE (HTTP $code)" [ "$code" = 200 ]
code=$(e3 -o /dev/null -w '%{http_code}' "$url3/images/$FORJA_TEST_BASE_IMAGE/json")
check "engine 3 lacks $FORJA_TEST_BASE_IMAGE (HTTP $code)" [ "$code" = 200 ]

# --- a RUN step on each, without a network ----------------------------------------------------------
mkdir -p "$work/ctx"
# shellcheck disable=SC2016 # $(cat /x) is for the step's shell
printf 'FROM %s\nRUN echo ok > /x && test "$(cat /x)" = ok\n' "$FORJA_TEST_BASE_IMAGE" >"$work/ctx/Dockerfile"
tar -C "$work/ctx" -cf "$work/ctx.tar" Dockerfile
# build_on N NETWORKMODE: POST /build of the context to engine N; ok when it says it built
build_on() {
  local q="networkmode=$2&rm=1&forcerm=1&t=$tag" out=$work/build$1-$2.out
  if [ "$1" = 2 ]; then
    e2 -X POST -H 'Content-Type: application/x-tar' --data-binary "@$work/ctx.tar" \
      "http://localhost/build?$q" >"$out"
  else
    e3 -X POST -H 'Content-Type: application/x-tar' --data-binary "@$work/ctx.tar" \
      "$url3/build?$q" >"$out"
  fi
  if grep -q 'Successfully built' "$out" && ! grep -q errorDetail "$out"; then
    ok
  else
    fail "RUN step on engine $1 with networkmode=$2: $(tail -c 600 "$out")"
  fi
}
build_on 2 none
build_on 3 none
# without networkmode the step's container joins the engine's own bridge
build_on 2 default
e2 -o /dev/null -X DELETE "http://localhost/images/$tag?force=1"
e3 -o /dev/null -X DELETE "$url3/images/$tag?force=1"

# --- the machine's engine keeps its bridge ------------------------------------------------------------
# when the machine's engine has a default bridge named docker0, the link must still exist
main=${DOCKER_HOST:-unix:///var/run/docker.sock}
if [ "${main#unix://}" != "$main" ]; then
  bridge=$(curl -s --max-time 10 --unix-socket "${main#unix://}" http://localhost/networks/bridge)
  if printf '%s' "$bridge" | grep -q '"com.docker.network.bridge.name":"docker0"'; then
    check "the machine's engine has a docker0 network but the docker0 link is gone" \
      ip link show docker0 >/dev/null 2>&1
  fi
fi

echo "engines: $passed passed, $failed failed"
[ "$failed" = 0 ]
