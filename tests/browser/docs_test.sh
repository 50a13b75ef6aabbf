#!/usr/bin/env bash
# Opens /docs in headless Chromium and checks that Swagger UI, loaded from files shipped in the
# binary, lists every operation of the OpenAPI document.
# usage: docs_test.sh PATH_TO_FORJA
set -euo pipefail

FORJA=${1:?usage: $0 PATH_TO_FORJA}
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../../scripts/lib.sh"



port=$(free_port)
FORJA_DATA_DIR="$work/data" "$FORJA" --listen "127.0.0.1:$port" --registry 127.0.0.1:1 \
  --log-level warning >"$work/forja.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/openapi.json" && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: forja did not start:"; cat "$work/forja.log"; exit 1; }
  sleep 0.1
done

# Swagger UI renders the operations with JavaScript; the virtual time budget lets it finish.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --virtual-time-budget=15000 \
  --dump-dom "http://127.0.0.1:$port/docs" >"$work/dom.html" 2>"$work/chromium.log" || true

fail=0
# every operation of the document must be rendered (Swagger UI ids: operations-<tag>-<operationId>)
ops=$(curl -fs "http://127.0.0.1:$port/openapi.json" | grep -oE '"operationId": "[A-Za-z]+"' | cut -d'"' -f4)
[ -n "$ops" ] || { echo "FAIL: no operations read from /openapi.json"; exit 1; }
count=0
for op in $ops; do
  count=$((count + 1))
  if ! grep -qE "id=\"operations-[A-Za-z0-9_-]+-$op\"" "$work/dom.html"; then
    echo "FAIL: operation $op is not listed by Swagger UI"
    fail=1
  fi
done
# the Authorize button offers both tokens, and each guarded operation shows its lock
grep -q 'class="btn authorize' "$work/dom.html" || { echo "FAIL: no Authorize button"; fail=1; }
dom=$(cat "$work/dom.html")
for op in listBuilds getBuild getBuildLog listImages getMetrics createBuild cancelBuild; do
  # the 3,000 characters after the operation's id, cut with bash (a regex over one long line
  # would take minutes)
  rest=${dom#*-$op\"}
  if [ "$rest" = "$dom" ] || [[ ${rest:0:3000} != *authorization__btn* ]]; then
    echo "FAIL: operation $op shows no lock (security not declared?)"
    fail=1
  fi
done
grep -q 'class="swagger-ui' "$work/dom.html" || { echo "FAIL: Swagger UI did not render"; fail=1; }
grep -qi 'forja' "$work/dom.html" || { echo "FAIL: the document title is not shown"; fail=1; }
if [ "$fail" = 0 ]; then
  echo "1 passed, 0 failed ($count operations listed by Swagger UI)"
else
  echo "0 passed, 1 failed"
  head -c 2000 "$work/dom.html"
  exit 1
fi
