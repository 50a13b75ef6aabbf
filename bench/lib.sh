# Shared helpers of the benchmarks: clocks, statistics, tables, the services a benchmark
# starts (registry, git daemon, GitHub stand-in, Forja, adnanh/webhook), all on loopback and
# stopped by PID. Sourced by bench/run.sh and bench/<name>.sh; never run on its own.

# shellcheck disable=SC2034 # the settings are read by the scripts that source this file
BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
ROOT=${ROOT:-$(cd "$BENCH_DIR/.." && pwd)}
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
WAIT_UNTIL_PAUSE=0.02 # what the benchmarks wait for is often what they time

# Repetitions and bounds, all overridable from the environment.
BENCH_RUNS=${BENCH_RUNS:-10}             # end-to-end runs per system
BENCH_ACK_N=${BENCH_ACK_N:-200}          # sequential acknowledgements timed per system
BENCH_WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
BENCH_WRK_CONNECTIONS=${BENCH_WRK_CONNECTIONS:-16}
BENCH_WRK_THREADS=${BENCH_WRK_THREADS:-2}
BENCH_STARTS=${BENCH_STARTS:-10}         # start-up time repetitions
BENCH_MEM_BUILDS=${BENCH_MEM_BUILDS:-1000}
BENCH_MEM_QUEUED=${BENCH_MEM_QUEUED:-10000}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-60}       # seconds one end-to-end run may take

# Loopback ports: registry, git daemon, and a base for the servers a benchmark starts.
BENCH_REGISTRY_PORT=${BENCH_REGISTRY_PORT:-5106}
BENCH_GIT_PORT=${BENCH_GIT_PORT:-9506}
BENCH_PORT_BASE=${BENCH_PORT_BASE:-18600}
PORT_FORJA=$BENCH_PORT_BASE
PORT_GH=$((BENCH_PORT_BASE + 1))
PORT_WEBHOOK=$((BENCH_PORT_BASE + 2))
PORT_AUX=$((BENCH_PORT_BASE + 3)) # a second Forja, nginx, a hanging git server, ...
REG=127.0.0.1:$BENCH_REGISTRY_PORT
GIT_URL=git://127.0.0.1:$BENCH_GIT_PORT
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
BENCH_SECRET=${BENCH_SECRET:-bench-secret-$$}
FORJA_BIN=${FORJA_BIN:-}

# PIDs this run started, stopped (in reverse order) by bench_cleanup.
BENCH_PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "bench: $*"; exit 1; }

# now_us: microseconds since the epoch into REPLY, without forking.
now_us() {
	local t=$EPOCHREALTIME
	REPLY=$((${t%.*} * 1000000 + 10#${t#*.}))
}

# stats FILE: one number per line -> "n median p99 min max mean" (nearest-rank percentiles).
stats() {
	sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
		END {
			if (NR == 0) { print "0 - - - - -"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			k = int(0.99 * NR); if (k < 0.99 * NR) k++; if (k < 1) k = 1
			printf "%d %.1f %.1f %.1f %.1f %.1f\n", NR, m, v[k], v[1], v[NR], s / NR
		}'
}
# median FILE
median() { stats "$1" | awk '{print $2}'; }
# ratio A B: A/B with two decimals, "-" when either is missing or B is zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'; }

# machine: the header every table starts with.
machine() {
	local model
	model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	printf 'Machine: %s CPUs (nproc), %s; %s MiB RAM; load average %s\n' "$(nproc)" \
		"${model:-unknown CPU}" "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
}

# rss_kb PID [FIELD]: VmRSS (or FIELD, e.g. VmHWM) of PID in kB.
rss_kb() { awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# cpu_ms PID: CPU time PID used so far, its reaped children included (utime+stime+cutime+cstime), ms.
cpu_ms() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13 + $14 + $15) * 1000 / hz) }' \
		"/proc/$1/stat" 2>/dev/null
}
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "-"; else printf "%.1f\n", k / 1024 }'; }

# ---- installing what is missing -------------------------------------------------------------

# need_pkgs PKG...: apt-get install -y only the packages not installed yet.
need_pkgs() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]} (run as root, or install them)"
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "apt-get install ${missing[*]} failed"
}

