#!/usr/bin/env bash
# End-to-end deployment test: builds Forja's image, brings up docker-compose.yml (TLS registry
# with htpasswd + Forja), sends a signed merged-pull-request webhook, waits for the build, then
# pulls the image over TLS from a separate network namespace and checks its digest is the one
# Forja recorded. Everything it starts is removed on exit, failure included. Quiet on success.
#
#   FORJA_SOURCE_DIR=<repo> bash tests/deploy/compose_test.sh
#
# Needs root (network namespace) and a running Docker engine. Installs missing Debian packages.
# Cached between runs (for speed): the images debian:bookworm-slim (made from Debian packages
# when absent), forja:e2e-test, forja-certs:e2e-test and forja-registry:e2e-test.
# FORJA_E2E_CLEAN_IMAGES=1 removes the last three too; FORJA_E2E_VERBOSE=1 prints progress;
# FORJA_REGISTRY_IMAGE picks the registry image (default: registry:2 when present, else one
# built from Debian's docker-registry package).
set -euo pipefail

src=${FORJA_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
here=$src/tests/deploy
verbose=${FORJA_E2E_VERBOSE:-0}
started=$SECONDS

work=$(mktemp -d /tmp/forja-e2e.XXXXXX)
log=$work/test.log
project=forjae2e$$
netns=forja-e2e-$$
veth_host=fjh$$
veth_ns=fjn$$
link_host=10.213.0.1
link_ns=10.213.0.2
git_pid=
compose=()
ns_made=0
up=0

say() {
	echo "[$((SECONDS - started))s] $*" >>"$log"
	if [ "$verbose" = 1 ]; then echo "compose_test: $*"; fi
}

fail() {
	echo "compose_test: FAIL: $*" >&2
	echo "--- test log (last 60 lines)" >&2
	tail -n 60 "$log" >&2 || true
	if [ "$up" = 1 ]; then
		echo "--- compose ps / logs" >&2
		"${compose[@]}" ps >&2 2>&1 || true
		"${compose[@]}" logs --no-color --tail=15 >&2 2>&1 || true
	fi
	exit 1
}

cleanup() {
	local rc=$?
	set +e
	if [ "$up" = 1 ]; then
		"${compose[@]}" down -v --remove-orphans --timeout 5 >>"$log" 2>&1
	fi
	if [ -n "$git_pid" ]; then
		kill "$git_pid" 2>/dev/null
		wait "$git_pid" 2>/dev/null
	fi
	if [ "$ns_made" = 1 ]; then
		ip netns del "$netns" 2>/dev/null
		ip link del "$veth_host" 2>/dev/null
	fi
	# Images the host engine built and tagged for the push.
	if [ -n "${reg_port:-}" ]; then
		docker images --format '{{.Repository}}:{{.Tag}}' |
			grep "^127\.0\.0\.1:$reg_port/" | xargs -r docker rmi -f >>"$log" 2>&1
	fi
	if [ "${FORJA_E2E_CLEAN_IMAGES:-0}" = 1 ]; then
		docker rmi -f forja:e2e-test forja-certs:e2e-test forja-registry:e2e-test >>"$log" 2>&1
	fi
	if [ "$rc" != 0 ] && [ "${FORJA_E2E_KEEP:-0}" = 1 ]; then
		echo "compose_test: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools -------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
command -v docker >/dev/null || fail "docker CLI missing"
docker info >/dev/null 2>&1 || fail "no Docker engine answers"

missing=()
for pair in skopeo:skopeo jq:jq curl:curl openssl:openssl git:git ip:iproute2 ss:iproute2 \
	mmdebstrap:mmdebstrap; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
command -v busybox >/dev/null || missing+=(busybox-static)
if docker compose version >/dev/null 2>&1; then
	compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
	compose_cmd=(docker-compose)
else
	missing+=(docker-compose)
	compose_cmd=(docker-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${missing[@]}" >>"$log" 2>&1 ||
		{ apt-get update -qq >>"$log" 2>&1 && apt-get install -y -qq "${missing[@]}" >>"$log" 2>&1; } ||
		fail "apt-get install ${missing[*]} failed"
fi
busybox_bin=$(readlink -f "$(command -v busybox)")

# ---- ports and addresses -----------------------------------------------------------------
# The first free TCP port from $1 on (callers use ranges that do not overlap).
free_port() {
	local p=$1
	while [ "$p" -lt $(($1 + 200)) ]; do
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	return 1
}
reg_port=$(free_port 15000) || fail "no free port for the registry"
forja_port=$(free_port 18080) || fail "no free port for forja"
git_port=$(free_port 19418) || fail "no free port for git daemon"
# What an earlier run that was killed outright (no trap) left behind: its pid is in the names.
for stale in $(ip netns list | sed -n 's/^forja-e2e-\([0-9][0-9]*\).*/\1/p'); do
	kill -0 "$stale" 2>/dev/null && continue
	ip netns del "forja-e2e-$stale" 2>/dev/null || true
	ip link del "fjh$stale" 2>/dev/null || true
done
for stale in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' |
	sed -n 's/^forjae2e\([0-9][0-9]*\)$/\1/p' | sort -u); do
	kill -0 "$stale" 2>/dev/null && continue
	filter=label=com.docker.compose.project=forjae2e$stale
	docker ps -aq --filter "$filter" | xargs -r docker rm -f >>"$log" 2>&1 || true
	docker network ls -q --filter "$filter" | xargs -r docker network rm >>"$log" 2>&1 || true
	docker volume ls -q --filter "$filter" | xargs -r docker volume rm >>"$log" 2>&1 || true
done
if ip -4 -o addr show | grep -q " $link_host/"; then
	fail "$link_host is already in use on this host (another run of this test?)"
fi

# ---- images ------------------------------------------------------------------------------
say "base image"
bash "$here/base_image.sh" debian:bookworm-slim >>"$log" 2>&1 || fail "cannot make debian:bookworm-slim"

if [ -z "${FORJA_REGISTRY_IMAGE:-}" ]; then
	if docker image inspect registry:2 >/dev/null 2>&1; then
		FORJA_REGISTRY_IMAGE=registry:2
	else
		say "registry image from Debian's docker-registry"
		docker build -q -t forja-registry:e2e-test "$here/registry" >>"$log" 2>&1 ||
			fail "cannot build the registry image"
		FORJA_REGISTRY_IMAGE=forja-registry:e2e-test
	fi
fi

export FORJA_REGISTRY_IMAGE
export FORJA_IMAGE=forja:e2e-test FORJA_CERTS_IMAGE=forja-certs:e2e-test
export FORJA_DEPLOY_DIR=$work/deploy
export FORJA_REGISTRY_HOST=127.0.0.1 FORJA_REGISTRY_PORT=$reg_port FORJA_REGISTRY_BIND=127.0.0.1
export FORJA_REGISTRY_SANS=$link_host
export FORJA_BIND=127.0.0.1 FORJA_PORT=$forja_port
export FORJA_GITHUB_API_URL=http://github:8080 FORJA_ALLOWED_HOSTS=$link_host
export FORJA_LOG_LEVEL=debug FORJA_BRANCH=develop FORJA_WORKERS=1
if [[ ${DOCKER_HOST:-} == unix://* ]]; then
	export FORJA_DOCKER_SOCKET=${DOCKER_HOST#unix://}
fi
export FORJA_E2E_LINK_ADDR=$link_host FORJA_E2E_BUSYBOX=$busybox_bin
export FORJA_E2E_GITHUB_DIR=$work/github
# Whatever the caller's environment says, the secrets come from the stack's own first start.
unset FORJA_REGISTRY_USERNAME FORJA_REGISTRY_PASSWORD FORJA_WEBHOOK_SECRET FORJA_API_TOKEN FORJA_READ_TOKEN \
	FORJA_GITHUB_TOKEN FORJA_PUBLIC_URL FORJA_MANIFEST FORJA_BUILD_TIMEOUT
# An empty env file: a .env in the work tree must not change what is tested.
: >"$work/empty.env"
compose=("${compose_cmd[@]}" -p "$project" --project-directory "$src" --env-file "$work/empty.env"
	-f "$src/docker-compose.yml" -f "$here/compose.test.yml")

say "step 1: build forja's image (docker/Dockerfile)"
previous=$(docker image inspect -f '{{.Id}}' "$FORJA_IMAGE" 2>/dev/null || true)
"${compose[@]}" build forja certs >>"$log" 2>&1 || fail "building forja's image failed"
# Keep one build cache: drop the image this build replaced and older build-stage images.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$FORJA_IMAGE")" ]; then
	docker rmi "$previous" >>"$log" 2>&1 || true
fi
docker images -q --filter dangling=true --filter label=org.forja.stage=build | sed 1d |
	xargs -r docker rmi >>"$log" 2>&1 || true
docker run --rm --entrypoint forja "$FORJA_IMAGE" --help >/dev/null 2>&1 ||
	fail "the built image does not run forja"

# ---- a repository: git daemon for Forja, static contents API for Forja ------------------
say "git repository and GitHub stand-in"
mkdir -p "$work/repo" "$work/git/acme" "$work/github/repos/acme/shop/contents"
(
	cd "$work/repo"
	git init -q -b develop
	printf 'hello from forja e2e %s\n' "$project" >hello.txt
	printf 'FROM scratch\nCOPY hello.txt /hello.txt\n' >Dockerfile
	printf '[{"service_name":"shop-api","version":"1.2.0","type":"Docker"}]\n' >images.json
	git add -A
	git -c user.name=e2e -c user.email=e2e@example.invalid commit -qm "shop 1.2.0"
	git clone -q --bare . "$work/git/acme/shop.git"
) >>"$log" 2>&1 || fail "cannot make the test repository"
sha=$(git -C "$work/repo" rev-parse HEAD)
cp "$work/repo/images.json" "$work/github/repos/acme/shop/contents/images.json"

# ---- the second host: a network namespace on a private /30 link --------------------------
say "network namespace $netns ($link_ns) <-> host ($link_host)"
ip netns add "$netns" || fail "ip netns add failed"
ns_made=1
ip link add "$veth_host" type veth peer name "$veth_ns" netns "$netns" || fail "veth failed"
ip addr add "$link_host/30" dev "$veth_host"
ip link set "$veth_host" up
ip -n "$netns" addr add "$link_ns/30" dev "$veth_ns"
ip -n "$netns" link set "$veth_ns" up
ip -n "$netns" link set lo up
# Forja fetches the commit itself, from inside its container: the git daemon listens on the
# test's private link address, which the container reaches through the host.
git daemon --reuseaddr --export-all --base-path="$work/git" --listen="$link_host" \
	--port="$git_port" "$work/git" >>"$log" 2>&1 &
git_pid=$!

# ---- step 2: the stack -------------------------------------------------------------------
say "step 2: compose up"
up=1
"${compose[@]}" up -d >>"$log" 2>&1 || fail "compose up failed"
forja_cid=$("${compose[@]}" ps -q forja)
[ -n "$forja_cid" ] || fail "no forja container"
deadline=$((SECONDS + 150))
while :; do
	health=$(docker inspect -f '{{.State.Health.Status}}' "$forja_cid" 2>/dev/null || echo gone)
	[ "$health" = healthy ] && break
	[ "$health" = gone ] && fail "the forja container disappeared"
	[ "$SECONDS" -lt "$deadline" ] || fail "forja did not become healthy (last: $health)"
	sleep 1
done
base=http://127.0.0.1:$forja_port
body=$(curl -sS -w '\n%{http_code}' "$base/healthz") || fail "GET /healthz failed"
[ "${body##*$'\n'}" = 200 ] || fail "GET /healthz answered ${body##*$'\n'}: ${body%$'\n'*}"
[ "$(jq -r .status <<<"${body%$'\n'*}")" = ok ] || fail "healthz status is not ok: $body"
say "healthy: ${body%$'\n'*}"

deploy=$FORJA_DEPLOY_DIR
user=forja
password=$(cat "$deploy/forja/registry-password")
secret=$(cat "$deploy/forja/webhook-secret")
read_token=$(cat "$deploy/forja/read-token")
[ -n "$password" ] && [ -n "$secret" ] && [ -n "$read_token" ] ||
	fail "the certs service did not write the secrets"
# The deployment guards the history with the generated read token.
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/builds")
[ "$code" = 401 ] || fail "GET /builds without the read token answered $code, want 401"
read_auth=(-H "Authorization: Bearer $read_token")
san=$(openssl x509 -in "$deploy/certs/registry.crt" -noout -ext subjectAltName)
for want in "DNS:registry" "IP Address:127.0.0.1" "IP Address:$link_host"; do
	[[ $san == *"$want"* ]] || fail "registry certificate lacks $want: $san"
done
# The registry speaks TLS only, with the CA, and wants the password.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$deploy/certs/ca.crt" \
	"https://127.0.0.1:$reg_port/v2/")
[ "$code" = 401 ] || fail "registry without credentials answered $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$deploy/certs/ca.crt" \
	-u "$user:$password" "https://127.0.0.1:$reg_port/v2/")
[ "$code" = 200 ] || fail "registry with credentials answered $code, want 200"
if curl -s -o /dev/null "https://127.0.0.1:$reg_port/v2/"; then
	fail "the registry certificate was trusted without the CA"
fi

# ---- step 3: a signed merged-pull-request webhook ------------------------------------------
say "step 3: webhook for $sha"
payload=$(jq -cn --arg sha "$sha" --arg clone "git://$link_host:$git_port/acme/shop.git" '{
	action: "closed", number: 7,
	pull_request: {number: 7, merged: true, merge_commit_sha: $sha, merged_at: "2026-01-01T00:00:00Z",
		merged_by: {login: "octocat"}, head: {ref: "feature", sha: $sha}, base: {ref: "develop"}},
	repository: {full_name: "acme/shop", clone_url: $clone,
		url: "http://github:8080/repos/acme/shop"},
	sender: {login: "octocat"}}')
sig=$(printf '%s' "$payload" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
answer=$(curl -sS -w '\n%{http_code}' -X POST "$base/ciserver/updates" \
	-H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
	-H "X-GitHub-Delivery: e2e-$project" -H 'X-GitHub-Hook-ID: 1' \
	-H "X-Hub-Signature-256: sha256=$sig" --data-binary "$payload") || fail "webhook POST failed"
code=${answer##*$'\n'}
answer=${answer%$'\n'*}
[ "$code" = 202 ] || fail "webhook answered $code, want 202: $answer"
id=$(jq -r '.builds[0].id // empty' <<<"$answer")
[ -n "$id" ] || fail "webhook answer names no build: $answer"
say "build $id queued"

deadline=$((SECONDS + 240))
while :; do
	build=$(curl -sS "${read_auth[@]}" "$base/builds/$id") || fail "GET /builds/$id failed"
	status=$(jq -r .status <<<"$build")
	case $status in
	succeeded) break ;;
	failed | cancelled)
		curl -sS "${read_auth[@]}" "$base/builds/$id/log" >>"$log" 2>&1
		fail "build $id $status: $(jq -r .error <<<"$build")"
		;;
	esac
	[ "$SECONDS" -lt "$deadline" ] || fail "build $id still $status after 240 s"
	sleep 1
done
digest=$(jq -r .digest <<<"$build")
image=$(jq -r .image <<<"$build")
[[ $digest == sha256:* ]] || fail "build $id has no digest: $build"
[ "$image" = "127.0.0.1:$reg_port/shop-api:1.2.0" ] || fail "build $id image is $image"
say "built $image@$digest"

# ---- step 4: pull it from the other namespace, over TLS, with the CA and credentials -----
say "step 4: pull from $link_ns"
# What a pulling machine gets: only the CA certificate (docker: certs.d/<host:port>/ca.crt).
mkdir -p "$work/trust"
cp "$deploy/certs/ca.crt" "$work/trust/ca.crt"
ref=docker://$link_host:$reg_port/shop-api:1.2.0
if out=$(ip netns exec "$netns" skopeo inspect --creds "$user:$password" "$ref" 2>&1); then
	fail "pull without the CA succeeded: TLS is not verified"
fi
[[ $out == *"unknown authority"* ]] || fail "pull without the CA failed otherwise: $out"
if out=$(ip netns exec "$netns" skopeo inspect --cert-dir "$work/trust" --creds "$user:wrong" \
	"$ref" 2>&1); then
	fail "pull with a wrong password succeeded"
fi
[[ $out == *unauthorized* || $out == *"authentication required"* ]] ||
	fail "pull with a wrong password failed otherwise: $out"
ip netns exec "$netns" skopeo copy -q --src-cert-dir "$work/trust" \
	--src-creds "$user:$password" "$ref" "dir:$work/pulled" >>"$log" 2>&1 ||
	fail "skopeo copy from $link_ns failed"
pulled=$(skopeo manifest-digest "$work/pulled/manifest.json")
[ "$pulled" = "$digest" ] || fail "pulled digest $pulled != recorded $digest"
layer=$(jq -r '.layers[0].digest' "$work/pulled/manifest.json")
tar -xOf "$work/pulled/${layer#sha256:}" hello.txt 2>/dev/null | grep -q "$project" ||
	fail "the pulled image does not hold the committed file"

if [ "$verbose" = 1 ]; then
	docker image inspect -f 'forja image: {{.Size}} bytes' "$FORJA_IMAGE"
	docker stats --no-stream --format 'forja container: {{.MemUsage}} cpu {{.CPUPerc}}' "$forja_cid"
fi

# ---- step 5: teardown (trap) -------------------------------------------------------------
say "step 5: teardown"
echo "compose_test: 1 passed, 0 failed ($((SECONDS - started)) s)"
