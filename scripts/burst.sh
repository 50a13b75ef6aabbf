#!/usr/bin/env bash
# Burst: DELIVERIES distinct signed merged-PR deliveries (each its own X-GitHub-Delivery, so
# none is a redelivery) sent as fast as curl can over PARALLEL connections from one address.
# Checks and prints: every answer is 202, or 503 with Retry-After (never a 5xx without it, a
# reset or a timeout); every 202 has its builds in the history, counted by delivery id; the
# server still answers afterwards; resident memory before, at its peak (VmHWM) and after.
# The builds point at a git address that accepts and never answers, so they wait cheaply
# instead of loading the engine; the server is stopped right after the count.
#
# usage: scripts/burst.sh [DELIVERIES [PARALLEL]]   (defaults 10000 and 128)
#   FORJA_BIN: the binary to run (default: a Release build in build-soak)
#   Uses the services of scripts/test.sh when FORJA_TEST_* are set, else starts its own.
#   BURST_REPORT=FILE also writes the figures there (Markdown rows).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-10000}
PARALLEL=${2:-128}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-burst.XXXXXX")
SECRET=burst-secret-$RANDOM$RANDOM
NAME=burst-$$
ENTRIES=2 # builds per delivery
own_services=0
gh_pid=
tarpit_pid=
FORJA_PID=
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=tests/cli/lib.sh
source "$ROOT/tests/cli/lib.sh"