# forja_build: a Release build of Forja unless FORJA_BIN names one.
forja_build() {
	if [ -n "$FORJA_BIN" ]; then
		[ -x "$FORJA_BIN" ] || die "FORJA_BIN=$FORJA_BIN is not executable"
		return 0
	fi
	local b=${BENCH_BUILD_DIR:-$ROOT/build-bench}
	log "building Forja (Release) in $b"
	cmake -S "$ROOT" -B "$b" -DCMAKE_BUILD_TYPE=Release -DFORJA_TESTS=OFF >/dev/null ||
		die "cmake configure failed"
	cmake --build "$b" -j"$(nproc)" >/dev/null || die "build failed"
	FORJA_BIN=$b/forja
}

# ---- processes ------------------------------------------------------------------------------

# start_bg LOG CMD...: starts CMD in the background, records its PID in BENCH_PIDS and REPLY.
# Builds tests/tools/slowclients.c (the slow-client attacker) into the bench state; sets ATTACK_BIN.
attacker_build() {
	ATTACK_BIN=$BENCH_STATE/slowclients
	[ -x "$ATTACK_BIN" ] && return 0
	gcc -O2 -o "$ATTACK_BIN" "$ROOT/tests/tools/slowclients.c" || die "cannot build the attacker"
}

start_bg() {
	local logf=$1
	shift
	"$@" >"$logf" 2>&1 &
	REPLY=$!
	BENCH_PIDS+=("$REPLY")
}

# stop_pid PID: SIGTERM, up to 10 s, then SIGKILL; only ever a PID this run started.
stop_pid() {
	local p=$1 i kids
	[ -n "$p" ] || return 0
	kids=$(ps -o pid= --ppid "$p" 2>/dev/null || true)
	kill -TERM "$p" 2>/dev/null || return 0
	for i in $(seq 1 200); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	# what it left running (a tarpit's sleeps, a hook's script): by PID, children of ours
	for i in $kids; do kill -TERM "$i" 2>/dev/null || true; done
}

# forget_pid PID: stops PID and drops it from BENCH_PIDS.
forget_pid() {
	local p=$1 i keep=()
	stop_pid "$p"
	for i in "${BENCH_PIDS[@]}"; do [ "$i" = "$p" ] || keep+=("$i"); done
	BENCH_PIDS=("${keep[@]}")
}

bench_cleanup() {
	local i
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${BENCH_PIDS[$i]}"; done
	BENCH_PIDS=()
	bench_images_remove
	if [ -n "${BENCH_STATE:-}" ] && [ -z "${BENCH_KEEP:-}" ] && [ -n "${BENCH_STATE_OWNED:-}" ]; then
		rm -rf "$BENCH_STATE"
	fi
}

# state_init: the scratch directory of this run (kept when BENCH_KEEP is set).
state_init() {
	if [ -z "${BENCH_STATE:-}" ]; then
		BENCH_STATE=$(mktemp -d /tmp/forja-bench.XXXXXX)
		BENCH_STATE_OWNED=1
		export BENCH_STATE BENCH_STATE_OWNED
	fi
	mkdir -p "$BENCH_STATE"
}

# ---- the engine, registry, git daemon and GitHub stand-in ----------------------------------

docker_ready() { [ "$(curl -s --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping)" = OK ]; }
registry_ready() { curl -fs --max-time 2 -o /dev/null "http://$REG/v2/"; }
http_up() { curl -s --max-time 2 -o /dev/null "$1"; }
port_taken() { ! port_free "$1"; }

# Removes every image of the engine tagged into the benchmark registry (bounded).
bench_images_remove() {
	[ -n "${BENCH_STATE:-}" ] || return 0
	docker_ready || return 0
	local refs
	refs=$(curl -s --max-time 10 --unix-socket "$DOCKER_SOCK" http://localhost/v1.41/images/json |
		jq -r --arg p "$REG/" '.[].RepoTags[]? | select(startswith($p))' 2>/dev/null | head -n 20000) || true
	[ -n "$refs" ] || return 0
	printf '%s\n' "$refs" | while read -r r; do
		curl -s --max-time 10 --unix-socket "$DOCKER_SOCK" -X DELETE \
			"http://localhost/v1.41/images/$r?noprune=0" >/dev/null || true
	done
}

