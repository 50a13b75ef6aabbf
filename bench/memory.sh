#!/usr/bin/env bash
# Memory and start-up: Forja's resident size idle; after BENCH_MEM_BUILDS builds that fail at
# the engine's clone (the repository is missing: queue, history, logs and engine call, in
# seconds); after as many real builds as finish within BENCH_MEM_TIMEOUT (50 services per
# merged-PR delivery, unchanged context so each is a cached build + push); and with
# BENCH_MEM_QUEUED builds queued (behind builds whose clone never answers); start-up time from
# exec to /healthz answering 200, median of BENCH_STARTS, with an empty and with a filled data
# directory; adnanh/webhook's idle size and start-up (exec to its first HTTP answer) beside them.
# usage: bench/memory.sh   (env: BENCH_MEM_BUILDS=1000 BENCH_MEM_QUEUED=10000 BENCH_STARTS=10
#                           BENCH_MEM_TIMEOUT=240 BENCH_PORT_BASE FORJA_BIN)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

BENCH_MEM_TIMEOUT=${BENCH_MEM_TIMEOUT:-240}
PER_DELIVERY=50 # the most images one manifest may list

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs curl jq git openssl docker-registry webhook busybox-static gcc
command -v nginx >/dev/null || need_pkgs nginx-light
forja_build
state_init
services_start
for p in "$PORT_FORJA" "$PORT_WEBHOOK" "$PORT_AUX"; do
	port_free "$p" || die "port $p is taken (set BENCH_PORT_BASE)"
done

# A pause without forking: read with a timeout on a FIFO nobody writes to.
mkfifo "$BENCH_STATE/pause"
exec 9<>"$BENCH_STATE/pause"
pause() { read -r -t "$1" -u 9 _ || true; }

# http_200 PORT PATH: one HTTP/1.0 GET over bash's /dev/tcp (no fork); 0 on a 200.
http_200() {
	local line
	exec 8<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&8
	read -r -t 2 line <&8 || line=
	exec 8>&-
	[[ $line == "HTTP/1."?" 200"* ]]
}
# http_any PORT PATH: any HTTP answer.
http_any() {
	local line
	exec 8<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&8
	read -r -t 2 line <&8 || line=
	exec 8>&-
	[[ $line == "HTTP/1."* ]]
}

# time_start NAME PROBE PORT PATH CMD...: exec -> PROBE succeeds, polled every 2 ms; ms into
# $BENCH_STATE/NAME.start; the process is stopped afterwards.
time_start() {
	local name=$1 probe=$2 port=$3 path=$4 t0 pid deadline
	shift 4
	now_us
	t0=$REPLY
	start_bg "$BENCH_STATE/$name.log" "$@"
	pid=$REPLY
	deadline=$((SECONDS + 30))
	until "$probe" "$port" "$path" 2>/dev/null; do
		[ "$SECONDS" -ge "$deadline" ] && die "$name did not answer within 30 s"
		pause 0.002
	done
	now_us
	echo $(((REPLY - t0) / 1000)) >>"$BENCH_STATE/$name.start"
	forget_pid "$pid"
}

forja_cmd() {
	printf '%s\n' "$FORJA_BIN" --listen "127.0.0.1:$PORT_FORJA" --data-dir "$1" --registry "$REG" \
		--webhook-secret "$BENCH_SECRET" --github-api-url "http://127.0.0.1:$PORT_GH" \
		--allowed-hosts 127.0.0.1 --log-level warning
}

# ---- start-up ----
"$BENCH_DIR/webhook/hooks.sh" "$BENCH_SECRET" /bin/true "$REG" >"$BENCH_STATE/hooks.json"
for ((i = 1; i <= BENCH_STARTS; i++)); do
	rm -rf "$BENCH_STATE/start-empty"
	mapfile -t cmd < <(forja_cmd "$BENCH_STATE/start-empty")
	time_start forja-empty http_200 "$PORT_FORJA" /healthz "${cmd[@]}"
	mapfile -t cmd < <(forja_cmd "$BENCH_STATE/start-kept")
	time_start forja-kept http_200 "$PORT_FORJA" /healthz "${cmd[@]}"
	time_start webhook http_any "$PORT_WEBHOOK" /hooks/ci \
		webhook -hooks "$BENCH_STATE/hooks.json" -ip 127.0.0.1 -port "$PORT_WEBHOOK"
