#!/usr/bin/env bash
# The run command: installs what is missing, builds Forja, brings up the Docker engine and a
# local registry on 127.0.0.1:5000 when they are not already there, and runs Forja in the
# foreground with its embedded defaults. Ctrl-C stops Forja and what this script started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
STATE=$ROOT/.forja
DOCKER_SOCK=/var/run/docker.sock
REGISTRY=${FORJA_REGISTRY:-127.0.0.1:5000}
mkdir -p "$STATE"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
pids=()

cleanup() {
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
}
trap cleanup EXIT
# a kill of this script (not only Ctrl-C on the terminal) stops Forja and what was started
trap 'exit 130' INT
trap 'exit 143' TERM

docker_ready() { [ "$(curl -s --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping)" = OK ]; }
registry_ready() { curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/" | grep -qE '200|401'; }

"$ROOT/scripts/deps.sh" run
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFORJA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null
echo "built $BUILD/forja"

if ! docker_ready; then
  echo "starting dockerd (log: $STATE/dockerd.log)"
  nohup dockerd -H "unix://$DOCKER_SOCK" >"$STATE/dockerd.log" 2>&1 &
  pids+=($!)
  wait_until 60 docker_ready || { echo "dockerd did not start; see $STATE/dockerd.log"; exit 1; }
fi
if ! registry_ready; then
  echo "starting a local registry on $REGISTRY (data: $STATE/registry)"
  mkdir -p "$STATE/registry"
  cat > "$STATE/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
YML
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  pids+=($!)
  wait_until 30 registry_ready || { echo "registry did not start; see $STATE/registry.log"; exit 1; }
fi

export FORJA_REGISTRY=$REGISTRY
export FORJA_DATA_DIR=${FORJA_DATA_DIR:-$STATE/data}
if [ -z "${FORJA_WEBHOOK_SECRET:-}" ] && [ -f "$STATE/webhook-secret" ]; then
  FORJA_WEBHOOK_SECRET=$(cat "$STATE/webhook-secret")
fi
if [ -z "${FORJA_WEBHOOK_SECRET:-}" ]; then
  # a random secret, kept so that the GitHub side stays valid across restarts
  FORJA_WEBHOOK_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$FORJA_WEBHOOK_SECRET" > "$STATE/webhook-secret"
  chmod 600 "$STATE/webhook-secret"
  echo "generated a webhook secret in $STATE/webhook-secret (set FORJA_WEBHOOK_SECRET to choose one)"
fi
export FORJA_WEBHOOK_SECRET
"$BUILD/forja" "$@" &
pids=($! "${pids[@]}")
wait "${pids[0]}"