services_start() {
	docker_ready || die "no Docker engine answers on $DOCKER_SOCK"
	port_free "$BENCH_REGISTRY_PORT" || die "port $BENCH_REGISTRY_PORT is taken (BENCH_REGISTRY_PORT)"
	port_free "$BENCH_GIT_PORT" || die "port $BENCH_GIT_PORT is taken (BENCH_GIT_PORT)"
	port_free "$PORT_GH" || die "port $PORT_GH is taken (BENCH_PORT_BASE)"
	mkdir -p "$BENCH_STATE/registry" "$BENCH_STATE/git" "$BENCH_STATE/gh"
	cat >"$BENCH_STATE/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $BENCH_STATE/registry
  delete:
    enabled: true
http:
  addr: $REG
YML
	start_bg "$BENCH_STATE/registry.log" docker-registry serve "$BENCH_STATE/registry.yml"
	start_bg "$BENCH_STATE/git-daemon.log" /usr/lib/git-core/git-daemon --export-all \
		--base-path="$BENCH_STATE/git" --reuseaddr --listen=127.0.0.1 --port="$BENCH_GIT_PORT" \
		"$BENCH_STATE/git"
	# The GitHub stand-in: nginx serving static files under repos/<owner>/<repo>/contents/
	# (a static server ignores ?ref=, so each run rewrites the manifest before its delivery).
	gh_start
	wait_until 30 registry_ready || die "registry did not start (see $BENCH_STATE/registry.log)"
	wait_until 30 port_taken "$BENCH_GIT_PORT" || die "git daemon did not start"
}

# gh_start: nginx on PORT_GH over $BENCH_STATE/gh, one worker, no access log, keep-alive.
gh_start() {
	local d=$BENCH_STATE/gh-nginx
	mkdir -p "$d" "$BENCH_STATE/gh"
	chmod a+rx "$BENCH_STATE" "$BENCH_STATE/gh"
	cat >"$d/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	default_type application/json;
	server {
		listen 127.0.0.1:$PORT_GH;
		root $BENCH_STATE/gh;
	}
}
CONF
	start_bg "$d/stdout.log" nginx -p "$d" -c "$d/nginx.conf"
	wait_until 30 http_up "http://127.0.0.1:$PORT_GH/" || die "nginx (GitHub stand-in) did not start"
}

# tarpit_start PORT: a git:// address that accepts connections and never answers, so builds
# pointed at it wait (cheaply) instead of working; each connection holds a bounded sleep.
tarpit_start() {
	start_bg "$BENCH_STATE/tarpit-$1.log" busybox nc -ll -p "$1" -e /bin/sleep 300
	wait_until 30 port_taken "$1" || die "the tarpit did not listen on $1"
}

# repo_init NAME: a bare repository NAME.git served by the git daemon, and a work tree to
# commit from, with a FROM-scratch Dockerfile at the root.
repo_init() {
	local name=$1 w=$BENCH_STATE/work/$1
	mkdir -p "$w"
	git_work_init "$w" bench
	printf 'FROM scratch\nCOPY blob.bin /blob.bin\n' >"$w/Dockerfile"
	head -c 1048576 /dev/urandom >"$w/blob.bin"
	printf '[]\n' >"$w/images.json"
	git_work_publish "$w" "$BENCH_STATE/git/$name.git"
}

# repo_commit NAME FRESH MANIFEST: commits MANIFEST as images.json (and, when FRESH=1, a new
# 1 MiB random blob), pushes to the served repository, publishes the manifest on the GitHub
# stand-in, and sets REPLY to the commit sha.
repo_commit() {
	local name=$1 fresh=$2 manifest=$3 w=$BENCH_STATE/work/$1
	[ "$fresh" = 1 ] && head -c 1048576 /dev/urandom >"$w/blob.bin"
	printf '%s\n' "$manifest" >"$w/images.json"
	git_work_push "$w" run
	mkdir -p "$BENCH_STATE/gh/repos/bench/$name/contents"
	cp "$w/images.json" "$BENCH_STATE/gh/repos/bench/$name/contents/images.json"
}

