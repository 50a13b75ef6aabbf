#!/usr/bin/env bash
# Starts what Forja's tests need and did not find running, all on 127.0.0.1: dockerd (only if
# no engine answers), a docker-registry, a git daemon, an authenticated smart-HTTP git server
# (lighttpd + git http-backend, password and GitHub-style token) and an sshd taking a deploy key,
# each on a free port. `stop` stops exactly the processes `start` started, by PID. `start` writes
# STATE/env, to be sourced by the test runner.
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
# the whole chain (lighttpd, basic auth, CGI, http-backend) answers, not just the port
http_git_ready() {
  curl -fs --max-time 2 -o /dev/null --netrc-file "$1" \
    "http://127.0.0.1:$2/git/ready.git/info/refs?service=git-upload-pack"
}
listening() { ! port_free "$1"; }
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

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

# lighttpd + git http-backend: repositories under http-git/repos, served at /git/ to clients that
# present user `forja` with a password, or `x-access-token` with a token (how GitHub takes one).
start_http_git() {
  local t0 port dir pw token
  t0=$(ms_now); port=$(free_port); dir=$STATE/http-git
  pw=$(random_hex 16); token=$(random_hex 20)
  mkdir -p "$dir/www" "$dir/repos" "$dir/tmp"
  git init -q --bare "$dir/repos/ready.git"
  ( umask 077
    printf 'forja:%s\nx-access-token:%s\n' "$pw" "$token" > "$dir/users.plain"
    printf 'machine 127.0.0.1 login forja password %s\n' "$pw" > "$dir/netrc" )
  cat > "$dir/lighttpd.conf" <<CONF
server.modules = ("mod_auth", "mod_authn_file", "mod_alias", "mod_setenv", "mod_cgi")
server.bind = "127.0.0.1"
server.port = $port
server.document-root = "$dir/www"
server.errorlog = "$dir/error.log"
server.upload-dirs = ("$dir/tmp")
server.stream-request-body = 1
server.stream-response-body = 1
auth.backend = "plain"
auth.backend.plain.userfile = "$dir/users.plain"
alias.url = ("/git" => "/usr/lib/git-core/git-http-backend")
\$HTTP["url"] =~ "^/git/" {
  cgi.assign = ("" => "")
  setenv.add-environment = ("GIT_PROJECT_ROOT" => "$dir/repos", "GIT_HTTP_EXPORT_ALL" => "1")
  auth.require = ("" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
}
CONF
  nohup lighttpd -D -f "$dir/lighttpd.conf" >"$STATE/lighttpd.log" 2>&1 &
  echo $! > "$STATE/lighttpd.pid"
  wait_until 30 http_git_ready "$dir/netrc" "$port" ||
    { echo "http git server not ready"; tail -20 "$STATE/lighttpd.log" "$dir/error.log"; return 1; }
  echo "http git server: pid $(cat "$STATE/lighttpd.pid") on 127.0.0.1:$port, ready in $(( $(ms_now) - t0 )) ms"
  {
    echo "export FORJA_TEST_HTTP_GIT_URL=http://127.0.0.1:$port/git"
    echo "export FORJA_TEST_HTTP_GIT_ROOT=$dir/repos"
    echo "export FORJA_TEST_HTTP_GIT_USER=forja"
    echo "export FORJA_TEST_HTTP_GIT_PASSWORD=$pw"
    echo "export FORJA_TEST_HTTP_GIT_TOKEN=$token"
  } >> "$STATE/env"
}

# sshd for git over ssh with a deploy key: repositories under ssh-git/repos, reached by absolute
# path as root. known_hosts holds its host key; wrong_known_hosts another key for the same
# address, so a test can see host key checking refuse it.
start_ssh_git() {
  if [ "$(id -u)" != 0 ]; then
    echo "ssh git server: skipped (needs root for sshd's privilege separation)"
    return 0
  fi
  local t0 port dir
  t0=$(ms_now); port=$(free_port); dir=$STATE/ssh-git
  mkdir -p "$dir/repos"
  [ -d /run/sshd ] || mkdir -m 0755 /run/sshd  # else "Missing privilege separation directory"
  rm -f "$dir/host_ed25519" "$dir/wrong_host_ed25519" "$dir/deploy"
  ssh-keygen -q -t ed25519 -N '' -C forja-test-host -f "$dir/host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C forja-test-wrong-host -f "$dir/wrong_host_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C forja-test-deploy -f "$dir/deploy"
  echo "restrict $(cat "$dir/deploy.pub")" > "$dir/authorized_keys"
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" > "$dir/known_hosts"
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/wrong_host_ed25519.pub")" > "$dir/wrong_known_hosts"
  # StrictModes no: STATE usually lives under the world-writable /tmp.
  # AcceptEnv GIT_PROTOCOL: without it git falls back to protocol v0 and cannot fetch a non-tip sha.
  cat > "$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AcceptEnv GIT_PROTOCOL
MaxStartups 100
CONF
  nohup /usr/sbin/sshd -D -e -f "$dir/sshd_config" >"$STATE/sshd.log" 2>&1 &
  echo $! > "$STATE/sshd.pid"
  wait_until 30 listening "$port" || { echo "sshd not ready"; tail -20 "$STATE/sshd.log"; return 1; }
  echo "ssh git server: pid $(cat "$STATE/sshd.pid") on 127.0.0.1:$port, ready in $(( $(ms_now) - t0 )) ms"
  {
    echo "export FORJA_TEST_SSH_GIT_URL=ssh://root@127.0.0.1:$port"
    echo "export FORJA_TEST_SSH_GIT_ROOT=$dir/repos"
    echo "export FORJA_TEST_SSH_GIT_KEY=$dir/deploy"
    echo "export FORJA_TEST_SSH_GIT_KNOWN_HOSTS=$dir/known_hosts"
    echo "export FORJA_TEST_SSH_GIT_WRONG_KNOWN_HOSTS=$dir/wrong_known_hosts"
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
    start_http_git
    start_ssh_git
    build_base_image
    ;;
  stop)
    stop_pid sshd "$STATE/sshd.pid"
    stop_pid lighttpd "$STATE/lighttpd.pid"
    stop_pid "git daemon" "$STATE/git-daemon.pid"
    stop_pid registry "$STATE/registry.pid"
    stop_pid dockerd "$STATE/dockerd.pid"
    ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
