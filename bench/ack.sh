#!/usr/bin/env bash
# Webhook acknowledgement under load: latency (p50/p99) and throughput with wrk over keep-alive
# connections, for ignored deliveries (a push event: answered at once) and for merged-PR
# deliveries (signature, payload, manifest read from the local GitHub stand-in, history write,
# build queued), Forja versus adnanh/webhook. Every request carries a unique X-GitHub-Delivery
# (bench/ack/delivery.lua); the body and so its signature are fixed. "merged+attack" repeats the
# merged case while 4,000 slow connections from 200 other loopback addresses are held.
# Merged deliveries queue real builds. They point at a git address that accepts and never
# answers, so a queued build costs a waiting worker and no engine work, and each Forja is
# stopped right after its runs. adnanh/webhook runs /bin/true as its hook command here (one
# process per delivery), since thousands of real build scripts would swamp the machine.
# usage: bench/ack.sh   (env: BENCH_WRK_SECONDS=5 BENCH_WRK_CONNECTIONS=16 BENCH_WRK_THREADS=2
#                        BENCH_PORT_BASE FORJA_BIN)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs curl jq git openssl docker-registry webhook wrk busybox-static gcc
command -v nginx >/dev/null || need_pkgs nginx-light
forja_build
state_init
services_start
for p in "$PORT_FORJA" "$PORT_WEBHOOK" "$PORT_AUX"; do
	port_free "$p" || die "port $p is taken (set BENCH_PORT_BASE)"
done
tarpit_start "$PORT_AUX"
repo_init ack
repo_commit ack 0 "$(e2e_manifest bench-ack 1.0.0)"
SHA=$REPLY
pr_payload ack "$SHA" 7 true "git://127.0.0.1:$PORT_AUX" >"$BENCH_STATE/merged.json"
cp "$BENCH_STATE/merged.json" "$BENCH_STATE/ignored.json" # sent as a push event

"$BENCH_DIR/webhook/hooks.sh" "$BENCH_SECRET" /bin/true "$REG" >"$BENCH_STATE/hooks-true.json"

# run_wrk SYSTEM KIND URL EVENT BODY PID: one wrk run; appends a row to $BENCH_STATE/ack.rows,
# with the server's CPU time per request (PID's own and its reaped children's).
run_wrk() {
	local sys=$1 kind=$2 url=$3 pid=$6 out=$BENCH_STATE/wrk-$1-$2.txt line cpu0 cpu1
	cpu0=$(cpu_ms "$pid")
	ACK_BODY_FILE=$5 ACK_SIGNATURE=$(sign "$5") ACK_EVENT=$4 ACK_RUN="$sys$kind$RANDOM" \
		timeout $((BENCH_WRK_SECONDS + 30)) wrk -t"$BENCH_WRK_THREADS" -c"$BENCH_WRK_CONNECTIONS" \
		-d"${BENCH_WRK_SECONDS}s" --timeout 10s -s "$BENCH_DIR/ack/delivery.lua" "$url" \
		>"$out" 2>&1 || die "wrk failed: $(cat "$out")"
	cpu1=$(cpu_ms "$pid")
	line=$(grep '^ACK ' "$out") || die "no summary from wrk: $(cat "$out")"
	# ACK rps=.. p50=.. p99=.. requests=.. non2xx=.. errors=..
	eval "local ${line#ACK }"
	echo "$sys $kind $rps $p50 $p99 $requests $non2xx $errors" \
		"$(awk -v c=$((cpu1 - cpu0)) -v n="$requests" 'BEGIN { printf "%.3f", n ? c / n : 0 }')" \
		>>"$BENCH_STATE/ack.rows"
}

