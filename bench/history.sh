#!/usr/bin/env bash
# Latency of the history endpoints with a large history: fills a data directory with
# BENCH_HISTORY_N builds (default 100000) through the store, starts the real forja binary on
# it, and times sequential requests over one keep-alive connection with curl.
# Prints median and p99 per endpoint in milliseconds. Everything runs on 127.0.0.1 and is
# stopped by PID at exit.
# usage: bench/history.sh   (env: BENCH_HISTORY_N, BENCH_HISTORY_REQUESTS, BENCH_HISTORY_PORT,
#                            FORJA_BENCH_BUILD_DIR, BENCH_HISTORY_DATA: a directory kept between
#                            runs, filled on the first one, so later runs skip the minute of
#                            inserts)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FORJA_BENCH_BUILD_DIR:-$ROOT/build-bench}
N=${BENCH_HISTORY_N:-100000}
REQUESTS=${BENCH_HISTORY_REQUESTS:-1000}
PORT=${BENCH_HISTORY_PORT:-18650}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-history-bench.XXXXXX")
FORJA_PID=

cleanup() {
	if [ -n "$FORJA_PID" ] && kill -0 "$FORJA_PID" 2>/dev/null; then
		kill -TERM "$FORJA_PID"
		wait "$FORJA_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

# An optimised build without sanitizers: the numbers are about the server, not the checks.
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFORJA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j2 --target forja forja_core >/dev/null
# shellcheck disable=SC2046
cc -O2 -std=c11 -D_GNU_SOURCE -I"$ROOT/src" "$ROOT/bench/history_bench.c" \
	"$BUILD/libforja_core.a" $(pkg-config --cflags --libs libulfius liborcania libyder jansson \
	libcurl gnutls sqlite3) -lpthread -lm -o "$WORK/history_bench"

DATA=${BENCH_HISTORY_DATA:-$WORK/data}
mkdir -p "$DATA"
if [ ! -f "$DATA/forja.db" ]; then
	log "filling the history with $N builds..."
	"$WORK/history_bench" "$DATA" "$N" >&2
fi

"$BUILD/forja" --data-dir="$DATA" --listen="127.0.0.1:$PORT" --registry=127.0.0.1:1 \
	--log-level=error >"$WORK/forja.log" 2>&1 &
FORJA_PID=$!
BASE="http://127.0.0.1:$PORT"
deadline=$((SECONDS + 30))
until curl -fs -o /dev/null "$BASE/builds?limit=1"; do
	if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 "$FORJA_PID" 2>/dev/null; then
		log "forja did not start:"
		cat "$WORK/forja.log" >&2
		exit 1
	fi
	sleep 0.05
done

# time_urls NAME: reads URLs on stdin, times each over one connection, prints the summary.
time_urls() {
	local name=$1 cfg="$WORK/urls.curl" times="$WORK/times.txt"
	: >"$cfg"
	while read -r url; do
		printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >>"$cfg"
	done
	# one curl process, one keep-alive connection: time_total is the request alone
	curl -s --fail -K "$cfg" -w '%{time_total}\n' >"$times"
	sort -n "$times" | awk -v name="$name" '{ v[NR] = $1 * 1000 }
		END {
			p99 = int(NR * 0.99 + 0.999); if (p99 < 1) p99 = 1
			med = int(NR * 0.5 + 0.999)
			printf "%-34s n=%d median=%.3f ms p99=%.3f ms max=%.3f ms\n",
				name, NR, v[med], v[p99], v[NR]
		}'
}

echo "history: $N builds; $REQUESTS sequential requests per endpoint, one connection"
for _ in $(seq "$REQUESTS"); do echo "$BASE/builds?limit=50"; done | time_urls "GET /builds?limit=50"
for i in $(seq "$REQUESTS"); do echo "$BASE/builds/$(((i * 7919) % N + 1))"; done |
	time_urls "GET /builds/{id}"
for i in $(seq "$REQUESTS"); do echo "$BASE/builds?limit=50&before=$(((i * 7919) % N + 1))"; done |
	time_urls "GET /builds?limit=50&before=.."
for _ in $(seq "$REQUESTS"); do echo "$BASE/builds?service=search&branch=main&limit=50"; done |
	time_urls "GET /builds?service&branch&limit=50"
for _ in $(seq "$REQUESTS"); do echo "$BASE/builds?status=failed&limit=50"; done |
	time_urls "GET /builds?status=failed&limit=50"
# the badge reads store_build_latest on every README view
for _ in $(seq "$REQUESTS"); do echo "$BASE/badge?service=search&branch=main"; done |
	time_urls "GET /badge?service&branch"
for _ in $(seq "$REQUESTS"); do echo "$BASE/badge"; done | time_urls "GET /badge"
