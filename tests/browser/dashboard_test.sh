#!/usr/bin/env bash
# The dashboard in headless Chromium against a real server with real builds: a merged-PR
# webhook build (GitHub repository, pull request), a failing build, a build whose log is
# followed while it runs, and enough failed ones to need a second page. Each page is loaded
# at 1280 and 390 px (light) and 1280 px (dark), screenshots saved in artifacts/dashboard/
# under the working directory; no console errors; every focusable element is reached with
# Tab, has an accessible name and a visible focus. Live: a webhook's build appears on the open
# Builds page within 1 s and changes status there (GET /events); a build is cancelled and run
# again with the keyboard alone. A second server with a read token checks the token form.
# Exits 77 (skipped) outside scripts/test.sh.
# usage: dashboard_test.sh PATH_TO_FORJA
set -uo pipefail
FORJA=${1:?usage: $0 PATH_TO_FORJA}
for v in FORJA_TEST_GIT_DIR FORJA_TEST_GIT_URL FORJA_TEST_REGISTRY FORJA_TEST_BASE_IMAGE; do
  if [ -z "${!v:-}" ]; then echo "SKIP: $v is not set (run under scripts/test.sh)"; exit 77; fi
done
for tool in chromium python3 openssl curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-dashboard-test.XXXXXX")
ART=$PWD/artifacts/dashboard
mkdir -p "$ART"
NAME=dash-$$
SECRET=dash-secret-$RANDOM$RANDOM
export FORJA_TEST_API_TOKEN=dash-api-$RANDOM$RANDOM
READ_TOKEN=dash-read-$RANDOM$RANDOM
FORJA_PID=
pid2=
gh_pid=
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=tests/cli/lib.sh
source "$ROOT/tests/cli/lib.sh"

cleanup() {
  [ -n "$FORJA_PID" ] && kill "$FORJA_PID" 2>/dev/null && wait "$FORJA_PID" 2>/dev/null
  [ -n "$pid2" ] && kill "$pid2" 2>/dev/null && wait "$pid2" 2>/dev/null
  [ -n "$gh_pid" ] && kill "$gh_pid" 2>/dev/null && wait "$gh_pid" 2>/dev/null
  rm -rf "$FORJA_TEST_GIT_DIR/$NAME.git" "$FORJA_TEST_GIT_DIR/$NAME-broken.git" \
    "$FORJA_TEST_GIT_DIR/$NAME-slow.git" "$FORJA_TEST_GIT_DIR/$NAME-cancel.git" "$WORK"
}
trap cleanup EXIT
passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
die() { echo "FAIL: $*"; [ -f "$WORK/forja.log" ] && tail -20 "$WORK/forja.log"; exit 1; }

# page NAME URL [cdp_page.py options]: loads URL, saves the screenshots, checks console, Tab
# and names; the JSON report is in $WORK/NAME.json and REPLY is its "evals" list as JSON.
page() {
  local name=$1 url=$2
  shift 2
  python3 "$ROOT/tests/tools/cdp_page.py" "$url" "$ART/$name" "$@" >"$WORK/$name.json"
  local rc=$?
  REPLY=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["evals"]))' \
    "$WORK/$name.json" 2>/dev/null)
  if [ "$rc" = 0 ]; then
    ok "$name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["tab"]), "elements reached with Tab, all named, focus visible; no console errors;", len(d["screenshots"]), "screenshots")' "$WORK/$name.json")"
  else
    bad "$name: $(python3 -c 'import json,sys; print("; ".join(json.load(open(sys.argv[1]))["failures"]))' "$WORK/$name.json" 2>/dev/null || tail -5 "$WORK/$name.json")"
  fi
}
# expect WHAT EXPECTED: compares REPLY (the evals of the last page) with EXPECTED
expect() {
  if [ "$REPLY" = "$2" ]; then ok "$1"; else bad "$1: got $REPLY, want $2"; fi
}

