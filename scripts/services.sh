#!/usr/bin/env bash
# Starts what Forja's tests need and did not find running, all on 127.0.0.1: dockerd (only if
# no engine answers), a docker-registry, a git daemon, an authenticated smart-HTTP git server
# (lighttpd + git http-backend, password and GitHub-style token) and an sshd taking a deploy key,
# each on a free port, plus two extra engines for the engine pool (one on a unix socket, one on
# TCP with TLS; FORJA_TEST_EXTRA_ENGINES=0 leaves them out). `stop` stops exactly the processes
# `start` started, by PID. `start` writes STATE/env, to be sourced by the test runner.
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

# A Debian base with apt for package-mirror builds: debian:bookworm-slim, made from Debian's
# packages by the deployment test's script when it is not there (then cached).
build_debian_image() {
  local t0; t0=$(ms_now)
  if "$(dirname "$0")/../tests/deploy/base_image.sh" debian:bookworm-slim >"$STATE/debian-image.log" 2>&1; then
    echo "export FORJA_TEST_DEBIAN_IMAGE=debian:bookworm-slim" >> "$STATE/env"
    echo "debian image: debian:bookworm-slim ready in $(( $(ms_now) - t0 )) ms"
  else
    echo "debian image: cannot make debian:bookworm-slim (see $STATE/debian-image.log); mirror tests will say so"
  fi
}

# --- extra engines for the engine pool -----------------------------------------------------
# Engine 2 listens on a unix socket, engine 3 on tcp://127.0.0.1:PORT with --tlsverify. Each has
# its own data-root and exec-root (so its own containerd) and leaves the host's networking as it
# is: --iptables=false --ip-masq=false --ip-forward=false, and a bridge of its own made here
# (--bridge=NAME). Not --bridge=none: dockerd 20.10 then deletes any link named docker0 at
# start-up ("--bridge=none use case" in daemon_unix.go), which takes the bridge away from the
# machine's engine, after which every RUN step there fails. `stop` checks that docker0 survived.

# engine_bridge N: makes engine N's bridge fjbN-<random> on a free 10.x.y.0/24 (no route of the
# host in it) and records its name in STATE/engineN.bridge; BRIDGE = its name
engine_bridge() {
  local net=""
  for _ in $(seq 1 50); do
    net=10.$(( 200 + RANDOM % 50 )).$(( RANDOM % 256 ))
    ip -4 route show | grep -q "^$net\." || break
    net=""
  done
  [ -n "$net" ] || { echo "engine $1: no free 10.x.y.0/24 for its bridge"; return 1; }
  BRIDGE=fjb$1-$(random_hex 3)
  echo "$BRIDGE" > "$STATE/engine$1.bridge"
  ip link add "$BRIDGE" type bridge
  ip addr add "$net.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

# openssl_cert DIR NAME CA_DIR EXT: DIR/NAME-key.pem and DIR/NAME-cert.pem signed by
# CA_DIR/ca.pem (key CA_DIR/ca-key.pem) with the v3 extensions EXT (one per line)
openssl_cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=forja-test-$2" \
    -keyout "$1/$2-key.pem" -out "$1/$2.csr" 2>/dev/null
  printf '%s\n' "$4" > "$1/$2.ext"
  openssl x509 -req -in "$1/$2.csr" -CA "$3/ca.pem" -CAkey "$3/ca-key.pem" \
    -set_serial "0x$(random_hex 16)" -days 7 -extfile "$1/$2.ext" -out "$1/$2-cert.pem" 2>/dev/null
  rm -f "$1/$2.csr" "$1/$2.ext"
}

openssl_ca() {
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
    -subj "/CN=forja-test-$2" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}

