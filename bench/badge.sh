#!/usr/bin/env bash
# Badge throughput: requests per second of GET /badge over keep-alive connections (wrk) against
# a Release build of Forja, side by side with nginx serving the same SVG as a static file.
# Rows: an unknown service (no history), a service with a build in the history, a revalidation
# answered 304, Forja at its default log level (one access-log line per request), and nginx with
# its access log off and on. The rows take turns in BADGE_ROUNDS rounds (the machine's speed
# drifts by a third over a minute here, so one long run per row compares different machines);
# each row reports its median round, and the ratios are medians of the per-round ratios.
# Everything listens on 127.0.0.1 and is stopped by PID at exit. Prints a markdown table.
# usage: bench/badge.sh   (env: BADGE_ROUNDS=3 BADGE_WRK_SECONDS=5 BADGE_WRK_CONNECTIONS=32
#                          BADGE_WRK_THREADS=2 BENCH_PORT_BASE FORJA_BIN BENCH_BUILD_DIR)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

SECS=${BADGE_WRK_SECONDS:-5}
ROUNDS=${BADGE_ROUNDS:-3}
CONNS=${BADGE_WRK_CONNECTIONS:-32}
THREADS=${BADGE_WRK_THREADS:-2}
PORT_NGINX=$PORT_AUX
PORT_FORJA_INFO=$((BENCH_PORT_BASE + 4))
PORT_NGINX_LOG=$((BENCH_PORT_BASE + 5))

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs wrk nginx-light curl
forja_build
state_init
for p in "$PORT_FORJA" "$PORT_NGINX" "$PORT_FORJA_INFO" "$PORT_NGINX_LOG"; do
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
	# nginx's own default: one combined-format line per request, written as it happens
	server {
		listen 127.0.0.1:$PORT_NGINX_LOG;
		access_log $BENCH_STATE/nginx/access.log;
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

# run_wrk ROW URL [HEADER]: one wrk run; appends requests/s, p50, p99 (ms), requests and
# non-2xx/3xx answers to the row's files.
run_wrk() {
	local row=$1 url=$2 out=$BENCH_STATE/wrk-$RANDOM.txt
	local args=(-t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency)
	[ $# -ge 3 ] && args+=(-H "$3")
	wrk "${args[@]}" "$url" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
	awk '/^Requests\/sec:/ { printf "%.0f\n", $2 }' "$out" >>"$BENCH_STATE/rows/$row.rps"
	local p
	for p in 50 99; do
		awk -v q="$p%" '$1 == q {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			if (u == "us") v /= 1000; else if (u == "s") v *= 1000
			printf "%.3f\n", v }' "$out" >>"$BENCH_STATE/rows/$row.p$p"
	done
	awk '/requests in/ { print $1 }' "$out" >>"$BENCH_STATE/rows/$row.total"
	awk '/Non-2xx or 3xx responses:/ { n = $5 } END { print n + 0 }' "$out" \
		>>"$BENCH_STATE/rows/$row.errs"
}

nginx_version=$(nginx -v 2>&1 | sed 's|.*nginx/||')
names=("forja (log warning), unknown service" "forja (log warning), service with a build"
	"forja (log warning), If-None-Match -> 304" "forja (default log level info: access log), unknown service"
	"nginx $nginx_version, static SVG, access_log off" "nginx $nginx_version, static SVG, access_log on (its default)")
urls=("http://127.0.0.1:$PORT_FORJA/badge?service=x" "http://127.0.0.1:$PORT_FORJA/badge?service=api"
	"http://127.0.0.1:$PORT_FORJA/badge?service=api" "http://127.0.0.1:$PORT_FORJA_INFO/badge?service=x"
	"http://127.0.0.1:$PORT_NGINX/badge.svg" "http://127.0.0.1:$PORT_NGINX_LOG/badge.svg")
mkdir -p "$BENCH_STATE/rows"
for round in $(seq 1 "$ROUNDS"); do
	for i in "${!names[@]}"; do
		if [ "$i" = 2 ]; then
			run_wrk "$i" "${urls[$i]}" "If-None-Match: $etag"
		else
			run_wrk "$i" "${urls[$i]}"
		fi
	done
	echo "badge: round $round/$ROUNDS done" >&2
done

# round_ratios A B: the per-round ratios of row A's requests/s to row B's, one per line.
round_ratios() {
	paste "$BENCH_STATE/rows/$1.rps" "$BENCH_STATE/rows/$2.rps" |
		awk '$2 > 0 { printf "%.4f\n", $1 / $2 }'
}

echo "## Badge throughput: wrk -t$THREADS -c$CONNS -d${SECS}s per row and round, keep-alive, on 127.0.0.1"
echo
machine
echo "wrk and the server share the machine's CPUs; Forja is a Release build ($(basename "$FORJA_BIN"))."
echo "$ROUNDS rounds, the rows taking turns in each; requests/s is the median round (min-max)."
echo
table_row "server" "request" "requests/s" "min-max" "p50 ms" "p99 ms" "requests" "non-2xx/3xx"
table_row "---" "---" "---:" "---:" "---:" "---:" "---:" "---:"
for i in "${!names[@]}"; do
	read -r _ med _ lo hi _ < <(stats "$BENCH_STATE/rows/$i.rps")
	total=$(awk '{ s += $1 } END { print s + 0 }' "$BENCH_STATE/rows/$i.total")
	errs=$(awk '{ s += $1 } END { print s + 0 }' "$BENCH_STATE/rows/$i.errs")
	table_row "${names[$i]}" "${urls[$i]}" "${med%.*}" "${lo%.*}-${hi%.*}" \
		"$(median "$BENCH_STATE/rows/$i.p50")" "$(median "$BENCH_STATE/rows/$i.p99")" "$total" "$errs"
done
echo
round_ratios 3 4 >"$BENCH_STATE/rows/r-off"
round_ratios 3 5 >"$BENCH_STATE/rows/r-on"
round_ratios 0 4 >"$BENCH_STATE/rows/r-warn"
printf 'Forja at its default log level / nginx, access_log off: %.2f (median of %d rounds; %s)\n' \
	"$(median "$BENCH_STATE/rows/r-off")" "$ROUNDS" "$(sort -n "$BENCH_STATE/rows/r-off" | tr '\n' ' ' | sed 's/ $//')"
printf 'Forja at its default log level / nginx, access_log on: %.2f\n' "$(median "$BENCH_STATE/rows/r-on")"
printf 'Forja with log level warning / nginx, access_log off: %.2f\n' "$(median "$BENCH_STATE/rows/r-warn")"