# --- a real server, a GitHub stand-in, real builds ---
python3 "$ROOT/tests/tools/github_standin.py" "$FORJA_TEST_GIT_DIR" "$WORK/gh-port" &
gh_pid=$!
wait_until 10 test -s "$WORK/gh-port" || die "the GitHub stand-in did not start"
port=$(free_port)
forja_up "$port" "$WORK/data" "$WORK/forja.log" --webhook-secret "$SECRET" \
  --api-token "$FORJA_TEST_API_TOKEN" --github-api-url "http://127.0.0.1:$(cat "$WORK/gh-port")" \
  --allowed-hosts 127.0.0.1 --workers 2 --shutdown-grace 0 || die "forja did not start"
BASE=$FORJA_URL

repo_make "$NAME-broken" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp
RUN echo 'the tests of this image failed' && exit 3"
# 1. twenty builds of a ref that does not exist (they fail fast): the list needs a second page
for i in $(seq 1 20); do
  api POST /builds "{\"service\":\"$NAME-gone\",\"version\":\"0.0.$i\",\"repository\":\"$FORJA_TEST_GIT_URL$NAME-broken.git\",\"ref\":\"no-such-branch\"}" >/dev/null
done
# 2. a build whose Dockerfile fails
broken=$(api POST /builds "{\"service\":\"$NAME-broken\",\"version\":\"0.1.0\",\"repository\":\"$FORJA_TEST_GIT_URL$NAME-broken.git\",\"ref\":\"develop\"}" | json_get id)
[ -n "$broken" ] || die "POST /builds answered $(api_status)"

# 3. a merged pull request of acme/$NAME builds $NAME-web 1.0.0
repo_make "$NAME" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp"
repo_commit "$NAME" "[{\"service_name\":\"$NAME-web\",\"version\":\"1.0.0\"}]"
sha=$REPLY
printf '{"action":"closed","number":42,"pull_request":{"number":42,"merged":true,"merge_commit_sha":"%s","base":{"ref":"develop"},"head":{"sha":"%s","ref":"feature"}},"repository":{"full_name":"acme/%s","clone_url":"%s%s.git"},"sender":{"login":"dev"}}' \
  "$sha" "$sha" "$NAME" "$FORJA_TEST_GIT_URL" "$NAME" >"$WORK/body"
sig=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$WORK/body" | cut -d' ' -f1)
code=$(curl -s -o "$WORK/hook" -w '%{http_code}' -H 'Content-Type: application/json' \
  -H 'X-GitHub-Event: pull_request' -H 'X-GitHub-Hook-ID: 1' -H "X-GitHub-Delivery: $NAME-1" \
  -H "X-Hub-Signature-256: $sig" --data-binary "@$WORK/body" "$BASE/ciserver/updates")
[ "$code" = 202 ] || die "webhook answered $code: $(cat "$WORK/hook")"
web=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["builds"][0]["id"])' <"$WORK/hook")