# TLS material for engine 3 under DIR: ca/ (the engine's CA), other-ca/ (a CA it does not know),
# server-*.pem, and three client directories in the Docker convention (ca.pem cert.pem key.pem):
# client/ (right), wrong-client/ (cert from the other CA, right ca.pem: the engine refuses it),
# wrong-ca/ (only the other CA's ca.pem: the engine's certificate does not verify).
make_engine_tls() {
  local d=$1
  rm -rf "$d"; mkdir -p "$d/client" "$d/wrong-client" "$d/wrong-ca"
  ( umask 077
    openssl_ca "$d/ca" ca
    openssl_ca "$d/other-ca" other-ca
    openssl_cert "$d" server "$d/ca" "subjectAltName = IP:127.0.0.1,DNS:localhost
extendedKeyUsage = serverAuth
keyUsage = critical,digitalSignature,keyEncipherment"
    openssl_cert "$d" client "$d/ca" "extendedKeyUsage = clientAuth
keyUsage = critical,digitalSignature"
    openssl_cert "$d" wrong-client "$d/other-ca" "extendedKeyUsage = clientAuth
keyUsage = critical,digitalSignature" )
  cp "$d/ca/ca.pem" "$d/client/ca.pem"
  mv "$d/client-cert.pem" "$d/client/cert.pem"; mv "$d/client-key.pem" "$d/client/key.pem"
  cp "$d/ca/ca.pem" "$d/wrong-client/ca.pem"
  mv "$d/wrong-client-cert.pem" "$d/wrong-client/cert.pem"
  mv "$d/wrong-client-key.pem" "$d/wrong-client/key.pem"
  cp "$d/other-ca/ca.pem" "$d/wrong-ca/ca.pem"
}

engine2_ping() { [ "$(curl -s --max-time 2 --unix-socket "$1" http://localhost/_ping)" = OK ]; }
engine3_ping() {
  [ "$(curl -s --max-time 2 --cacert "$1/ca.pem" --cert "$1/cert.pem" --key "$1/key.pem" \
    "https://127.0.0.1:$2/_ping")" = OK ]
}
# answers, or its dockerd (pid $1) is gone: no point waiting the whole deadline for a dead one
engine_up_or_dead() { local pid=$1; shift; "$@" || ! kill -0 "$pid"; }

# engine_dirs N: ENGINE_DIR (data-root, logs, pidfile under STATE) and ENGINE_RUN (exec-root and
# socket: under STATE when short enough, else under the short directory STATE/engines-run names,
# since containerd's sockets under the exec-root must stay below 108 bytes too)
engine_dirs() {
  ENGINE_DIR=$STATE/engine$1
  local base=$STATE
  [ -f "$STATE/engines-run" ] && base=$(cat "$STATE/engines-run")
  ENGINE_RUN=$base/e$1
}

# launch_engine N DOCKERD_ARGS...: starts extra engine N in the background, not waiting for it
launch_engine() {
  local n=$1; shift
  engine_dirs "$n"
  rm -rf "$ENGINE_RUN"
  mkdir -p "$ENGINE_DIR/root" "$ENGINE_RUN/exec"
  engine_bridge "$n"
  nohup dockerd --data-root "$ENGINE_DIR/root" --exec-root "$ENGINE_RUN/exec" \
    --pidfile "$ENGINE_DIR/docker.pid" --bridge="$BRIDGE" \
    --iptables=false --ip-masq=false --ip-forward=false "$@" >"$ENGINE_DIR/log" 2>&1 &
  echo $! > "$STATE/engine$n.pid"
}

# wait_engine N PING...: in the background, waits until PING answers and writes the time since
# launch in ms to STATE/engineN.ready (or "failed"); join with `wait`
wait_engine() {
  local n=$1 t0 pid; shift
  t0=$(ms_now); pid=$(cat "$STATE/engine$n.pid")
  (
    if wait_until 60 engine_up_or_dead "$pid" "$@" && "$@"; then
      echo $(( $(ms_now) - t0 )) > "$STATE/engine$n.ready"
    else
      echo failed > "$STATE/engine$n.ready"
    fi
  ) &
}

# start_extra_engines: launches both engines at once; finish_extra_engines waits for them, so
# that the other services start meanwhile
ENGINE_WAITERS=()
start_extra_engines() {
  if [ "${FORJA_TEST_EXTRA_ENGINES:-1}" = 0 ]; then
    echo "extra engines: skipped (FORJA_TEST_EXTRA_ENGINES=0)"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "extra engines: skipped (dockerd needs root)"
    return 0
  fi
  # what stop compares with: docker0 must outlive the extra engines
  if ip link show docker0 >/dev/null 2>&1; then echo yes; else echo no; fi > "$STATE/docker0-at-start"
  # the longest socket is EXEC/containerd/containerd.sock.ttrpc, 41 bytes past the engine's base
  rm -f "$STATE/engines-run"
  if [ $(( ${#STATE} + 41 )) -ge 100 ]; then
    mktemp -d /tmp/forja-e.XXXXXX > "$STATE/engines-run"
  fi
  local port; port=$(free_port)
  echo "$port" > "$STATE/engine3.port"
  make_engine_tls "$STATE/engine3-tls"

  engine_dirs 2
  local sock2=$ENGINE_RUN/docker.sock
  launch_engine 2 -H "unix://$sock2"
  wait_engine 2 engine2_ping "$sock2"; ENGINE_WAITERS+=($!)

  local tls=$STATE/engine3-tls
  launch_engine 3 -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$tls/ca/ca.pem" \
    --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem"
  wait_engine 3 engine3_ping "$tls/client" "$port"; ENGINE_WAITERS+=($!)
}

finish_extra_engines() {
  [ "${#ENGINE_WAITERS[@]}" -gt 0 ] || return 0
  wait "${ENGINE_WAITERS[@]}"
  local n ms
  for n in 2 3; do
    ms=$(cat "$STATE/engine$n.ready")
    if [ "$ms" = failed ]; then
      echo "engine $n did not become ready"; tail -20 "$STATE/engine$n/log"; return 1
    fi
    echo "engine $n: pid $(cat "$STATE/engine$n.pid") ready in $ms ms"
  done
  docker0_kept || return 1

  engine_dirs 2
  local sock2=$ENGINE_RUN/docker.sock port tls=$STATE/engine3-tls/client t0 base
  port=$(cat "$STATE/engine3.port")
  base=$(sed -n 's/^export FORJA_TEST_BASE_IMAGE=//p' "$STATE/env")
  t0=$(ms_now)
  docker -H "unix://$DOCKER_SOCK" save "$base" > "$STATE/base-image.tar"
  docker -H "unix://$sock2" load -q < "$STATE/base-image.tar" >/dev/null
  docker -H "tcp://127.0.0.1:$port" --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/cert.pem" \
    --tlskey "$tls/key.pem" load -q < "$STATE/base-image.tar" >/dev/null
  rm -f "$STATE/base-image.tar"
  echo "engines 2 and 3: $base loaded in $(( $(ms_now) - t0 )) ms"
  {
    echo "export FORJA_TEST_ENGINE2=unix://$sock2"
    echo "export FORJA_TEST_ENGINE3=tcp://127.0.0.1:$port"
    echo "export FORJA_TEST_ENGINE3_CERTS=$tls"
    echo "export FORJA_TEST_ENGINE3_WRONG_CLIENT=$STATE/engine3-tls/wrong-client"
    echo "export FORJA_TEST_ENGINE3_WRONG_CA=$STATE/engine3-tls/wrong-ca"
  } >> "$STATE/env"
}

# stop_extra_engines: stops both by PID (and a containerd a killed engine left behind), then
# fails when docker0 existed at start and is gone now
stop_extra_engines() {
  local n
  for n in 2 3; do
    engine_dirs "$n"
    stop_pid "engine $n" "$STATE/engine$n.pid"
    stop_pid "engine $n containerd" "$ENGINE_RUN/exec/containerd/containerd.pid"
    if [ -f "$STATE/engine$n.bridge" ]; then
      ip link del "$(cat "$STATE/engine$n.bridge")" 2>/dev/null || true
      rm -f "$STATE/engine$n.bridge"
    fi
  done
  if [ -f "$STATE/engines-run" ]; then
    rm -rf "$(cat "$STATE/engines-run")"; rm -f "$STATE/engines-run"
  fi
  docker0_kept
}

# docker0_kept: fails, saying so, when docker0 existed before the extra engines started and is
# gone now
docker0_kept() {
  if [ "$(cat "$STATE/docker0-at-start" 2>/dev/null)" = yes ] && ! ip link show docker0 >/dev/null 2>&1; then
    echo "ERROR: the docker0 bridge existed when the extra engines started and is gone now:" \
      "RUN steps on the machine's engine fail until docker0 is back (restart its dockerd)" >&2
    return 1
  fi
}

case "$cmd" in
  start)
    : > "$STATE/env"
    start_dockerd
    echo "export DOCKER_HOST=unix://$DOCKER_SOCK" >> "$STATE/env"
    start_extra_engines
    start_registry
    start_git_daemon
    start_http_git
    start_ssh_git
    build_base_image
    build_debian_image
    finish_extra_engines
    ;;
  stop)
    # the extra engines first: docker0 is checked while the machine's engine still runs
    rc=0
    stop_extra_engines || rc=1
    stop_pid sshd "$STATE/sshd.pid"
    stop_pid lighttpd "$STATE/lighttpd.pid"
    stop_pid "git daemon" "$STATE/git-daemon.pid"
    stop_pid registry "$STATE/registry.pid"
    stop_pid dockerd "$STATE/dockerd.pid"
    exit "$rc"
    ;;
  *) echo "usage: $0 start|stop STATE_DIR" >&2; exit 2 ;;
esac