done
log "memory: start-up timed"

# metric NAME: the sum of a metric's samples from /metrics.
metric() {
	curl -s --max-time 10 "http://127.0.0.1:$PORT_FORJA/metrics" |
		awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { print s + 0 }'
}
# deliver_many REPO SHA COUNT PREFIX GIT_BASE: COUNT merged-PR deliveries of a manifest of
# PER_DELIVERY services; each delivery has its own version so every build makes a new tag.
deliver_many() {
	local repo=$1 sha=$2 count=$3 prefix=$4 base=$5 d i m code
	pr_payload "$repo" "$sha" 3 true "$base" >"$BENCH_STATE/$prefix.json"
	for ((d = 1; d <= count; d++)); do
		m='['
		for ((i = 0; i < PER_DELIVERY; i++)); do
			((i)) && m+=','
			m+="{\"service_name\":\"$prefix-$i\",\"version\":\"d$d\",\"type\":\"Docker\",\"context\":\"\"}"
		done
		printf '%s]\n' "$m" >"$BENCH_STATE/gh/repos/bench/$repo/contents/images.json"
		deliver "http://127.0.0.1:$PORT_FORJA/ciserver/updates" "$BENCH_STATE/$prefix.json" \
			pull_request "$prefix-$d-$RANDOM"
		code=${REPLY%% *}
		[ "$code" = 202 ] || die "delivery $d answered $code: $(head -c 300 "$BENCH_STATE/last-response")"
	done
}

# ---- idle, then BENCH_MEM_BUILDS real builds ----
repo_init mem
repo_commit mem 0 '[]'
MEM_SHA=$REPLY
forja_start "$PORT_FORJA" "$BENCH_STATE/forja-mem"
PID=$REPLY
pause 1
IDLE=$(rss_kb "$PID")
# what is Forja's own: Pss (shared library pages split among the processes using them) and
# private pages, beside VmRSS, which counts every library page it touched
smaps_kb() { awk -v f="$2:" '$1 == f { s += $2 } END { print s + 0 }' "/proc/$1/smaps_rollup"; }
IDLE_PSS=$(smaps_kb "$PID" Pss)
IDLE_PRIV=$(($(smaps_kb "$PID" Private_Clean) + $(smaps_kb "$PID" Private_Dirty)))
# 2,000 idle connections from 100 addresses (under the per-address limit), measured while held
attacker_build
held_rss() {
	local apid
	"$ATTACK_BIN" 127.0.0.1 "$2" 127.0.2.1+100 0 2000 2000 6 >"$BENCH_STATE/held-$2.txt" &
	apid=$!
	pause 4
	REPLY=$(rss_kb "$1")
	wait "$apid" || true
}
held_rss "$PID" "$PORT_FORJA"
HELD=$REPLY
webhook_start "$PORT_WEBHOOK" "$BENCH_STATE/hooks.json"
WPID=$REPLY
pause 1
WH_IDLE=$(rss_kb "$WPID")
held_rss "$WPID" "$PORT_WEBHOOK"
WH_HELD=$REPLY
forget_pid "$WPID"
pause 1