build_wait "$web" 120 succeeded failed cancelled || die "build $web is still $REPLY"
[ "$REPLY" = succeeded ] || die "the webhook build $web ended $REPLY: $(build_field "$web" error)"
build_wait "$broken" 120 failed succeeded cancelled || die "build $broken is still $REPLY"
[ "$REPLY" = failed ] || die "the broken build $broken ended $REPLY"
last=$(api GET "/builds?service=$NAME-gone&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["builds"][0]["id"])')
build_wait "$last" 120 failed || die "build $last is still $REPLY"
digest=$(build_field "$web" digest)
image=$(build_field "$web" image)
broken_error=$(build_field "$broken" error)

# --- the pages ---
if [ "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$BASE/")" = "303 $BASE/ui/builds" ]; then
  ok "GET / sends the browser to /ui/builds (303)"
else
  bad "GET / does not redirect to /ui/builds"
fi

row="document.getElementById('build-$web')"
page builds "$BASE/ui/builds" \
  --eval "document.querySelectorAll('#builds tbody tr').length" \
  --eval "$row.querySelector('.status').textContent + ' ' + $row.querySelector('.status').className" \
  --eval "$row.querySelector('a[href*=\"/commit/\"]').href" \
  --eval "$row.querySelector('a[href*=\"/pull/\"]').href + ' ' + $row.querySelector('a[href*=\"/pull/\"]').textContent" \
  --eval "$row.querySelector('[data-label=Engine]').textContent !== ''" \
  --eval "!document.getElementById('older').hidden"
expect "Builds page: 20 rows, the webhook build succeeded (text and colour class), its commit and PR linked to GitHub, engine shown, an older page" \
  "[20, \"succeeded status s-succeeded\", \"https://github.com/acme/$NAME/commit/$sha\", \"https://github.com/acme/$NAME/pull/42 #42\", true, true]"

before=$(api GET '/builds?limit=20' | python3 -c 'import json, sys, urllib.parse as u
print(u.parse_qs(u.urlsplit(json.load(sys.stdin)["next"]).query)["before"][0])')
page builds-page2 "$BASE/ui/builds?before=$before" \
  --eval "document.querySelectorAll('#builds tbody tr').length" \
  --eval "!document.getElementById('newer').hidden"
expect "Builds page 2 (before cursor): the 2 oldest builds and a link back to the newest" "[2, true]"

page builds-filtered "$BASE/ui/builds?service=$NAME-broken&status=failed" \
  --eval "[...document.querySelectorAll('#builds tbody tr')].map(r => r.id).join(',')" \
  --eval "document.getElementById('f-service').value + '/' + document.getElementById('f-status').value"
expect "Builds page filtered by service and status from the URL" "[\"build-$broken\", \"$NAME-broken/failed\"]"

page build-failed "$BASE/ui/builds/$broken" \
  --eval "!document.getElementById('error-box').hidden" \
  --eval "document.getElementById('error').textContent" \
  --eval "document.querySelector('#title .status').className + ' ' + getComputedStyle(document.querySelector('#title .status')).color"
if python3 - "$REPLY" "$broken_error" <<'PY'
import json, sys
shown, error = json.loads(sys.argv[1]), sys.argv[2]
assert shown[0] is True and shown[1] == error and error, shown
rgb = shown[2].split(" ", 2)[2]
r, g, b = [int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]
assert "s-failed" in shown[2] and r > g + 40 and r > b + 40, shown[2]
PY
then
  ok "Build page of a failed build: red 'failed' badge and the error in full"
else
  bad "Build page of the failed build: $REPLY"
fi

repo=${image%:*}
page build-succeeded "$BASE/ui/builds/$web" \
  --step "wait:20:document.getElementById('log').textContent.length > 0" \
  --eval "document.getElementById('image-ref').textContent" \
  --eval "document.querySelectorAll('#fields dt').length >= 20" \
  --eval "document.getElementById('actions').hidden"
expect "Build page: image@digest to copy, every field, no actions without an API token" \
  "[\"$repo@$digest\", true, true]"

page services "$BASE/ui/services" \
  --step "wait:10:[...document.images].every(i => i.complete && i.naturalWidth > 0)" \
  --eval "[...document.querySelectorAll('#services tbody tr')].filter(r => r.textContent.includes('$NAME-web')).map(r => r.querySelector('code').textContent + ' ' + r.querySelector('img').naturalHeight)"
expect "Services page: the badge drawn and its Markdown" "[[\"![build]($BASE/badge?service=$NAME-web) 20\"]]"

page images "$BASE/ui/images" \
  --eval "[...document.querySelectorAll('#images tbody tr')].filter(r => r.cells[0].textContent === '$NAME-web').map(r => r.cells[1].textContent + ' ' + r.cells[2].textContent + ' ' + r.cells[3].querySelector('a').getAttribute('href'))"
expect "Images page: the tag, its digest and its build" "[[\"1.0.0 $digest /ui/builds/$web\"]]"

# 4. the log of a running build appears while it runs, auto-scroll stops while the reader
# reads higher up and resumes at the end, then the final status
repo_make "$NAME-slow" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp
RUN i=0; while [ \$i -lt 80 ]; do i=\$((i + 1)); echo line \$i of a long log; done; \\
    for i in 1 2 3 4 5 6; do echo tick \$i; sleep 1; done"
slow=$(api POST /builds "{\"service\":\"$NAME-slow\",\"version\":\"1.0.0\",\"repository\":\"$FORJA_TEST_GIT_URL$NAME-slow.git\",\"ref\":\"develop\"}" | json_get id)
log="document.getElementById('log')"
page build-running "$BASE/ui/builds/$slow" --token "forja.apiToken=$FORJA_TEST_API_TOKEN" \
  --step "wait:30:$log.textContent.includes('tick 1')" \
  --step "eval:document.querySelector('#title .status').textContent + ' ' + $log.textContent.includes('tick 6') + ' ' + document.getElementById('cancel').checkVisibility()" \
  --step "eval:$log.scrollHeight > $log.clientHeight && $log.scrollTop + $log.clientHeight >= $log.scrollHeight - 8" \
  --step "eval:($log.scrollTop = 0) === 0" \
  --step "wait:5:document.getElementById('log-state').textContent.includes('paused')" \
  --step "wait:30:$log.textContent.includes('tick 4')" \
  --step "eval:$log.scrollTop" \
  --step "eval:($log.scrollTop = $log.scrollHeight) > 0" \
  --step "wait:5:document.getElementById('log-state').textContent === ''" \
  --step "wait:60:document.querySelector('#title .status').textContent === 'succeeded'" \
  --step "eval:$log.textContent.includes('tick 6') && $log.scrollTop + $log.clientHeight >= $log.scrollHeight - 8"
expect "Build page of a running build: log lines while it runs, cancel offered with an API token, auto-scroll that stops when scrolled up and resumes at the end, final status" \
  "[\"running false true\", true, true, 0, true, true]"

# 5. keyboard only: enter the API token in the footer and cancel a running build
repo_make "$NAME-cancel" "FROM $FORJA_TEST_BASE_IMAGE
COPY stamp /stamp
RUN echo waiting; sleep 60"
cancel=$(api POST /builds "{\"service\":\"$NAME-cancel\",\"version\":\"1.0.0\",\"repository\":\"$FORJA_TEST_GIT_URL$NAME-cancel.git\",\"ref\":\"develop\"}" | json_get id)
page build-cancel "$BASE/ui/builds/$cancel" \
  --step "wait:30:$log.textContent.includes('waiting')" \
  --step "eval:!document.getElementById('cancel').checkVisibility()" \
  --step "focus:#tokens summary" --step "key:Enter" \
  --step "focus:#api-token" --step "type:$FORJA_TEST_API_TOKEN" --step "key:Enter" \
  --step "wait:5:document.getElementById('cancel').checkVisibility()" \
  --step "focus:#cancel" --step "key:Enter" \
  --step "wait:30:document.querySelector('#title .status').textContent === 'cancelled'" \
  --step "wait:5:document.getElementById('rerun').checkVisibility()" \
  --step "focus:#rerun" --step "key:Enter" \
  --step "wait:10:location.pathname !== '/ui/builds/$cancel' && document.body.dataset.ready === '1'" \
  --step "eval:document.querySelector('#title').textContent.includes('$NAME-cancel 1.0.0')" \
  --step "eval:location.pathname"
shown=$REPLY
build_wait "$cancel" 30 cancelled
[ "$REPLY" = cancelled ] || bad "the API says build $cancel is $REPLY"
again=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[-1].rsplit("/", 1)[-1])' "$shown" 2>/dev/null)
# the new run sleeps a minute: stop it
[ -n "$again" ] && api POST "/builds/$again/cancel" >/dev/null
REPLY=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])[:-1]))' "$shown" 2>/dev/null)
expect "Keyboard only: API token entered in the footer, Cancel pressed, the build cancelled; Run again opened the new build ($again)" "[true, true]"
[ "$(build_field "$again" service)" = "$NAME-cancel" ] || bad "Run again did not queue a build of $NAME-cancel"