# Forja: a fresh instance (empty history) for each kind, stopped right after.
forja_case() {
	local kind=$1 event=$2 body=$3 pid
	forja_start "$PORT_FORJA" "$BENCH_STATE/forja-$kind"
	pid=$REPLY
	run_wrk forja "$kind" "http://127.0.0.1:$PORT_FORJA/ciserver/updates" "$event" "$body" "$pid"
	RSS_AFTER[forja-$kind]=$(rss_kb "$pid")
	forget_pid "$pid"
}
webhook_case() {
	local kind=$1 event=$2 body=$3 pid
	webhook_start "$PORT_WEBHOOK" "$BENCH_STATE/hooks-true.json"
	pid=$REPLY
	run_wrk webhook "$kind" "http://127.0.0.1:$PORT_WEBHOOK/hooks/ci" "$event" "$body" "$pid"
	RSS_AFTER[webhook-$kind]=$(rss_kb "$pid")
	forget_pid "$pid"
}
# The same merged deliveries while a slow-client attack from other addresses goes on: 2,000
# connections trickling one byte every 2 s and 2,000 idle ones, spread over 200 loopback
# addresses (127.0.1.1-200, under any per-address limit), reconnecting whatever is closed.
attacker_build
attack_case() {
	local sys=$1 port=$2 path=$3 pid apid
	: >"$BENCH_STATE/$sys.atk"
	if [ "$sys" = forja ]; then
		forja_start "$port" "$BENCH_STATE/forja-attack"
	else
		webhook_start "$port" "$BENCH_STATE/hooks-true.json"
	fi
	pid=$REPLY
	"$ATTACK_BIN" 127.0.0.1 "$port" 127.0.1.1+200 2000 2000 2000 \
		$((BENCH_WRK_SECONDS + 8 + BENCH_ACK_N / 20)) \
		>"$BENCH_STATE/attack-$sys.txt" 2>&1 &
	apid=$!
	sleep 4 # every attacking connection is open
	run_wrk "$sys" merged+attack "http://127.0.0.1:$port$path" pull_request \
		"$BENCH_STATE/merged.json" "$pid"
	# then one delivery at a time, as GitHub sends them, while the attack still goes on
	local i code secs
	for ((i = 1; i <= BENCH_ACK_N; i++)); do
		deliver "http://127.0.0.1:$port$path" "$BENCH_STATE/merged.json" pull_request \
			"atk-$sys-$i-$RANDOM" "$(sign "$BENCH_STATE/merged.json")"
		read -r code secs <<<"$REPLY"
		[ "${code:0:1}" = 2 ] || { echo timeout >>"$BENCH_STATE/$sys.atkfail"; continue; }
		awk -v s="$secs" 'BEGIN { printf "%.2f\n", s * 1000 }' >>"$BENCH_STATE/$sys.atk"
	done
	RSS_AFTER[$sys-attack]=$(rss_kb "$pid")
	wait "$apid" || true
	forget_pid "$pid"
}

declare -A RSS_AFTER
forja_case ignored push "$BENCH_STATE/ignored.json"
webhook_case ignored push "$BENCH_STATE/ignored.json"
webhook_case merged pull_request "$BENCH_STATE/merged.json"
forja_case merged pull_request "$BENCH_STATE/merged.json"
attack_case forja "$PORT_FORJA" /ciserver/updates
attack_case webhook "$PORT_WEBHOOK" /hooks/ci

echo "## Webhook acknowledgement under load: wrk -t$BENCH_WRK_THREADS -c$BENCH_WRK_CONNECTIONS -d${BENCH_WRK_SECONDS}s, keep-alive"
echo
machine
echo "Unique X-GitHub-Delivery per request, fixed signed body; wrk shares the CPUs with the server."
echo "Merged deliveries: Forja reads the manifest from a local static GitHub stand-in (nginx),"
echo "records the delivery and queues a build whose clone never answers (no engine work), and is"
echo "stopped right after; adnanh/webhook runs /bin/true per delivery. CPU per request counts the
server process and the children it reaped (webhook's /bin/true), from /proc/PID/stat."
echo
table_row "server" "deliveries" "requests/s" "p50 ms" "p99 ms" "requests" "non-2xx" "socket errors" "server CPU ms / request" "requests/s Forja / webhook"
table_row "---" "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:" "---:"
rps_of() { awk -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }' "$BENCH_STATE/ack.rows"; }
while read -r sys kind rps p50 p99 requests non2xx errors cpu; do
	r=""
	[ "$sys" = forja ] && r=$(ratio "$rps" "$(rps_of webhook "$kind")")
	name="Forja"
	[ "$sys" = webhook ] && name="adnanh/webhook"
	table_row "$name" "$kind" "$rps" "$p50" "$p99" "$requests" "$non2xx" "$errors" "$cpu" "$r"
done < <(sort -k2,2 -k1,1 "$BENCH_STATE/ack.rows")
echo
echo "Merged deliveries one at a time ($BENCH_ACK_N, curl time_total, a fresh connection each) while the"
echo "same attack goes on, ms:"
echo
table_row "server" "answered" "failed" "median" "p99" "max"
table_row "---" "---:" "---:" "---:" "---:" "---:"
for sys in forja webhook; do
	read -r n med p99 _ max _ <<<"$(stats "$BENCH_STATE/$sys.atk")"
	name="Forja"
	[ "$sys" = webhook ] && name="adnanh/webhook"
	table_row "$name" "$n" "$(cat "$BENCH_STATE/$sys.atkfail" 2>/dev/null | wc -l)" "$med" "$p99" "$max"
done
echo
echo "merged+attack: the merged deliveries while 4,000 slow connections from 200 other addresses"
echo "are held (attacker: $(cat "$BENCH_STATE/attack-forja.txt") against Forja;"
echo "$(cat "$BENCH_STATE/attack-webhook.txt") against adnanh/webhook)."
echo
echo "Resident memory right after each run (MiB): Forja under attack $(mib "${RSS_AFTER[forja-attack]}"), webhook under attack $(mib "${RSS_AFTER[webhook-attack]}"); Forja ignored $(mib "${RSS_AFTER[forja-ignored]}")," \
	"merged $(mib "${RSS_AFTER[forja-merged]}"); webhook ignored $(mib "${RSS_AFTER[webhook-ignored]}")," \
	"merged $(mib "${RSS_AFTER[webhook-merged]}")."
