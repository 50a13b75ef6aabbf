#!/bin/bash
# Container health probe: GET /healthz on Forja's listen address; healthy on HTTP 200.
# Plain bash over /dev/tcp so that the image needs neither curl nor wget.
set -u

listen=${FORJA_LISTEN:-0.0.0.0:8080}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
'' | 0.0.0.0 | '*') host=127.0.0.1 ;;
:: | ::0) host=::1 ;;
esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 5 _ status _ <&3 || exit 1
exec 3<&-
[ "$status" = 200 ]
