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

# free_port : prints a loopback port nothing listens on (random, so parallel runs rarely meet)
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 20000 ))
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
