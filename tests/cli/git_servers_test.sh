#!/usr/bin/env bash
# The private git servers the test command starts behave as Forja's fetching relies on: the HTTP
# server takes a password or a GitHub-style token in an Authorization header and refuses a wrong
# one; sshd takes the deploy key, and the client refuses a host key it does not know. Both hand
# out a commit that is not a branch tip (protocol v2 must get through). Exits 77 (skipped) when
# the servers' variables are absent, i.e. when not run under scripts/test.sh.
# usage: git_servers_test.sh [PATH_TO_FORJA, unused]
set -uo pipefail

for v in FORJA_TEST_HTTP_GIT_URL FORJA_TEST_HTTP_GIT_ROOT FORJA_TEST_HTTP_GIT_USER \
         FORJA_TEST_HTTP_GIT_PASSWORD FORJA_TEST_HTTP_GIT_TOKEN FORJA_TEST_SSH_GIT_URL \
         FORJA_TEST_SSH_GIT_ROOT FORJA_TEST_SSH_GIT_KEY FORJA_TEST_SSH_GIT_KNOWN_HOSTS \
         FORJA_TEST_SSH_GIT_WRONG_KNOWN_HOSTS; do
  if [ -z "${!v:-}" ]; then
    echo "SKIP: $v is not set (run under scripts/test.sh, which starts the git servers)"
    exit 77
  fi
done

work=$(mktemp -d)
name=servers-$$
cleanup() { rm -rf "$work" "$FORJA_TEST_HTTP_GIT_ROOT/$name.git" "$FORJA_TEST_SSH_GIT_ROOT/$name.git"; }
trap cleanup EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# nothing from the caller's configuration (a credential helper, an ssh agent) may help or hinder
export HOME=$work GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
unset SSH_AUTH_SOCK SSH_ASKPASS GIT_ASKPASS GIT_SSH GIT_SSH_COMMAND GIT_CONFIG_COUNT

# two commits, so the first is not a tip: fetching it by id needs protocol v2 end to end
git init -q -b main "$work/src"
git -C "$work/src" -c user.email=t@forja.invalid -c user.name=t commit -q --allow-empty -m one
old=$(git -C "$work/src" rev-parse HEAD)
git -C "$work/src" -c user.email=t@forja.invalid -c user.name=t commit -q --allow-empty -m two
tip=$(git -C "$work/src" rev-parse HEAD)
for root in "$FORJA_TEST_HTTP_GIT_ROOT" "$FORJA_TEST_SSH_GIT_ROOT"; do
  git clone -q --bare "$work/src" "$root/$name.git"
done
http_url=$FORJA_TEST_HTTP_GIT_URL/$name.git
ssh_url=$FORJA_TEST_SSH_GIT_URL$FORJA_TEST_SSH_GIT_ROOT/$name.git

# with_auth USER:SECRET CMD... : CMD with a Basic Authorization header, kept out of argv and URL
with_auth() {
  local header; header="Authorization: Basic $(printf '%s' "$1" | base64 -w0)"; shift
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="$header" "$@"
}
# with_ssh KEY KNOWN_HOSTS CMD... : CMD with ssh as Forja runs it, host keys checked
with_ssh() {
  local cmd="ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
  cmd+=" -i $1 -o UserKnownHostsFile=$2"; shift 2
  GIT_SSH_COMMAND=$cmd "$@"
}
# fetch_old URL : fetch the non-tip commit by id into a fresh bare repository
fetch_old() {
  rm -rf "$work/dst" && git init -q --bare "$work/dst" &&
    git -C "$work/dst" fetch -q --depth 1 "$1" "$old:refs/forja/build" &&
    [ "$(git -C "$work/dst" rev-parse refs/forja/build)" = "$old" ]
}

# HTTP: password, token, wrong secrets, none
pw=$FORJA_TEST_HTTP_GIT_USER:$FORJA_TEST_HTTP_GIT_PASSWORD
out=$(with_auth "$pw" git ls-remote "$http_url" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "^$tip	refs/heads/main" <<<"$out" && ok || fail "http with password: rc=$rc $out"
out=$(with_auth "x-access-token:$FORJA_TEST_HTTP_GIT_TOKEN" git ls-remote "$http_url" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "^$tip	refs/heads/main" <<<"$out" && ok || fail "http with token: rc=$rc $out"
with_auth "x-access-token:$FORJA_TEST_HTTP_GIT_TOKEN" fetch_old "$http_url" >"$work/out" 2>&1 && ok ||
  fail "http: fetching a non-tip commit by id: $(cat "$work/out")"
for bad in "$FORJA_TEST_HTTP_GIT_USER:wrong-$FORJA_TEST_HTTP_GIT_PASSWORD" \
           "x-access-token:wrong-$FORJA_TEST_HTTP_GIT_TOKEN" \
           "x-access-token:$FORJA_TEST_HTTP_GIT_PASSWORD"; do
  out=$(with_auth "$bad" git ls-remote "$http_url" 2>&1); rc=$?
  [ "$rc" = 128 ] && ok || fail "http with wrong secret ${bad%%:*}:...: rc=$rc (want 128) $out"
  grep -q "wrong-" <<<"$out" && fail "git's error repeats the secret: $out"
done
out=$(git ls-remote "$http_url" 2>&1); rc=$?
[ "$rc" = 128 ] && ok || fail "http without credentials: rc=$rc (want 128) $out"

# SSH: deploy key with the right host key; another host key; a key that is not authorised
key=$FORJA_TEST_SSH_GIT_KEY
kh=$FORJA_TEST_SSH_GIT_KNOWN_HOSTS
out=$(with_ssh "$key" "$kh" git ls-remote "$ssh_url" 2>&1); rc=$?
[ "$rc" = 0 ] && grep -q "^$tip	refs/heads/main" <<<"$out" && ok || fail "ssh with deploy key: rc=$rc $out"
with_ssh "$key" "$kh" fetch_old "$ssh_url" >"$work/out" 2>&1 && ok ||
  fail "ssh: fetching a non-tip commit by id: $(cat "$work/out")"
out=$(with_ssh "$key" "$FORJA_TEST_SSH_GIT_WRONG_KNOWN_HOSTS" git ls-remote "$ssh_url" 2>&1); rc=$?
[ "$rc" != 0 ] && grep -q "Host key verification failed" <<<"$out" && ok ||
  fail "ssh with the wrong known_hosts: rc=$rc $out"
out=$(with_ssh "$key" /dev/null git ls-remote "$ssh_url" 2>&1); rc=$?
[ "$rc" != 0 ] && grep -q "Host key verification failed" <<<"$out" && ok ||
  fail "ssh with an empty known_hosts: rc=$rc $out"
ssh-keygen -q -t ed25519 -N '' -f "$work/stranger"
out=$(with_ssh "$work/stranger" "$kh" git ls-remote "$ssh_url" 2>&1); rc=$?
[ "$rc" != 0 ] && grep -q "Permission denied (publickey)" <<<"$out" && ok ||
  fail "ssh with a key that is not authorised: rc=$rc $out"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
