#!/usr/bin/env bash
# Crash soak: BUILDS builds planned in signed merged-PR deliveries (four services a delivery;
# some succeed, some fail, some are slow) while Forja is killed with SIGKILL at random moments
# KILLS times and restarted each time. A delivery that got no answer is sent again with the
# same delivery id, as an operator's "Redeliver" would. At the end it checks and prints: every
# build in a terminal state, each planned build recorded exactly once with the planned outcome,
# every succeeded build's digest the one the registry serves for its tag, no tag on another
# build's image, and PRAGMA integrity_check ok. Exit 0 only when all hold.
#
# usage: scripts/soak.sh [BUILDS [KILLS]]   (defaults 100 and 20)
#   FORJA_BIN: the binary to run (default: a Release build in build-soak)
#   Uses the services of scripts/test.sh when FORJA_TEST_* are set, else starts its own.
#   SOAK_REPORT=FILE also writes the figures there (Markdown rows).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILDS=${1:-100}
KILLS=${2:-20}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-soak.XXXXXX")
SECRET=soak-secret-$RANDOM$RANDOM
NAME=soak-$$
own_services=0
gh_pid=
FORJA_PID=
deliverer=
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=tests/cli/lib.sh
source "$ROOT/tests/cli/lib.sh"

cleanup() {
  local rc=$?
  [ -n "$deliverer" ] && kill "$deliverer" 2>/dev/null || true
  [ -n "$FORJA_PID" ] && kill -KILL "$FORJA_PID" 2>/dev/null || true
  [ -n "$gh_pid" ] && kill "$gh_pid" 2>/dev/null || true
  services_done "$WORK" "$NAME"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { printf 'soak: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

services_use "$WORK" FORJA_TEST_REGISTRY
forja_release "$ROOT/build-soak"
FORJA=$FORJA_BIN

# ---- the repository: one commit per delivery, its manifest naming four builds -----------------
repo_make "$NAME" "FROM $FORJA_TEST_BASE_IMAGE
ARG ID=0
ARG PAUSE=0
ARG FAIL=0
RUN echo \"\$ID\" > /id && sleep \"\$PAUSE\" && test \"\$FAIL\" = 0"
deliveries=$(( (BUILDS + 3) / 4 ))
: >"$WORK/plan"
for d in $(seq 1 "$deliveries"); do
  entries=()
  for s in a b c d; do
    [ "$(wc -l <"$WORK/plan")" -ge "$BUILDS" ] && break
    r=$(( RANDOM % 20 ))
    pause=$(( RANDOM % 2 )) fail=0 expect=succeeded
    if [ "$r" -lt 3 ]; then fail=1 expect=failed; elif [ "$r" -lt 6 ]; then pause=5; fi
    entries+=("$(printf '{"service_name":"%s-%s","version":"d%d","build_args":{"ID":"%s-%s-%d","PAUSE":"%d","FAIL":"%d"}}' \
      "$NAME" "$s" "$d" "$NAME" "$s" "$d" "$pause" "$fail")")
    echo "$NAME-$s d$d $expect" >>"$WORK/plan"
  done
  manifest="[$(IFS=,; echo "${entries[*]}")]"
  repo_commit "$NAME" "$manifest"
  echo "$d $REPLY" >>"$WORK/commits"
done
say "$BUILDS builds planned in $deliveries deliveries; $KILLS kills"

# ---- GitHub stand-in and Forja ---------------------------------------------------------------
python3 "$ROOT/tests/tools/github_standin.py" "$FORJA_TEST_GIT_DIR" "$WORK/gh-port" &
gh_pid=$!
wait_until 10 test -s "$WORK/gh-port" || die "the GitHub stand-in did not start"
port=$(free_port)
flags=(--webhook-secret "$SECRET" --github-api-url "http://127.0.0.1:$(cat "$WORK/gh-port")"
       --allowed-hosts 127.0.0.1 --workers 4 --build-timeout 120)
start_forja() {
  forja_up "$port" "$WORK/data" "$WORK/forja.log" "${flags[@]}" || {
    tail -20 "$WORK/forja.log" >&2
    die "Forja did not start"
  }
}
start_forja

# ---- deliveries, sent one after another; each is resent until it is answered 202 --------------
payload() { # NUMBER SHA
  printf '{"action":"closed","number":%s,"pull_request":{"number":%s,"merged":true,' "$1" "$1"
  printf '"merge_commit_sha":"%s","base":{"ref":"develop"},"head":{"sha":"%s","ref":"f%s"}},' "$2" "$2" "$1"
  printf '"repository":{"full_name":"soak/%s","clone_url":"%s%s.git"},"sender":{"login":"soak"}}' \
    "$NAME" "$FORJA_TEST_GIT_URL" "$NAME"
}
deliver_all() {
  local d sha sig code tries
  while read -r d sha; do
    payload "$d" "$sha" >"$WORK/payload-$d"
    sig=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$WORK/payload-$d" | cut -d' ' -f1)
    tries=0
    while :; do
      tries=$((tries + 1))
      code=$(curl -s -o "$WORK/answer-$d" -w '%{http_code}' --max-time 15 \
        -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
        -H "X-GitHub-Delivery: soak-$NAME-$d" -H 'X-GitHub-Hook-ID: 1' \
        -H "X-Hub-Signature-256: $sig" --data-binary "@$WORK/payload-$d" \
        "http://127.0.0.1:$port/ciserver/updates" || true)
      [ "$code" = 202 ] || [ "$code" = 200 ] && break
      # no answer (Forja is down) or 503: resend; any other answer is a failure of the soak
      if [ "$code" != 000 ] && [ "$code" != 503 ]; then
        echo "$d $tries $code" >>"$WORK/delivered"
        say "delivery $d answered $code: $(cat "$WORK/answer-$d")"
        return 1
      fi
      sleep 0.2
    done
    echo "$d $tries $code" >>"$WORK/delivered"
    sleep 0.$(( RANDOM % 5 ))
  done <"$WORK/commits"
}
deliver_all &
deliverer=$!

# ---- the kills -------------------------------------------------------------------------------
unfinished() { sqlite3 "$WORK/data/forja.db" "SELECT count(*) FROM builds WHERE status IN (0, 1)" 2>/dev/null || echo 1; }
# kills spread over about the time the builds take (~0.6 s a build on 4 workers and 4 services)
gap_ms=$(( BUILDS * 600 / KILLS ))
kills=0
t0=$(date +%s)
while [ "$kills" -lt "$KILLS" ]; do
  ms=$(( 100 + (RANDOM * 32768 + RANDOM) % (2 * gap_ms) ))
  sleep "$(( ms / 1000 )).$(printf '%03d' $(( ms % 1000 )))"
  kill -KILL "$FORJA_PID"
  wait "$FORJA_PID" 2>/dev/null || true
  kills=$((kills + 1))
  start_forja
done
wait "$deliverer" || die "a delivery was refused (see above)"
deliverer=
# every build reaches a terminal state once Forja is left alone
deadline=$(( $(date +%s) + 300 ))
while [ "$(unfinished)" != 0 ]; do
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 0.5
done
elapsed=$(( $(date +%s) - t0 ))
kill -TERM "$FORJA_PID"
forja_gone 60 || true
FORJA_PID=

# ---- the checks ------------------------------------------------------------------------------
db=$WORK/data/forja.db
q() { sqlite3 -separator ' ' "$db" "$1"; }
failures=0
bad() { say "FAIL: $*"; failures=$((failures + 1)); }
status_name() { case $1 in 0) echo queued ;; 1) echo running ;; 2) echo succeeded ;; 3) echo failed ;; 4) echo cancelled ;; *) echo "?$1" ;; esac; }