# 6. live: a merged pull request's build appears on the open Builds page within 1 s, and its
# status changes there as it runs (GET /events)
repo_commit "$NAME" "[{\"service_name\":\"$NAME-live\",\"version\":\"1.1.0\"}]"
sha2=$REPLY
sed -e "s/$sha/$sha2/g" -e 's/"number":42/"number":43/g' "$WORK/body" >"$WORK/body2"
sig2=sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r <"$WORK/body2" | cut -d' ' -f1)
cat >"$WORK/hook2.sh" <<HOOK
curl -s -o /dev/null -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \\
  -H 'X-GitHub-Hook-ID: 1' -H 'X-GitHub-Delivery: $NAME-2' -H 'X-Hub-Signature-256: $sig2' \\
  --data-binary @$WORK/body2 $BASE/ciserver/updates
HOOK
liverow="[...document.querySelectorAll('#builds tbody tr')].find(r => r.textContent.includes('$NAME-live'))"
page builds-live "$BASE/ui/builds" \
  --step "wait:5:document.getElementById('live').dataset.state === 'on'" \
  --step "eval:(() => { window.seen = []; new MutationObserver(() => { const r = $liverow; if (r && !window.t1) window.t1 = performance.now(); if (r && window.seen[window.seen.length - 1] !== r.dataset.status) window.seen.push(r.dataset.status); }).observe(document.querySelector('#builds tbody'), {childList: true}); return true; })()" \
  --step "eval:(window.t0 = performance.now()) > 0" \
  --step "sh:bash $WORK/hook2.sh" \
  --step "wait:1:$liverow" \
  --step "wait:60:$liverow && $liverow.dataset.status === 'succeeded'" \
  --step "eval:window.seen.filter(s => s !== 'queued').join(' ')" \
  --step "eval:$liverow.querySelector('a[href*=\"/pull/\"]').textContent" \
  --step "eval:Math.round(window.t1 - window.t0)"