# wait_builds TARGET SECONDS: polls /metrics until TARGET builds are final; sets DONE, PEAK.
wait_builds() {
	local deadline=$((SECONDS + $2)) r
	while :; do
		DONE=$(metric forja_builds_total)
		r=$(rss_kb "$PID")
		[ "${r:-0}" -gt "$PEAK" ] && PEAK=$r
		[ "$DONE" -ge "$1" ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "memory: only $DONE of $1 builds finished within $2 s"
			return 0
		fi
		pause 0.5
	done
}
PEAK=0
deliveries=$(((BENCH_MEM_BUILDS + PER_DELIVERY - 1) / PER_DELIVERY))
target=$((deliveries * PER_DELIVERY))

# builds whose clone fails at once: a repository the git daemon does not have
mkdir -p "$BENCH_STATE/gh/repos/bench/gone/contents"
now_us
t0=$REPLY
deliver_many gone "$MEM_SHA" "$deliveries" gone "$GIT_URL"
wait_builds "$target" "$BENCH_MEM_TIMEOUT"
now_us
fail_secs=$(awk -v a="$t0" -v b="$REPLY" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
fail_done=$DONE
pause 1
FAIL_RSS=$(rss_kb "$PID")

# real builds (cached build + labels + push), as many as finish within BENCH_MEM_TIMEOUT
now_us
t0=$REPLY
deliver_many mem "$MEM_SHA" "$deliveries" mem "$GIT_URL"
wait_builds $((fail_done + target)) "$BENCH_MEM_TIMEOUT"
now_us
build_secs=$(awk -v a="$t0" -v b="$REPLY" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
succeeded=$(metric 'forja_builds_total{status="succeeded"}')
pause 1
AFTER=$(rss_kb "$PID")
HWM=$(rss_kb "$PID" VmHWM)
forget_pid "$PID"

# ---- BENCH_MEM_QUEUED queued builds ----
tarpit_start "$PORT_AUX"
forja_start "$PORT_FORJA" "$BENCH_STATE/forja-queue"
PID=$REPLY
QIDLE=$(rss_kb "$PID")
qdeliveries=$(((BENCH_MEM_QUEUED + PER_DELIVERY - 1) / PER_DELIVERY))
now_us
t0=$REPLY
deliver_many mem "$MEM_SHA" "$qdeliveries" q "git://127.0.0.1:$PORT_AUX"
now_us
queue_secs=$(awk -v a="$t0" -v b="$REPLY" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
pause 1
depth=$(metric forja_queue_depth)
running=$(metric forja_builds_running)
QUEUED_RSS=$(rss_kb "$PID")
QHWM=$(rss_kb "$PID" VmHWM)
forget_pid "$PID"

echo "## Memory and start-up"
echo
machine
echo
table_row "Forja resident memory" "VmRSS MiB" "peak VmHWM MiB" "note"
table_row "---" "---:" "---:" "---"
table_row "idle, empty history" "$(mib "$IDLE")" "" "adnanh/webhook idle: $(mib "$WH_IDLE") MiB ($(ratio "$IDLE" "$WH_IDLE")x); Forja's Pss $(mib "$IDLE_PSS"), private $(mib "$IDLE_PRIV") MiB"
table_row "holding 2,000 idle connections" "$(mib "$HELD")" "" "adnanh/webhook: $(mib "$WH_HELD") MiB ($(ratio "$HELD" "$WH_HELD")x)"
table_row "after $fail_done builds failing at the clone" "$(mib "$FAIL_RSS")" "" \
	"$deliveries deliveries x $PER_DELIVERY services, ${fail_secs} s"
table_row "then $((DONE - fail_done)) real builds ($succeeded succeeded)" "$(mib "$AFTER")" "$(mib "$HWM")" \
	"cached build + labels + push, 2 workers, ${build_secs} s (bound: BENCH_MEM_TIMEOUT=${BENCH_MEM_TIMEOUT})"
table_row "with $depth builds queued, $running running" "$(mib "$QUEUED_RSS")" "$(mib "$QHWM")" \
	"$qdeliveries deliveries queued in ${queue_secs}s (idle before: $(mib "$QIDLE") MiB)"
echo
echo "Start-up: exec to the first 200 from /healthz (adnanh/webhook: first HTTP answer), polled every 2 ms over /dev/tcp, ms:"
echo
table_row "start-up" "n" "median" "p99" "min" "max" "median / webhook's"
table_row "---" "---:" "---:" "---:" "---:" "---:" "---:"
wmed=$(median "$BENCH_STATE/webhook.start")
for s in "forja-empty:Forja, empty data directory" "forja-kept:Forja, existing history" "webhook:adnanh/webhook"; do
	read -r n med p99 min max _ <<<"$(stats "$BENCH_STATE/${s%%:*}.start")"
	table_row "${s#*:}" "$n" "$med" "$p99" "$min" "$max" "$(ratio "$med" "$wmed")"
done
