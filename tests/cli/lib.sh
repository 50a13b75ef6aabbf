# Helpers for shell tests and scripts that drive a real forja binary against the services the
# test command starts (git daemon, registry, engine): repositories to build, a server started
# and stopped by PID, API calls, build fields, registry digests. Source it after
# scripts/lib.sh; set FORJA (the binary) and WORK (a scratch directory) first.

# json_get FIELD: FIELD of the JSON object on stdin ("" when null or absent)
json_get() {
  python3 -c 'import json,sys
v=json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$1"
}

# repo_make NAME DOCKERFILE: a repository NAME.git served by the git daemon with DOCKERFILE,
# an images.json manifest of "[]" and a file "stamp" unique to this call (COPY it before a RUN
# step that must not come from an engine's layer cache); its work tree is $WORK/src-NAME.
# REPLY = the commit.
repo_make() {
  local w=$WORK/src-$1
  git_work_init "$w" test
  printf '%s\n' "$2" >"$w/Dockerfile"
  printf '[]\n' >"$w/images.json"
  printf '%s %s\n' "$1" "$(date +%s%N)" >"$w/stamp"
  git_work_publish "$w" "$FORJA_TEST_GIT_DIR/$1.git"
  REPLY=$(git -C "$w" rev-parse HEAD)
}

# repo_commit NAME MANIFEST: commits MANIFEST as images.json and pushes; REPLY = the commit.
repo_commit() {
  printf '%s\n' "$2" >"$WORK/src-$1/images.json"
  git_work_push "$WORK/src-$1" manifest
}

# forja_up PORT DATA_DIR LOG [FLAGS...]: starts forja, waits for /healthz; FORJA_PID = its PID.
forja_up() {
  local port=$1 data=$2 log=$3
  shift 3
  "$FORJA" --listen "127.0.0.1:$port" --data-dir "$data" --registry "$FORJA_TEST_REGISTRY" \
    --log-level info "$@" >>"$log" 2>&1 &
  FORJA_PID=$!
  FORJA_URL=http://127.0.0.1:$port
  local i
  for i in $(seq 1 400); do
    curl -fs -o /dev/null --max-time 2 "$FORJA_URL/healthz" && return 0
    kill -0 "$FORJA_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# forja_gone SECONDS: waits for FORJA_PID to exit; 0 when it did, with FORJA_RC its exit code
forja_gone() {
  local deadline=$(( $(date +%s%3N) + $1 * 1000 ))
  while kill -0 "$FORJA_PID" 2>/dev/null; do
    [ "$(date +%s%3N)" -ge "$deadline" ] && return 1
    sleep 0.05
  done
  wait "$FORJA_PID"
  FORJA_RC=$?
  return 0
}

# api METHOD PATH [BODY]: the answer's body on stdout, its status in API_STATUS (a file,
# since callers often read the body in a subshell)
api() {
  local code
  code=$(curl -s -o "$WORK/api-body" -w '%{http_code}' --max-time 20 -X "$1" \
    -H "Authorization: Bearer ${FORJA_TEST_API_TOKEN:-}" -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$FORJA_URL$2")
  echo "$code" >"$WORK/api-status"
  cat "$WORK/api-body"
}
api_status() { cat "$WORK/api-status"; }

# build_field ID FIELD: FIELD of build ID as the server reports it
build_field() { api GET "/builds/$1" | json_get "$2"; }

# build_wait ID SECONDS STATUS...: waits until build ID has one of STATUS; REPLY = its status
build_wait() {
  local id=$1 deadline=$(( $(date +%s) + $2 )) st
  shift 2
  while :; do
    st=$(build_field "$id" status 2>/dev/null)
    for want in "$@"; do
      if [ "$st" = "$want" ]; then REPLY=$st; return 0; fi
    done
    [ "$(date +%s)" -ge "$deadline" ] && { REPLY=$st; return 1; }
    sleep 0.1
  done
}

# registry_digest REPO TAG: the digest the registry serves for REPO:TAG ("" when none)
registry_digest() {
  curl -s -I --max-time 5 \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$FORJA_TEST_REGISTRY/v2/$1/manifests/$2" |
    awk 'tolower($1) == "docker-content-digest:" { gsub("\r", "", $2); print $2 }'
}
