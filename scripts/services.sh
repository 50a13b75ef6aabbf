#!/usr/bin/env bash
# Starts what Forja's tests need and did not find running, all on 127.0.0.1: dockerd (only if
# no engine answers), a docker-registry and a git daemon on free ports. `stop` stops exactly the
# processes `start` started, by PID. `start` writes STATE/env, to be sourced by the test runner.
# usage: scripts/services.sh start|stop STATE_DIR
set -euo pipefail

cmd=${1:?usage: $0 start|stop STATE_DIR}
STATE=${2:?usage: $0 start|stop STATE_DIR}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
mkdir -p "$STATE"
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

ms_now() { date +%s%3N; }

docker_ready() { [ "$(curl -s --max-time 2 --unix-socket "$DOCKER_SOCK" http://localhost/_ping)" = OK ]; }
http_ready() { curl -fs --max-time 2 -o /dev/null "$1"; }
git_ready() { git ls-remote "git://127.0.0.1:$1/ready.git" >/dev/null 2>&1; }

# stop_pid NAME PIDFILE: SIGTERM, wait, SIGKILL after 30 s
stop_pid() {
  [ -f "$2" ] || return 0
  local pid; pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until 30 sh -c "! kill -0 $pid"; then
      echo "$1: still alive after 30 s, SIGKILL"; kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "$1: pid $pid stopped"
  fi
  rm -f "$2"
}

start_dockerd() {
  if docker_ready; then
    echo "dockerd: already answering on $DOCKER_SOCK"
    return 0
  fi
  local t0; t0=$(ms_now)
  # dockerd needs git on its PATH for remote git build contexts
  nohup dockerd --pidfile "$STATE/dockerd.pidfile" -H "unix://$DOCKER_SOCK" \
    >"$STATE/dockerd.log" 2>&1 &
  echo $! > "$STATE/dockerd.pid"
  wait_until 60 docker_ready || { echo "dockerd did not become ready"; tail -20 "$STATE/dockerd.log"; return 1; }
  echo "dockerd: pid $(cat "$STATE/dockerd.pid") ready in $(( $(ms_now) - t0 )) ms"
}

start_registry() {
  local port; port=$(free_port)
  mkdir -p "$STATE/registry-data"
  cat > "$STATE/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YML
  nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 &
  echo $! > "$STATE/registry.pid"
  wait_until 30 http_ready "http://127.0.0.1:$port/v2/" || { echo "registry not ready"; tail -20 "$STATE/registry.log"; return 1; }
  echo "registry: pid $(cat "$STATE/registry.pid") on 127.0.0.1:$port"
  echo "export FORJA_TEST_REGISTRY=127.0.0.1:$port" >> "$STATE/env"
}

start_git_daemon() {
  local port; port=$(free_port)
  mkdir -p "$STATE/git"
  git init -q --bare "$STATE/git/ready.git"
  # the daemon itself, not the wrapper, so that one PID stops it
  nohup /usr/lib/git-core/git-daemon --export-all --base-path="$STATE/git" --reuseaddr \
    --listen=127.0.0.1 --port="$port" "$STATE/git" >"$STATE/git-daemon.log" 2>&1 &
  echo $! > "$STATE/git-daemon.pid"
  wait_until 30 git_ready "$port" || { echo "git daemon not ready"; tail -20 "$STATE/git-daemon.log"; return 1; }
  echo "git daemon: pid $(cat "$STATE/git-daemon.pid") on 127.0.0.1:$port"
  {
    echo "export FORJA_TEST_GIT_DIR=$STATE/git"
    echo "export FORJA_TEST_GIT_URL=git://127.0.0.1:$port/"
  } >> "$STATE/env"
}

# A local image with a shell for Dockerfiles that RUN something (Docker Hub is not reachable).
build_base_image() {
  if docker image inspect forja-test-base:1 >/dev/null 2>&1; then
    echo "export FORJA_TEST_BASE_IMAGE=forja-test-base:1" >> "$STATE/env"
    return 0
  fi
  local ctx="$STATE/base-image"
  mkdir -p "$ctx"
  cp /bin/busybox "$ctx/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\nCMD ["/bin/sh"]\n' > "$ctx/Dockerfile"
  docker build -q -t forja-test-base:1 "$ctx" >/dev/null
  echo "base image: forja-test-base:1 built"
  echo "export FORJA_TEST_BASE_IMAGE=forja-test-base:1" >> "$STATE/env"
}

case "$cmd" in
  start)
    : > "$STATE/env"
    start_dockerd
    echo "export DOCKER_HOST=unix://$DOCKER_SOCK" >> "$STATE/env"
    start_registry
    start_git_daemon
    build_base_image
    ;;
  stop)
    stop_pid "git daemon" "$STATE/git-daemon.pid"
    stop_pid registry "$STATE/registry.pid"
    stop_pid dockerd "$STATE/dockerd.pid"
    ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
