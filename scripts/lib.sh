# Shell helpers shared by Forja's scripts and shell tests: polling with a deadline (never a
# fixed sleep for readiness) and free loopback ports. Source it; it defines functions only.

# wait_until SECONDS CMD... : 0 as soon as CMD succeeds, 1 when SECONDS have passed
wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.05
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
