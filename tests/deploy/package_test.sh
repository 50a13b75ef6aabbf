#!/usr/bin/env bash
# The Debian package: `cmake --build BUILD --target package` makes forja_*.deb; its unit passes
# `systemd-analyze verify`; in a fresh debian:bookworm-slim container (made from Debian's
# packages by base_image.sh when Docker Hub is out of reach) `apt-get install ./forja_*.deb`
# installs it with its dependencies, creates the forja user, and the binary starts with the
# packaged defaults (the settings file sourced as systemd would) and answers /healthz.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FORJA_PACKAGE_BUILD_DIR:-$ROOT/build-package}
name=forja-package-test-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

command -v docker >/dev/null || { echo "SKIP: no docker CLI"; exit 77; }
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DFORJA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target package >/dev/null
deb=$(ls "$BUILD"/forja_*_amd64.deb | head -1)
[ -f "$deb" ] || fail "no package in $BUILD"
echo "package: $(basename "$deb"), $(( $(stat -c %s "$deb") / 1024 )) KiB"
files=$(dpkg-deb -c "$deb")
grep -q ' ./usr/bin/forja$' <<<"$files" || fail "no /usr/bin/forja in the package"
grep -q 'systemd/system/forja.service$' <<<"$files" || fail "no unit in the package"
grep -q libulfius <<<"$(dpkg-deb -f "$deb" Depends)" || fail "the package does not depend on its libraries"
# loaded with dlopen at the first build, so the shared-library scan cannot name it
grep -q libarchive13 <<<"$(dpkg-deb -f "$deb" Depends)" || fail "the package does not depend on libarchive13"

# the unit as systemd reads it (the binary it names must exist for verify: the one just built)
unitdir=$(mktemp -d)
sed "s|^ExecStart=/usr/bin/forja|ExecStart=$BUILD/forja|" "$ROOT/cmake/debian/forja.service" \
  >"$unitdir/forja.service"
out=$(systemd-analyze verify "$unitdir/forja.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
rm -rf "$unitdir"
echo "unit: systemd-analyze verify passes"

"$ROOT/tests/deploy/base_image.sh" debian:bookworm-slim
docker run -d --name "$name" -v "$deb:/tmp/forja.deb:ro" debian:bookworm-slim sleep 600 >/dev/null
docker exec "$name" sh -c 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends /tmp/forja.deb >/tmp/install.log 2>&1' ||
  { docker exec "$name" tail -20 /tmp/install.log; fail "apt-get install ./forja.deb failed"; }
docker exec "$name" getent passwd forja >/dev/null || fail "the package made no forja user"
docker exec "$name" sh -c 'ldconfig -p | grep -q "libarchive\.so\.13 "' ||
  fail "libarchive.so.13, which a build loads, was not installed with the package"
docker exec "$name" test -f /etc/default/forja || fail "no /etc/default/forja"
# the packaged defaults, as the unit gives them: its settings file and its data directory
docker exec -d "$name" sh -c 'mkdir -p /var/lib/forja && chown forja:forja /var/lib/forja &&
  set -a && . /etc/default/forja && FORJA_DATA_DIR=/var/lib/forja \
  exec setpriv --reuid=forja --regid=forja --init-groups /usr/bin/forja >/tmp/forja.log 2>&1'
for _ in $(seq 1 100); do
  docker exec "$name" forja healthcheck http://127.0.0.1:8080/openapi.json >/dev/null 2>&1 && break
  sleep 0.1
done
docker exec "$name" forja healthcheck http://127.0.0.1:8080/openapi.json >/dev/null 2>&1 ||
  { docker exec "$name" cat /tmp/forja.log; fail "the installed forja does not answer"; }
# /healthz answers (503 here: no engine or registry in the container, and it says so)
h=$(docker exec "$name" sh -c 'forja healthcheck 2>&1 || true')
grep -q '"status"' <<<"$h" || fail "/healthz did not answer: $h"
grep -q 'healthz: HTTP' <<<"$h" || fail "no status line: $h"
echo "installed and started: $(grep 'healthz: HTTP' <<<"$h")"
echo "package: ok"