integrity=$(q "PRAGMA integrity_check")
[ "$integrity" = ok ] || bad "integrity_check: $integrity"
not_terminal=$(q "SELECT count(*) FROM builds WHERE status IN (0, 1)")
[ "$not_terminal" = 0 ] || bad "$not_terminal builds not in a terminal state"
recorded=$(q "SELECT count(*) FROM builds")
lost=0 dup=0 wrong=0 false_ok=0 gave_up=0 succeeded=0 failed=0
while read -r svc ver expect; do
  rows=$(q "SELECT id, status, coalesce(digest, '-'), attempts FROM builds WHERE service = '$svc' AND version = '$ver'")
  n=$(printf '%s' "$rows" | grep -c . || true)
  if [ "$n" = 0 ]; then lost=$((lost + 1)); bad "$svc:$ver was never recorded"; continue; fi
  [ "$n" = 1 ] || { dup=$((dup + 1)); bad "$svc:$ver recorded $n times"; }
  read -r id st digest attempts <<<"$(head -1 <<<"$rows")"
  got=$(status_name "$st")
  reg=$(registry_digest "$svc" "$ver")
  if [ "$got" = succeeded ]; then
    succeeded=$((succeeded + 1))
    [ "$digest" != - ] && [ "$digest" = "$reg" ] ||
      { false_ok=$((false_ok + 1)); bad "build $id $svc:$ver succeeded with $digest, the registry serves '${reg:-nothing}'"; }
  elif [ "$got" = failed ]; then
    failed=$((failed + 1))
    if [ "$expect" = succeeded ]; then
      if q "SELECT error FROM builds WHERE id = $id" | grep -q "giving up after"; then
        gave_up=$((gave_up + 1))
      else
        wrong=$((wrong + 1)); bad "build $id $svc:$ver failed: $(q "SELECT error FROM builds WHERE id = $id")"
      fi
    fi
  else
    wrong=$((wrong + 1)); bad "build $id $svc:$ver ended $got"
  fi
  if [ "$got" != succeeded ] && [ "$expect" = succeeded ] && [ -n "$reg" ]; then
    say "note: $svc:$ver ended $got but an interrupted attempt had pushed its tag ($reg)"
  fi
  if [ "$expect" = failed ] && [ "$got" = succeeded ]; then
    wrong=$((wrong + 1)); bad "build $id $svc:$ver was planned to fail and succeeded"
  fi
