#!/usr/bin/env bash
# The badge as a browser shows it: starts the forja binary given as $1 on a free loopback port
# with an empty history, checks badges as XML (xmllint), their escaping and the 304, then has
# headless Chromium draw them and checks the drawn width against the SVG's width.
# usage: bash tests/browser/badge_test.sh path/to/forja
set -euo pipefail

FORJA=${1:?usage: badge_test.sh path/to/forja}
for tool in curl xmllint chromium python3; do
  command -v "$tool" >/dev/null || { echo "badge_test: $tool is required" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/forja-badge-test.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
mkdir -p "$WORK/data"
FORJA_DATA_DIR="$WORK/data" "$FORJA" --listen="127.0.0.1:$PORT" --allow-unsigned-webhooks \
  --registry=127.0.0.1:1 --log-level=warning >"$WORK/forja.log" 2>&1 &
PID=$!

# Ready when it answers; give up after 20 s.
deadline=$((SECONDS + 20))
until curl -fs -o /dev/null "$BASE/badge"; do
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/forja.log" >&2; fail "forja exited at start"; }
  [ $SECONDS -lt $deadline ] || fail "forja did not answer on $BASE"
  sleep 0.1
done

svg_width() { sed -n 's/^<svg[^>]* width="\([0-9]*\)".*/\1/p' "$1"; }

# 1. The unknown badge: headers, XML, text, colour.
curl -fs -D "$WORK/h1" -o "$WORK/unknown.svg" "$BASE/badge?service=no-such-service"
grep -qi '^content-type: image/svg+xml' "$WORK/h1" || fail "content type: $(cat "$WORK/h1")"
grep -qi '^cache-control:.*no-cache' "$WORK/h1" || fail "no Cache-Control no-cache"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\(".*"\).*/\1/p' "$WORK/h1" | tr -d '\r')
[ -n "$etag" ] || fail "no quoted ETag"
xmllint --noout "$WORK/unknown.svg" || fail "unknown badge is not well-formed"
grep -q '<title>build: unknown</title>' "$WORK/unknown.svg" || fail "unknown badge text"
grep -q 'fill="#9f9f9f"' "$WORK/unknown.svg" || fail "unknown badge colour"
[ "$(xmllint --xpath 'string(/*[local-name()="svg"]/@role)' "$WORK/unknown.svg")" = img ] ||
  fail "no role=img"
ok "unknown badge is a well-formed grey SVG with cache headers"

# 2. 304 for a matching If-None-Match, with no body.
code=$(curl -s -o "$WORK/304.body" -w '%{http_code}' -H "If-None-Match: $etag" \
  "$BASE/badge?service=no-such-service")
[ "$code" = 304 ] || fail "If-None-Match gave $code"
[ ! -s "$WORK/304.body" ] || fail "304 had a body"
ok "matching If-None-Match gives an empty 304"

# 3. Markup and control characters in the label render as text.
curl -fs -o "$WORK/evil.svg" \
  "$BASE/badge?service=%3Cb%3E&label=%3Cscript%3Ealert(1)%3C%2Fscript%3E%01%1b"
xmllint --noout "$WORK/evil.svg" || fail "escaped badge is not well-formed"
! grep -q '<script' "$WORK/evil.svg" || fail "markup reached the SVG"
title=$(xmllint --xpath 'string(//*[local-name()="title"])' "$WORK/evil.svg")
[ "$title" = '<script>alert(1)</script>: unknown' ] || fail "escaped title reads '$title'"
ok "markup in the label is shown as text"

# 4. A long label makes a wider badge, not a clipped one.
LONG='a%20rather%20long%20label%20for%20a%20badge%20that%20keeps%20going%20and%20going'
curl -fs -o "$WORK/long.svg" "$BASE/badge?service=no-such-service&label=$LONG"
xmllint --noout "$WORK/long.svg" || fail "long badge is not well-formed"
wu=$(svg_width "$WORK/unknown.svg")
wl=$(svg_width "$WORK/long.svg")
[ "$wl" -gt $((wu + 200)) ] || fail "long badge is $wl px, the short one $wu px"
ok "long label widens the badge ($wu -> $wl px)"

# 5. Chromium draws each badge: the painted width matches the SVG's width.
chrome() {
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$WORK/chrome.XXXXXX")" "$@" 2>>"$WORK/chrome.log"
}

# Columns holding a pixel that differs from the top-right background pixel.
painted_width() {
  python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w = 8, b'', 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        assert depth == 8 and ctype in (2, 6), 'unexpected PNG format'
        bpp = 3 if ctype == 2 else 4
    elif kind == b'IDAT':
        idat += body
    pos += 12 + n
raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
bg = bytes(rows[0][stride - bpp:stride])
cols = [x for x in range(w) if any(bytes(r[x * bpp:x * bpp + bpp]) != bg for r in rows)]
print(max(cols) - min(cols) + 1 if cols else 0)
PY
}

for name in unknown long; do
  case $name in
    unknown) url="$BASE/badge?service=no-such-service" ;;
    long) url="$BASE/badge?service=no-such-service&label=$LONG" ;;
  esac
  chrome --screenshot="$WORK/$name.png" --window-size=800,60 "$url" >/dev/null
  [ -s "$WORK/$name.png" ] || fail "no screenshot of the $name badge"
  want=$(svg_width "$WORK/$name.svg")
  got=$(painted_width "$WORK/$name.png")
  [ "$got" -ge $((want - 1)) ] && [ "$got" -le "$want" ] ||
    fail "$name badge painted $got px wide, the SVG says $want px"
  ok "chromium paints the $name badge $got px wide (SVG width $want)"
done

# 6. Embedded in a page as README renderers do: the image's natural width is the SVG's width.
cat >"$WORK/page.html" <<EOF
<!doctype html><html><body>
<img id="b" src="$BASE/badge?service=no-such-service&amp;label=$LONG">
<script>
  const img = document.getElementById('b');
  const done = () => document.title = 'w=' + img.naturalWidth + ',h=' + img.naturalHeight;
  img.complete ? done() : img.addEventListener('load', done);
</script></body></html>
EOF
chrome --dump-dom --virtual-time-budget=5000 "file://$WORK/page.html" >"$WORK/dom.html"
dims=$(sed -n 's/.*<title>\(w=[0-9]*,h=[0-9]*\)<\/title>.*/\1/p' "$WORK/dom.html")
[ "$dims" = "w=$wl,h=20" ] || fail "embedded badge measured '$dims', want w=$wl,h=20"
ok "an <img> of the badge is $wl x 20"

kill -0 "$PID" 2>/dev/null || fail "forja died during the test"
echo "$pass passed, 0 failed"
