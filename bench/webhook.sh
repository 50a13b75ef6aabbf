#!/usr/bin/env bash
# Forja versus what users run today: adnanh/webhook (Debian package `webhook`) with a hook
# checking GitHub's HMAC-SHA256 signature (payload-hmac-sha256 on X-Hub-Signature-256) and a
# shell script that fetches the merge commit, then docker build + docker push (webhook/build.sh).
# Reports, side by side: end-to-end time (delivery -> tag in the registry), acknowledgement
# latency (merged and ignored deliveries, one at a time), and resident memory of the server
# process (VmRSS idle and after every delivery of this benchmark, VmHWM = peak).
# usage: bench/webhook.sh   (env: BENCH_RUNS=10 BENCH_ACK_N=200 BENCH_TIMEOUT BENCH_PORT_BASE FORJA_BIN)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need_pkgs curl jq git openssl docker-registry webhook
command -v nginx >/dev/null || need_pkgs nginx-light
forja_build
state_init
services_start
for p in "$PORT_FORJA" "$PORT_WEBHOOK"; do port_free "$p" || die "port $p is taken (set BENCH_PORT_BASE)"; done
repo_init wh

"$BENCH_DIR/webhook/hooks.sh" "$BENCH_SECRET" "$BENCH_DIR/webhook/build.sh" "$REG" >"$BENCH_STATE/hooks.json"
webhook_start "$PORT_WEBHOOK" "$BENCH_STATE/hooks.json"
WH_PID=$REPLY
forja_start "$PORT_FORJA" "$BENCH_STATE/forja"
FORJA_PID=$REPLY
FORJA_URL=http://127.0.0.1:$PORT_FORJA/ciserver/updates
WH_URL=http://127.0.0.1:$PORT_WEBHOOK/hooks/ci
sleep 1 # let both settle before reading their idle size
FORJA_IDLE=$(rss_kb "$FORJA_PID")
WH_IDLE=$(rss_kb "$WH_PID")

# end-to-end and the acknowledgement of each merged delivery, interleaved, warm-up untimed
# forjacold: the same Forja with its git cache removed before each delivery, like the script's
# fresh clone every time
COLD=$BENCH_STATE/forja/git
e2e_webhook_system forja "$FORJA_URL" 0 wh
e2e_webhook_system forjacold "$FORJA_URL" 0 wh "$COLD"
e2e_webhook_system webhook "$WH_URL" 0 wh
rm -f "$BENCH_STATE"/{forja,forjacold,webhook}.{e2e,ack,fail}
systems=(forja forjacold webhook)
for ((run = 1; run <= BENCH_RUNS; run++)); do
	for ((k = 0; k < ${#systems[@]}; k++)); do
		case ${systems[$(((run + k) % ${#systems[@]}))]} in
		forja) e2e_webhook_system forja "$FORJA_URL" "$run" wh ;;
		forjacold) e2e_webhook_system forjacold "$FORJA_URL" "$run" wh "$COLD" ;;
		webhook) e2e_webhook_system webhook "$WH_URL" "$run" wh ;;
		esac
	done
	log "webhook: round $run/$BENCH_RUNS done"
done

# ignored deliveries (a push event) one at a time: the cost of saying "not for me"
pr_payload wh "$(git -C "$BENCH_STATE/work/wh" rev-parse HEAD)" 1 >"$BENCH_STATE/ignored.json"
# ack_one SYSTEM URL I: one ignored delivery, its answer time appended to SYSTEM.ign
ack_one() {
	local code secs
	deliver "$2" "$BENCH_STATE/ignored.json" push "ign-$1-$3-$RANDOM"
	read -r code secs <<<"$REPLY"
	[ "${code:0:1}" = 2 ] || { log "$1: ignored delivery answered $code"; return 0; }
	awk -v s="$secs" 'BEGIN { printf "%.2f\n", s * 1000 }' >>"$BENCH_STATE/$1.ign"
}
# alternating, so drifts in the machine's load hit both alike
for ((i = 1; i <= BENCH_ACK_N; i++)); do
	ack_one forja "$FORJA_URL" "$i"
	ack_one webhook "$WH_URL" "$i"
done
# builds are finished (every tag was seen in the registry); the servers are idle again
sleep 1
FORJA_AFTER=$(rss_kb "$FORJA_PID")
WH_AFTER=$(rss_kb "$WH_PID")
FORJA_HWM=$(rss_kb "$FORJA_PID" VmHWM)
WH_HWM=$(rss_kb "$WH_PID" VmHWM)
DELIVERIES=$((2 * (BENCH_RUNS + 1) + BENCH_ACK_N)) # Forja had warm and cold rounds

wh_version=$(webhook -version 2>/dev/null | awk '{ print $3 }')
echo "## Forja versus adnanh/webhook $wh_version + a build script (what users run today)"
echo
machine
echo "End-to-end: $BENCH_RUNS merged-PR deliveries per system after one warm-up, interleaved; each"
echo "commits a fresh 1 MiB layer; the clock stops when the tag answers HEAD in the registry. Times in ms."
echo
wmed=$(median "$BENCH_STATE/webhook.e2e")
table_row "end-to-end" "n" "median" "p99" "min" "max" "failed" "median / webhook's"
table_row "---" "---:" "---:" "---:" "---:" "---:" "---:" "---:"
e2e_row "Forja, warm git cache" forja "$wmed"
e2e_row "Forja, cold (git cache removed before each delivery)" forjacold "$wmed"
e2e_row "adnanh/webhook + git fetch --depth 1, docker build, docker push" webhook "$wmed"
echo
echo "Acknowledgement (HTTP answer to GitHub), one delivery at a time, ms (curl time_total):"
echo
table_row "acknowledgement" "n" "median" "p99" "max" "Forja / webhook (median)"
table_row "---" "---:" "---:" "---:" "---:" "---:"
ack_row() {
	local n med p99 max
	read -r n med p99 _ max _ <<<"$(stats "$2")"
	table_row "$1" "$n" "$med" "$p99" "$max" "$3"
}
ack_row "Forja, merged PR (202, build queued)" "$BENCH_STATE/forja.ack" \
	"$(ratio "$(median "$BENCH_STATE/forja.ack")" "$(median "$BENCH_STATE/webhook.ack")")"
ack_row "webhook, merged PR (200, script started)" "$BENCH_STATE/webhook.ack" ""
ack_row "Forja, ignored delivery (push event)" "$BENCH_STATE/forja.ign" \
	"$(ratio "$(median "$BENCH_STATE/forja.ign")" "$(median "$BENCH_STATE/webhook.ign")")"
ack_row "webhook, ignored delivery (rules not satisfied)" "$BENCH_STATE/webhook.ign" ""
echo
echo "Resident memory of the server process (the hook script's git/docker processes not counted), MiB:"
echo
table_row "memory" "idle (VmRSS)" "after $DELIVERIES deliveries (VmRSS)" "peak (VmHWM)" "Forja / webhook (after)"
table_row "---" "---:" "---:" "---:" "---:"
table_row "Forja" "$(mib "$FORJA_IDLE")" "$(mib "$FORJA_AFTER")" "$(mib "$FORJA_HWM")" "$(ratio "$FORJA_AFTER" "$WH_AFTER")"
table_row "adnanh/webhook" "$(mib "$WH_IDLE")" "$(mib "$WH_AFTER")" "$(mib "$WH_HWM")" ""