# pr_payload NAME SHA NUMBER [MERGED] [GIT_BASE]: a pull_request event body on stdout.
pr_payload() {
	local name=$1 sha=$2 num=$3 merged=${4:-true} base=${5:-$GIT_URL}
	printf '{"action":"closed","number":%s,"pull_request":{"number":%s,"merged":%s,' "$num" "$num" "$merged"
	printf '"merge_commit_sha":"%s","base":{"ref":"develop"},"head":{"sha":"%s","ref":"feature"}},' "$sha" "$sha"
	printf '"repository":{"full_name":"bench/%s","clone_url":"%s/%s.git"},"sender":{"login":"bench"}}' \
		"$name" "$base" "$name"
}

# sign FILE: "sha256=<hex>" HMAC of FILE's bytes with BENCH_SECRET.
sign() { printf 'sha256=%s' "$(openssl dgst -sha256 -hmac "$BENCH_SECRET" -r <"$1" | cut -d' ' -f1)"; }

# deliver URL FILE EVENT DELIVERY [SIGNATURE]: POSTs a signed delivery (signed here unless
# SIGNATURE is given); REPLY gets "status seconds".
deliver() {
	REPLY=$(curl -s -o "$BENCH_STATE/last-response" -w '%{http_code} %{time_total}' --max-time 20 \
		-H 'Content-Type: application/json' -H "X-GitHub-Event: $3" -H "X-GitHub-Delivery: $4" \
		-H 'X-GitHub-Hook-ID: 1' -H "X-Hub-Signature-256: ${5:-$(sign "$2")}" \
		-H 'User-Agent: GitHub-Hookshot/bench' --data-binary "@$2" "$1")
}

# manifest_present NAME TAG: HEAD of the manifest answers 200.
manifest_present() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -I \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
		"http://$REG/v2/$1/manifests/$2")" = 200 ]
}

# wait_manifest NAME TAG SECONDS: polls without sleeping (each HEAD is a few ms).
wait_manifest() {
	local deadline=$((SECONDS + $3))
	until manifest_present "$1" "$2"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
	done
	return 0
}

# forja_start PORT DATA_DIR [EXTRA FLAGS...]: starts Forja, waits for /healthz; REPLY = PID.
forja_start() {
	local port=$1 data=$2
	shift 2
	mkdir -p "$data"
	start_bg "$data.log" "$FORJA_BIN" --listen "127.0.0.1:$port" --data-dir "$data" \
		--registry "$REG" --webhook-secret "$BENCH_SECRET" \
		--github-api-url "http://127.0.0.1:$PORT_GH" --allowed-hosts 127.0.0.1 \
		--log-level warning "$@"
	local pid=$REPLY
	wait_until 30 curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$port/healthz" ||
		die "Forja did not answer /healthz on $port (see $data.log)"
	REPLY=$pid
}

# webhook_start PORT HOOKS_JSON: adnanh/webhook on PORT; REPLY = PID.
webhook_start() {
	start_bg "$BENCH_STATE/webhook-$1.log" webhook -hooks "$2" -ip 127.0.0.1 -port "$1"
	local pid=$REPLY
	wait_until 30 http_up "http://127.0.0.1:$1/" || die "webhook did not start on $1"
	REPLY=$pid
}

# table_row CELLS...: one markdown row.
table_row() {
	local c out='|'
	for c in "$@"; do out+=" $c |"; done
	printf '%s\n' "$out"
}

# ---- one end-to-end run per system ----------------------------------------------------------
# Each takes RUN (a number naming the tag) and REPO (served repository), commits a fresh 1 MiB
# blob, starts the clock, does the job, stops the clock when HEAD of the pushed tag answers 200.
# They append milliseconds to $BENCH_STATE/<system>.e2e (and .ack where there is an
# acknowledgement); a failed or timed-out run appends to <system>.fail instead.

e2e_manifest() { printf '[{"service_name":"%s","version":"%s","type":"Docker","context":""}]' "$1" "$2"; }

# e2e_record SYSTEM T0_US SERVICE TAG: waits for the tag and records the time since T0.
e2e_record() {
	if wait_manifest "$3" "$4" "$BENCH_TIMEOUT"; then
		now_us
		echo $(((REPLY - $2) / 1000)) >>"$BENCH_STATE/$1.e2e"
	else
		echo "$4" >>"$BENCH_STATE/$1.fail"
		log "$1: $3:$4 did not reach the registry within ${BENCH_TIMEOUT}s"
	fi
}