done <"$WORK/plan"
# no tag on another build's image: every build's image is distinct (its ID argument differs)
shared=$(q "SELECT count(*) FROM (SELECT digest FROM builds WHERE digest IS NOT NULL GROUP BY digest HAVING count(*) > 1)")
[ "$shared" = 0 ] || bad "$shared digests are recorded for more than one build"
resent=$(awk '$2 > 1 { n++ } END { print n + 0 }' "$WORK/delivered")
planned=$(wc -l <"$WORK/plan")
max_attempts=$(q "SELECT max(attempts) FROM builds")

report=$(cat <<ROWS
| builds planned / recorded | $planned / $recorded |
| SIGKILLs and restarts | $kills in ${elapsed} s |
| deliveries resent after a kill (same delivery id) | $resent of $deliveries |
| builds lost (planned, never recorded) | $lost |
| builds recorded twice | $dup |
| false successes (succeeded without that digest in the registry) | $false_ok |
| builds left queued or running | $not_terminal |
| builds with another outcome than planned | $wrong |
| succeeded / failed (planned failures $(grep -c ' failed$' "$WORK/plan")) | $succeeded / $failed |
| given up after 3 interrupted attempts | $gave_up |
| most attempts of one build | $max_attempts |
| digests shared by two builds | $shared |
| PRAGMA integrity_check | $integrity |
ROWS
)
printf '| figure | value |\n|---|---|\n%s\n' "$report"
[ -n "${SOAK_REPORT:-}" ] && printf '%s\n' "$report" >"$SOAK_REPORT"
[ "$failures" = 0 ] || { tail -30 "$WORK/forja.log" >&2; die "$failures checks failed"; }
say "ok"
