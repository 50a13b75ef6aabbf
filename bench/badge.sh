#!/usr/bin/env bash
# Badge throughput: requests per second of GET /badge over keep-alive connections (wrk) against
# a Release build of Forja, side by side with nginx serving the same SVG as a static file.
# Rows: an unknown service (no history), a service with a build in the history, a revalidation
# answered 304, Forja at its default log level (one access-log line per request), and nginx.
# Everything listens on 127.0.0.1 and is stopped by PID at exit. Prints a markdown table.
# usage: bench/badge.sh   (env: BADGE_WRK_SECONDS=10 BADGE_WRK_CONNECTIONS=32
#                          BADGE_WRK_THREADS=2 BENCH_PORT_BASE FORJA_BIN BENCH_BUILD_DIR)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

SECS=${BADGE_WRK_SECONDS:-10}
CONNS=${BADGE_WRK_CONNECTIONS:-32}
THREADS=${BADGE_WRK_THREADS:-2}
PORT_NGINX=$PORT_AUX
PORT_FORJA_INFO=$((BENCH_PORT_BASE + 4))

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs wrk nginx-light curl
forja_build
state_init
for p in "$PORT_FORJA" "$PORT_NGINX" "$PORT_FORJA_INFO"; do
	port_free "$p" || die "port $p is taken (set BENCH_PORT_BASE)"
done

# A Forja with an empty history. No registry or engine is needed to serve badges.
start_bg "$BENCH_STATE/forja.log" "$FORJA_BIN" --listen "127.0.0.1:$PORT_FORJA" \
	--data-dir "$BENCH_STATE/forja" --registry 127.0.0.1:1 --api-token bench-token \
	--log-level warning
wait_until 30 http_up "http://127.0.0.1:$PORT_FORJA/healthz" ||
	die "Forja did not start (see $BENCH_STATE/forja.log)"

# One build in the history so the lookup finds a row: a clone from a closed port fails fast.
curl -fs -o /dev/null -H 'Authorization: Bearer bench-token' -H 'Content-Type: application/json' \
	-d '{"service":"api","version":"1.2.0","repository":"git://127.0.0.1:1/none.git","ref":"main"}' \
	"http://127.0.0.1:$PORT_FORJA/builds" || die "POST /builds failed"
badge_final() {
	curl -fs "http://127.0.0.1:$PORT_FORJA/badge?service=api" | grep -Eq '1\.2\.0( failing)?<'
}
wait_until 60 badge_final || die "the build did not finish (see $BENCH_STATE/forja.log)"

# nginx: the unknown badge as a static file, same headers, workers = CPUs.
mkdir -p "$BENCH_STATE/www" "$BENCH_STATE/nginx"
curl -fs -o "$BENCH_STATE/www/badge.svg" "http://127.0.0.1:$PORT_FORJA/badge?service=x"
chmod a+rx "$BENCH_STATE" "$BENCH_STATE/www"
chmod a+r "$BENCH_STATE/www/badge.svg"
cat >"$BENCH_STATE/nginx/nginx.conf" <<CONF
worker_processes $(nproc);
daemon off;
pid $BENCH_STATE/nginx/nginx.pid;
error_log $BENCH_STATE/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	types { image/svg+xml svg; }
	server {
		listen 127.0.0.1:$PORT_NGINX;
		root $BENCH_STATE/www;
		location = /badge.svg { add_header Cache-Control "no-cache"; }
	}
}
CONF
start_bg "$BENCH_STATE/nginx/stdout.log" nginx -p "$BENCH_STATE/nginx" -c "$BENCH_STATE/nginx/nginx.conf"
wait_until 30 curl -fs -o /dev/null "http://127.0.0.1:$PORT_NGINX/badge.svg" ||
	die "nginx did not start (see $BENCH_STATE/nginx/error.log)"

# The same binary at the default log level (info): every request writes an access-log line.
start_bg "$BENCH_STATE/forja-info.log" "$FORJA_BIN" --listen "127.0.0.1:$PORT_FORJA_INFO" \
	--data-dir "$BENCH_STATE/forja-info" --registry 127.0.0.1:1
wait_until 30 http_up "http://127.0.0.1:$PORT_FORJA_INFO/healthz" ||
	die "the second Forja did not start"

etag=$(curl -fs -D - -o /dev/null "http://127.0.0.1:$PORT_FORJA/badge?service=api" |
	awk -F': ' 'tolower($1) == "etag" { sub(/\r$/, "", $2); print $2 }')
[ -n "$etag" ] || die "no ETag on the badge"

# run_wrk NAME URL [HEADER]: one wrk run; prints a table row.
run_wrk() {
	local name=$1 url=$2 out=$BENCH_STATE/wrk-$RANDOM.txt
	local args=(-t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency)
	[ $# -ge 3 ] && args+=(-H "$3")
	wrk "${args[@]}" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
	local rps p50 p99 errs total
	rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
	p50=$(awk '$1 == "50%" { print $2 }' "$out")
	p99=$(awk '$1 == "99%" { print $2 }' "$out")
	total=$(awk '/requests in/ { print $1 }' "$out")
	errs=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$out")
	table_row "$name" "$url" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${total:-?}" "${errs:-0}"
}

echo "## Badge throughput: wrk -t$THREADS -c$CONNS -d${SECS}s, keep-alive, on 127.0.0.1"
echo
machine
echo "wrk and the server share the machine's CPUs; Forja is a Release build ($(basename "$FORJA_BIN"))."
echo
table_row "server" "request" "requests/s" "p50" "p99" "requests" "non-2xx/3xx"
table_row "---" "---" "---:" "---:" "---:" "---:" "---:"
run_wrk "forja (log warning), unknown service" "http://127.0.0.1:$PORT_FORJA/badge?service=x"
run_wrk "forja (log warning), service with a build" "http://127.0.0.1:$PORT_FORJA/badge?service=api"
run_wrk "forja (log warning), If-None-Match -> 304" \
	"http://127.0.0.1:$PORT_FORJA/badge?service=api" "If-None-Match: $etag"
run_wrk "forja (log info: access log), unknown service" \
	"http://127.0.0.1:$PORT_FORJA_INFO/badge?service=x"
run_wrk "nginx $(nginx -v 2>&1 | sed 's|.*nginx/||'), static SVG" \
	"http://127.0.0.1:$PORT_NGINX/badge.svg"
