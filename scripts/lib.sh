# Shell helpers shared by Forja's scripts, shell tests and benchmarks: polling with a deadline
# (never a fixed sleep for readiness), free loopback ports, and the git work trees a test or a
# benchmark builds from. Source it; it defines functions, and WAIT_UNTIL_PAUSE.

# How long wait_until sleeps between tries; a caller that times what it waits for sets less.
WAIT_UNTIL_PAUSE=0.05

# wait_until SECONDS CMD... : 0 as soon as CMD succeeds, 1 when SECONDS have passed
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep "$WAIT_UNTIL_PAUSE"
  done
}

# port_free PORT : whether nothing accepts connections on 127.0.0.1:PORT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port : prints a loopback port nothing listens on (random, so parallel runs rarely meet),
# below the kernel's ephemeral range (32768 and up), where an outgoing connection's own port
# could take it between this check and the bind
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

# ---- git work trees: commit in DIR, serve the bare clone ------------------------------------

# git_work_init DIR WHO : a new work tree DIR on branch develop, committing as WHO
git_work_init() {
  git init -q -b develop "$1"
  git -C "$1" config user.email "$2@forja.invalid"
  git -C "$1" config user.name "$2"
}

# git_work_publish DIR BARE : commits everything in DIR as "init", clones it bare to BARE (where
# a git server serves it) and makes BARE its origin
git_work_publish() {
  git -C "$1" add -A
  git -C "$1" commit -qm init
  git clone -q --bare "$1" "$2"
  git -C "$1" remote add origin "$2"
}

# git_work_push DIR MESSAGE : commits everything in DIR (an empty commit when nothing changed)
# and pushes develop to origin; REPLY = the commit
git_work_push() {
  git -C "$1" add -A
  git -C "$1" commit -qm "$2" --allow-empty
  git -C "$1" push -q origin develop
  REPLY=$(git -C "$1" rev-parse HEAD)
}

# ---- scripts that run a Forja against the services of scripts/test.sh -----------------------
# (scripts/soak.sh, scripts/burst.sh, bench/pool.sh): they use the test command's services when
# its variables are set, and otherwise start their own for the run.

# services_use WORK VAR : when VAR is empty, installs what the services need, starts them in
# WORK/services (own_services=1) and reads their variables
services_use() {
  [ -n "${!2:-}" ] && return 0
  "$(dirname "${BASH_SOURCE[0]}")/deps.sh" test
  own_services=1
  "$(dirname "${BASH_SOURCE[0]}")/services.sh" start "$1/services" >&2
  # shellcheck disable=SC1091
  source "$1/services/env"
}

# services_done WORK NAME : at exit: removes the repository NAME.git the git daemon served,
# stops the services services_use started and removes WORK
services_done() {
  [ -n "${FORJA_TEST_GIT_DIR:-}" ] && rm -rf "$FORJA_TEST_GIT_DIR/$2.git"
  [ "${own_services:-0}" = 1 ] && "$(dirname "${BASH_SOURCE[0]}")/services.sh" stop "$1/services" >/dev/null
  rm -rf "$1"
}

# forja_release BUILD_DIR : unless FORJA_BIN is set, builds Forja (Release) in BUILD_DIR and sets
# FORJA_BIN to it
forja_release() {
  [ -n "${FORJA_BIN:-}" ] && return 0
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cmake -S "$root" -B "$1" -DCMAKE_BUILD_TYPE=Release -DFORJA_TESTS=OFF >/dev/null
  cmake --build "$1" -j"$(nproc)" >/dev/null
  FORJA_BIN=$1/forja
}
