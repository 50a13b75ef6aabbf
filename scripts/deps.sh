#!/usr/bin/env bash
# Installs the Debian packages Forja needs that are not installed yet (idempotent).
# usage: scripts/deps.sh run|test|fuzz
set -euo pipefail

build=(cmake gcc make pkg-config libulfius-dev libjansson-dev liborcania-dev libyder-dev
       libsqlite3-dev libcurl4-gnutls-dev libgnutls28-dev libmicrohttpd-dev libarchive-dev)
runtime=(docker.io docker-registry git openssh-client ca-certificates curl iptables)
testing=(check busybox-static apache2-utils chromium libxml2-utils procps iproute2 python3 openssl sqlite3
         lighttpd openssh-server clang-format)
# tests/fuzz/run.sh: libFuzzer and the sanitizer runtimes (libclang-rt-14-dev is only a Recommends
# of clang-14), and dpkg-dev for apt-get source of the jansson it instruments
fuzzing=(clang-14 libclang-rt-14-dev dpkg-dev)

case "${1:-run}" in
  run) want=("${build[@]}" "${runtime[@]}") ;;
  test) want=("${build[@]}" "${runtime[@]}" "${testing[@]}" "${fuzzing[@]}") ;;
  fuzz) want=("${build[@]}" "${fuzzing[@]}") ;;
  *) echo "usage: $0 run|test|fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# lighttpd and openssh-server would start system-wide services on install; the tests start their
# own on loopback ports, so forbid that with a policy-rc.d, unless the system already has one.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM
fi
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
