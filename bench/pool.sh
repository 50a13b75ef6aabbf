#!/usr/bin/env bash
# Engine pool: 30 small builds of 6 services (FROM the test base image, COPY a file, RUN
# sleep 1), posted at once to Forja with 1, 2 and 3 engines of 2 slots each (the machine's,
# a second on a unix socket, a third over TCP + TLS, as the test command starts them). Prints
# wall time from the first POST to the last final status, builds per minute, how the builds
# spread, and checks that every build succeeded with the registry's digest. On a 2-CPU
# machine the three engines share the CPUs: the figures show correct spread and no loss more
# than speed.
# usage: bench/pool.sh   (env: POOL_ROUNDS=1 runs per engine count; FORJA_BIN)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${POOL_ROUNDS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-bench-pool.XXXXXX")
NAME=poolb-$$
own_services=0
FORJA_PID=
export FORJA_TEST_API_TOKEN=bench-pool-token-0123456789
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=tests/cli/lib.sh
source "$ROOT/tests/cli/lib.sh"

cleanup() {
  local rc=$?
  [ -n "$FORJA_PID" ] && kill -KILL "$FORJA_PID" 2>/dev/null || true
  services_done "$WORK" "$NAME"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/pool: $*" >&2; exit 1; }

services_use "$WORK" FORJA_TEST_ENGINE3
[ -n "${FORJA_TEST_ENGINE3:-}" ] || die "the extra engines did not start (FORJA_TEST_EXTRA_ENGINES?)"
forja_release "$ROOT/build-bench"
FORJA=$FORJA_BIN
main=${DOCKER_HOST:-unix:///var/run/docker.sock}
hosts=("$main;slots=2"
       "$main;slots=2,$FORJA_TEST_ENGINE2;slots=2"
       "$main;slots=2,$FORJA_TEST_ENGINE2;slots=2,$FORJA_TEST_ENGINE3;slots=2;tls=$FORJA_TEST_ENGINE3_CERTS")

repo_make "$NAME" "FROM $FORJA_TEST_BASE_IMAGE
COPY id /id
RUN sleep 1"
printf '| engines | run | builds | wall s | builds/min | spread (builds per engine) | lost or failed |\n'
printf '| ---: | ---: | ---: | ---: | ---: | --- | ---: |\n'
for n in 1 2 3; do
  for run in $(seq 1 "$ROUNDS"); do
    # a commit per run: every image is new, no engine has its layers cached
    printf '%s-%s-%s\n' "$NAME" "$n" "$run" >"$WORK/src-$NAME/id"
    git -C "$WORK/src-$NAME" add -A
    git -C "$WORK/src-$NAME" commit -qm "run $n.$run"
    git -C "$WORK/src-$NAME" push -q origin develop
    sha=$(git -C "$WORK/src-$NAME" rev-parse HEAD)
    data=$WORK/data-$n-$run
    forja_up "$(free_port)" "$data" "$WORK/forja-$n-$run.log" --api-token "$FORJA_TEST_API_TOKEN" \
      --docker-hosts "${hosts[$((n - 1))]}" --log-level warning || die "Forja did not start"
    t0=$(date +%s%3N)
    ids=()
    for v in 1 2 3 4 5; do
      for s in 1 2 3 4 5 6; do
        body=$(printf '{"service":"%s-s%d","version":"%d.%d.%d","repository":"%s%s.git","ref":"%s"}' \
          "$NAME" "$s" "$n" "$run" "$v" "$FORJA_TEST_GIT_URL" "$NAME" "$sha")
        ids+=("$(api POST /builds "$body" | json_get id)")
      done
    done
    for id in "${ids[@]}"; do build_wait "$id" 600 succeeded failed cancelled || true; done
    wall=$(( $(date +%s%3N) - t0 ))
    bad=0
    for id in "${ids[@]}"; do
      b=$(api GET "/builds/$id")
      st=$(json_get status <<<"$b")
      if [ "$st" != succeeded ]; then bad=$((bad + 1)); continue; fi
      svc=$(json_get service <<<"$b") ver=$(json_get version <<<"$b")
      [ "$(json_get digest <<<"$b")" = "$(registry_digest "$svc" "$ver")" ] || bad=$((bad + 1))
    done
    spread=$(sqlite3 "$data/forja.db" "SELECT count(*) FROM builds GROUP BY engine ORDER BY engine" | paste -sd/)
    kill -TERM "$FORJA_PID"; forja_gone 60 || true; FORJA_PID=
    awk -v n="$n" -v r="$run" -v b="${#ids[@]}" -v ms="$wall" -v sp="$spread" -v bad="$bad" \
      'BEGIN { printf "| %d | %d | %d | %.1f | %.1f | %s | %d |\n", n, r, b, ms / 1000, b * 60000 / ms, sp, bad }'
  done
done