ms=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).pop())' "$REPLY" 2>/dev/null)
REPLY=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])[:-1]))' "$REPLY" 2>/dev/null)
expect "Builds page live: the webhook's build appeared without a reload and went running -> succeeded, PR linked" \
  "[true, true, \"running succeeded\", \"#43\"]"
if [ -n "$ms" ] && [ "$ms" -le 1000 ]; then
  ok "the webhook's build was on the open page $ms ms after the webhook was sent"
else
  bad "the webhook's build took ${ms:-?} ms to appear on the open page (at most 1000)"
fi

# --- a server with a read token: the pages ask for it once ---
port2=$(free_port)
FORJA_PID_SAVED=$FORJA_PID
forja_up "$port2" "$WORK/data2" "$WORK/forja2.log" --read-token "$READ_TOKEN" ||
  die "the second forja did not start"
pid2=$FORJA_PID
FORJA_PID=$FORJA_PID_SAVED
page builds-token "http://127.0.0.1:$port2/ui/builds" --login "$READ_TOKEN" --allow "status of 401" \
  --step "wait:5:document.getElementById('live').dataset.state === 'on'" \
  --eval "document.getElementById('auth').hidden" \
  --eval "document.getElementById('msg').textContent" \
  --eval "sessionStorage.getItem('forja.readToken') === '$READ_TOKEN'"
expect "With a read token: the form asks once, the token is kept for the tab, the list loads and /events follows" \
  "[true, \"No builds yet.\", true]"

kill -0 "$FORJA_PID" 2>/dev/null || bad "forja died during the test"
echo "screenshots: $ART"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