cleanup() {
  local rc=$?
  [ -n "$FORJA_PID" ] && kill -KILL "$FORJA_PID" 2>/dev/null || true
  [ -n "$gh_pid" ] && kill "$gh_pid" 2>/dev/null || true
  [ -n "$tarpit_pid" ] && kill "$tarpit_pid" 2>/dev/null || true
  services_done "$WORK" "$NAME"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf 'burst: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

services_use "$WORK" FORJA_TEST_REGISTRY
forja_release "$ROOT/build-soak"
FORJA=$FORJA_BIN

# the manifest names two builds; the clone URL is a port that accepts and never answers
repo_make "$NAME" "FROM $FORJA_TEST_BASE_IMAGE"
repo_commit "$NAME" "[{\"service_name\":\"$NAME-a\",\"version\":\"1\"},{\"service_name\":\"$NAME-b\",\"version\":\"1\"}]"
sha=$REPLY
# a socket that listens and never accepts: a fetch from it waits, costing one process in all
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(86400)' "$WORK/tarpit-port" &
tarpit_pid=$!
python3 "$ROOT/tests/tools/github_standin.py" "$FORJA_TEST_GIT_DIR" "$WORK/gh-port" &
gh_pid=$!
wait_until 10 test -s "$WORK/gh-port" || die "the GitHub stand-in did not start"
wait_until 10 test -s "$WORK/tarpit-port" || die "the tarpit did not listen"
tarpit=$(cat "$WORK/tarpit-port")
port=$(free_port)
forja_up "$port" "$WORK/data" "$WORK/forja.log" --webhook-secret "$SECRET" \
  --github-api-url "http://127.0.0.1:$(cat "$WORK/gh-port")" --allowed-hosts 127.0.0.1 \
  --workers 2 --shutdown-grace 0 --log-level warning || { tail "$WORK/forja.log"; die "Forja did not start"; }
rss0=$(kib "$FORJA_PID" VmRSS)

printf '{"action":"closed","number":7,"pull_request":{"number":7,"merged":true,"merge_commit_sha":"%s","base":{"ref":"develop"},"head":{"sha":"%s","ref":"f"}},"repository":{"full_name":"burst/%s","clone_url":"git://127.0.0.1:%s/%s.git"},"sender":{"login":"burst"}}' \
  "$sha" "$sha" "$NAME" "$tarpit" "$NAME" >"$WORK/body"
sig=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$WORK/body" | cut -d' ' -f1)
# one curl, N requests from a config file: options end at each "next", so every request
# carries all its headers; each writes one line (status, Retry-After, delivery id)
for i in $(seq 1 "$N"); do
  [ "$i" = 1 ] || echo next
  printf 'url = "http://127.0.0.1:%s/ciserver/updates"\n-s\n--max-time 30\n-o /dev/null\n' "$port"
  printf -- '-H "Content-Type: application/json"\n-H "X-GitHub-Event: pull_request"\n'
  printf -- '-H "X-GitHub-Hook-ID: 1"\n-H "X-Hub-Signature-256: %s"\n' "$sig"
  printf -- '-H "X-GitHub-Delivery: %s-%d"\n--data-binary "@%s"\n' "$NAME" "$i" "$WORK/body"
  printf -- '-w "%%{http_code} %%header{retry-after} %s-%d\\n"\n' "$NAME" "$i"
done >"$WORK/curl.cfg"
t0=$(date +%s%3N)
curl --parallel --parallel-immediate --parallel-max "$PARALLEL" -K "$WORK/curl.cfg" \
  >"$WORK/answers" 2>"$WORK/curl.err" || true
ms=$(( $(date +%s%3N) - t0 ))
kill -0 "$FORJA_PID" 2>/dev/null || die "Forja is gone after the burst"
hwm=$(kib "$FORJA_PID" VmHWM)
rss1=$(kib "$FORJA_PID" VmRSS)
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$FORJA_URL/healthz")

answered=$(wc -l <"$WORK/answers")
accepted=$(awk '$1 == 202' "$WORK/answers" | wc -l)
busy=$(awk '$1 == 503 && NF == 3' "$WORK/answers" | wc -l)
other=$(awk '!($1 == 202 || ($1 == 503 && NF == 3))' "$WORK/answers" | wc -l)
awk '$1 == 202 { print $NF }' "$WORK/answers" | sort >"$WORK/accepted-ids"
# stop the server before reading the history: nothing writes while it is counted
kill -TERM "$FORJA_PID"
forja_gone 60 || die "Forja did not stop"
FORJA_PID=
db=$WORK/data/forja.db
sqlite3 "$db" "SELECT delivery_id FROM builds WHERE delivery_id LIKE '$NAME-%' GROUP BY delivery_id HAVING count(*) = $ENTRIES ORDER BY delivery_id" >"$WORK/recorded-ids"
missing=$(comm -23 "$WORK/accepted-ids" "$WORK/recorded-ids" | wc -l)
builds=$(sqlite3 "$db" "SELECT count(*) FROM builds WHERE delivery_id LIKE '$NAME-%'")
integrity=$(sqlite3 "$db" "PRAGMA integrity_check")
rate=$(awk -v n="$answered" -v ms="$ms" 'BEGIN { printf "%.0f", ms ? n * 1000 / ms : 0 }')

failures=0
bad() { say "FAIL: $*"; failures=$((failures + 1)); }
[ "$answered" = "$N" ] || bad "$answered of $N deliveries answered ($(sort -u "$WORK/curl.err" | head -3))"
[ "$other" = 0 ] || bad "$other answers neither 202 nor 503 with Retry-After: $(awk '!($1 == 202 || ($1 == 503 && NF == 3))' "$WORK/answers" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')"
[ "$missing" = 0 ] || bad "$missing accepted deliveries have not all their builds in the history"
[ "$builds" = $((accepted * ENTRIES)) ] || bad "$builds builds recorded for $accepted accepted deliveries of $ENTRIES"
[ "$health" = 200 ] || bad "/healthz answered $health after the burst"
[ "$integrity" = ok ] || bad "integrity_check: $integrity"

report=$(cat <<ROWS
| deliveries sent / answered | $N / $answered in $ms ms ($rate a second, $PARALLEL at once) |
| answered 202 / 503 with Retry-After / other | $accepted / $busy / $other |
| accepted deliveries without all their builds in the history | $missing |
| builds recorded (2 a delivery) | $builds |
| resident memory before / peak / after | $((rss0 / 1024)) / $((hwm / 1024)) / $((rss1 / 1024)) MiB |
| /healthz after, PRAGMA integrity_check | $health, $integrity |
ROWS
)
printf '| figure | value |\n|---|---|\n%s\n' "$report"
[ -n "${BURST_REPORT:-}" ] && printf '%s\n' "$report" >"$BURST_REPORT"
[ "$failures" = 0 ] || die "$failures checks failed"
say ok