# e2e_webhook_system SYSTEM URL RUN REPO [COLD_DIR]: a signed merged-PR delivery to URL. With
# COLD_DIR (Forja's git cache directory), the cache is removed first: a cold fetch.
e2e_webhook_system() {
	local sys=$1 url=$2 run=$3 repo=$4 svc=bench-$1 tag=r$3 sha sig t0 code secs
	repo_commit "$repo" 1 "$(e2e_manifest "$svc" "$tag")"
	sha=$REPLY
	[ -n "${5:-}" ] && rm -rf "$5"
	pr_payload "$repo" "$sha" "$((run + 1))" >"$BENCH_STATE/$sys.payload"
	# GitHub signs before it sends: the openssl run (about 8 ms) is not the system's time
	sig=$(sign "$BENCH_STATE/$sys.payload")
	now_us
	t0=$REPLY
	deliver "$url" "$BENCH_STATE/$sys.payload" pull_request "$sys-$run-$RANDOM$RANDOM" "$sig"
	read -r code secs <<<"$REPLY"
	if [ "${code:0:1}" != 2 ]; then
		echo "$tag" >>"$BENCH_STATE/$sys.fail"
		log "$sys: delivery answered $code: $(head -c 300 "$BENCH_STATE/last-response")"
		return 0
	fi
	awk -v s="$secs" 'BEGIN { printf "%.2f\n", s * 1000 }' >>"$BENCH_STATE/$sys.ack"
	e2e_record "$sys" "$t0" "$svc" "$tag"
}

# e2e_api RUN REPO: the floor over the raw Engine API for a commit already checked out: the
# work tree (without .git) as a tar body to POST /build, then push.
e2e_api() {
	local run=$1 repo=$2 svc=bench-api tag=r$1 t0 w=$BENCH_STATE/work/$2
	repo_commit "$repo" 1 '[]'
	now_us
	t0=$REPLY
	tar -C "$w" --exclude=.git -cf - . | curl -s --max-time "$BENCH_TIMEOUT" \
		--unix-socket "$DOCKER_SOCK" -X POST -H 'Content-Type: application/x-tar' \
		--data-binary @- "http://localhost/v1.41/build?t=$REG/$svc:$tag&rm=1&forcerm=1" \
		>"$BENCH_STATE/api-build.out" &&
		curl -s --max-time "$BENCH_TIMEOUT" --unix-socket "$DOCKER_SOCK" -X POST \
			-H 'X-Registry-Auth: e30=' "http://localhost/v1.41/images/$REG/$svc/push?tag=$tag" \
			>"$BENCH_STATE/api-push.out" || true
	e2e_record api "$t0" "$svc" "$tag"
}

# e2e_cli RUN REPO: what a user types with the commit already checked out: docker build of the
# work tree, docker push.
e2e_cli() {
	local run=$1 repo=$2 svc=bench-cli tag=r$1 t0 w=$BENCH_STATE/work/$2
	repo_commit "$repo" 1 '[]'
	now_us
	t0=$REPLY
	timeout "$BENCH_TIMEOUT" docker build -q -t "$REG/$svc:$tag" "$w" >"$BENCH_STATE/cli.out" 2>&1 &&
		timeout "$BENCH_TIMEOUT" docker push -q "$REG/$svc:$tag" >>"$BENCH_STATE/cli.out" 2>&1 || true
	e2e_record cli "$t0" "$svc" "$tag"
}

# e2e_row NAME SYSTEM BASE_MEDIAN: a table row of SYSTEM's end-to-end times.
e2e_row() {
	local f=$BENCH_STATE/$2.e2e n med p99 min max fails
	[ -s "$f" ] || : >"$f"
	read -r n med p99 min max _ <<<"$(stats "$f")"
	fails=0
	[ -f "$BENCH_STATE/$2.fail" ] && fails=$(wc -l <"$BENCH_STATE/$2.fail")
	table_row "$1" "$n" "$med" "$p99" "$min" "$max" "$fails" "$(ratio "$med" "$3")"
}
