#!/usr/bin/env bash
# Forja's benchmarks, one command: each compares Forja with the floor or with what users run
# today, in the same run on the same machine, and prints a markdown table (ratios hold better
# than absolute times on shared machines). Installs what is missing (apt-get), builds a
# Release Forja, starts everything on 127.0.0.1 and stops only what it started, by PID.
#
# usage: bench/run.sh [all|e2e|webhook|ack|badge|history|memory|pool]...
#   e2e      signed merged-PR webhook -> digest in the registry, versus docker CLI and raw Engine API
#   webhook  versus adnanh/webhook + a build script: end-to-end, acknowledgement, memory
#   ack      acknowledgement latency and throughput under wrk, ignored and merged deliveries
#   badge    GET /badge requests/s with keep-alive, versus nginx serving the SVG file
#   history  GET /builds?limit=50, filtered lists and GET /builds/{id} with 100 000 builds
#   memory   resident size idle, after 1 000 builds, with 10 000 queued; start-up time
#   pool     30 builds of 6 services on 1, 2 and 3 engines (not in all: needs scripts/services.sh's engines)
# env: BENCH_RUNS (10) BENCH_ACK_N (200) BENCH_WRK_SECONDS (5) BENCH_STARTS (10)
#      BENCH_MEM_BUILDS (1000) BENCH_MEM_QUEUED (10000) BENCH_MEM_TIMEOUT (480 s)
#      BENCH_HISTORY_N (100000) BENCH_HISTORY_REQUESTS (1000) BADGE_ROUNDS (3) BADGE_WRK_SECONDS (5)
#      BENCH_PORT_BASE (18600) BENCH_REGISTRY_PORT (5106) BENCH_GIT_PORT (9506)
#      FORJA_BIN (skip the build) BENCH_BUILD_DIR (build-bench) BENCH_OUT (also write the tables there)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

all=(e2e webhook ack badge history memory)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(all)
[ "${names[*]}" = all ] && names=("${all[@]}")
for n in "${names[@]}"; do
	case $n in
	e2e | webhook | ack | badge | history | memory | pool) ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown benchmark '$n' (all, ${all[*]})" ;;
	esac
done

# Packages every benchmark may use, installed once up front (only what is missing).
need_pkgs cmake gcc make pkg-config curl jq git openssl wrk webhook busybox-static sqlite3 \
	docker-registry procps
command -v nginx >/dev/null || need_pkgs nginx-light
command -v docker >/dev/null || need_pkgs docker.io
"$ROOT/scripts/deps.sh" run
forja_build
export FORJA_BIN
export FORJA_BENCH_BUILD_DIR=${FORJA_BENCH_BUILD_DIR:-$(dirname "$FORJA_BIN")}
export BENCH_HISTORY_PORT=${BENCH_HISTORY_PORT:-$((BENCH_PORT_BASE + 50))}

out=${BENCH_OUT:-/dev/null}
: >"$out"
start=$SECONDS
{
	echo "# Forja benchmarks"
	echo
	machine
	echo "$("$FORJA_BIN" --version 2>/dev/null || echo "forja (version unknown)"), Release build;" \
		"$(uname -sr); docker $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?')."
	echo "Command: bench/run.sh ${names[*]}  (BENCH_RUNS=$BENCH_RUNS BENCH_ACK_N=$BENCH_ACK_N" \
		"BENCH_WRK_SECONDS=$BENCH_WRK_SECONDS BENCH_STARTS=$BENCH_STARTS BENCH_MEM_BUILDS=$BENCH_MEM_BUILDS" \
		"BENCH_MEM_QUEUED=$BENCH_MEM_QUEUED)"
	echo
} | tee -a "$out"
failed=()
for n in "${names[@]}"; do
	t=$SECONDS
	log "== $n"
	if "$BENCH_DIR/$n.sh" | tee -a "$out"; then
		printf '\n(%s: %d s)\n\n' "$n" $((SECONDS - t)) | tee -a "$out"
	else
		failed+=("$n")
		printf '\n(%s: FAILED after %d s)\n\n' "$n" $((SECONDS - t)) | tee -a "$out"
	fi
done
echo "Total: $((SECONDS - start)) s." | tee -a "$out"
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]}"
