#!/usr/bin/env bash
# End-to-end: a signed merged-PR webhook to Forja until the digest is in the registry, versus
# the floor: the same commit, already checked out, built and pushed directly with the docker CLI
# and with the raw Engine API (tar body). Forja's git cache is warm (the repository was fetched
# before; each run fetches only the new commit). Every run commits a fresh 1 MiB random file (a new layer) to a FROM-scratch service;
# the systems take turns within each round (rotating who goes first) so load drifts hit all.
# The clock stops when HEAD /v2/<name>/manifests/<tag> answers 200, polled without sleeping.
# With FORJA_BIN_BASE (another build of Forja, e.g. of the commit before a change) it runs as a
# fourth system in the same rounds, so a change is measured against its base side by side.
# usage: bench/e2e.sh   (env: BENCH_RUNS=10 BENCH_TIMEOUT=60 BENCH_PORT_BASE FORJA_BIN FORJA_BIN_BASE)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs curl jq git openssl docker-registry
command -v nginx >/dev/null || need_pkgs nginx-light
forja_build
state_init
services_start
port_free "$PORT_FORJA" || die "port $PORT_FORJA is taken (set BENCH_PORT_BASE)"
repo_init e2e
forja_start "$PORT_FORJA" "$BENCH_STATE/forja"
FORJA_URL=http://127.0.0.1:$PORT_FORJA/ciserver/updates
systems=(forja api cli)
if [ -n "${FORJA_BIN_BASE:-}" ]; then
	[ -x "$FORJA_BIN_BASE" ] || die "FORJA_BIN_BASE=$FORJA_BIN_BASE is not executable"
	port_free "$PORT_AUX" || die "port $PORT_AUX is taken (set BENCH_PORT_BASE)"
	FORJA_BIN=$FORJA_BIN_BASE forja_start "$PORT_AUX" "$BENCH_STATE/forja-base"
	BASE_URL=http://127.0.0.1:$PORT_AUX/ciserver/updates
	systems+=(base)
fi

# One untimed warm-up round: first clone, first push and page cache are not what is measured.
e2e_webhook_system forja "$FORJA_URL" 0 e2e
[ -n "${BASE_URL:-}" ] && e2e_webhook_system base "$BASE_URL" 0 e2e
e2e_api 0 e2e
e2e_cli 0 e2e
rm -f "$BENCH_STATE"/{forja,base,api,cli}.{e2e,ack,fail}

for ((run = 1; run <= BENCH_RUNS; run++)); do
	for ((k = 0; k < ${#systems[@]}; k++)); do
		case ${systems[$(((run + k) % ${#systems[@]}))]} in
		forja) e2e_webhook_system forja "$FORJA_URL" "$run" e2e ;;
		base) e2e_webhook_system base "$BASE_URL" "$run" e2e ;;
		api) e2e_api "$run" e2e ;;
		cli) e2e_cli "$run" e2e ;;
		esac
	done
	log "e2e: round $run/$BENCH_RUNS done"
done

api_med=$(median "$BENCH_STATE/api.e2e")
echo "## End-to-end: merged-PR webhook -> image in the registry (FROM scratch + fresh 1 MiB layer)"
echo
machine
echo "$BENCH_RUNS runs per system after one warm-up round, systems interleaved; times in ms."
echo
table_row "system" "n" "median" "p99" "min" "max" "failed" "median / raw API floor"
table_row "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:"
e2e_row "Forja: signed webhook -> digest in registry (warm git cache)" forja "$api_med"
[ -n "${BASE_URL:-}" ] &&
	e2e_row "Forja base build (FORJA_BIN_BASE), same rounds (warm git cache)" base "$api_med"
e2e_row "floor: raw Engine API (curl: tar of the checkout, build, push)" api "$api_med"
e2e_row "floor: docker CLI $(docker version --format '{{.Client.Version}}' 2>/dev/null) (build of the checkout, push)" cli "$api_med"
echo
read -r n med p99 _ <<<"$(stats "$BENCH_STATE/forja.ack")"
echo "Forja answered each of these deliveries (202, build queued) in a median of $med ms (p99 $p99 ms, n=$n)."
echo "Forja / floor (raw API): $(ratio "$(median "$BENCH_STATE/forja.e2e")" "$api_med");" \
	"Forja / floor (docker CLI build + push of the checkout): $(ratio "$(median "$BENCH_STATE/forja.e2e")" "$(median "$BENCH_STATE/cli.e2e")")."
if [ -n "${BASE_URL:-}" ]; then
	echo "Forja base build / floor (docker CLI): $(ratio "$(median "$BENCH_STATE/base.e2e")" "$(median "$BENCH_STATE/cli.e2e")");" \
		"Forja / Forja base build: $(ratio "$(median "$BENCH_STATE/forja.e2e")" "$(median "$BENCH_STATE/base.e2e")")."
fi
