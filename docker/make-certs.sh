#!/bin/sh
# Creates what a first deployment of Forja's registry needs, and leaves existing files alone:
#   ca/ca.key, ca/ca.crt          a private certificate authority (the key never leaves ca/)
#   certs/ca.crt                  the CA certificate, to trust on every machine that pulls
#   certs/registry.crt, .key      the registry's TLS certificate, one subjectAltName per NAME
#   auth/htpasswd                 the registry's bcrypt htpasswd file
#   forja/registry-password       the registry password Forja pushes with
#   forja/webhook-secret          the secret to paste into GitHub's webhook settings
#   forja/api-token               the bearer token of Forja's write API
#   forja/read-token              the bearer token that reads the history, logs and metrics
# The server certificate is issued again when a NAME is missing from it, when it expires within
# 30 days or when it was not signed by ca/ca.crt; the CA and the secrets are never replaced.
set -eu

usage() {
	cat <<'USAGE'
Usage: make-certs.sh [-o DIR] [-u USER] [-d DAYS] [--docker-trust HOST:PORT] [NAME|IP]...

Every NAME (DNS name) or IP becomes a subjectAltName of the registry certificate, in addition to
"registry" (its name inside the compose network), "localhost" and 127.0.0.1. Give the names and
addresses other machines and this host's Docker engine use to reach the registry.

  -o DIR      output directory (default: $FORJA_DEPLOY_DIR, else docker/local beside this script)
  -u USER     registry user name (default: $FORJA_REGISTRY_USERNAME, else forja)
  -d DAYS     validity of the registry certificate (default 825)
  --docker-trust HOST:PORT
              also copy the CA to /etc/docker/certs.d/HOST:PORT/ca.crt so that this host's
              Docker engine trusts the registry (needs root; no restart of dockerd is needed)

Environment: FORJA_REGISTRY_SANS (more names, comma or space separated); FORJA_REGISTRY_PASSWORD,
FORJA_WEBHOOK_SECRET, FORJA_API_TOKEN, FORJA_READ_TOKEN (values to use instead of random ones, first run only).
USAGE
}

out=${FORJA_DEPLOY_DIR:-$(cd "$(dirname "$0")" && pwd)/local}
user=${FORJA_REGISTRY_USERNAME:-forja}
days=825
trust=
names="registry localhost 127.0.0.1"
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	-u) user=$2; shift 2 ;;
	-d) days=$2; shift 2 ;;
	--docker-trust) trust=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) names="$names $1"; shift ;;
	esac
done
names="$names $(printf '%s' "${FORJA_REGISTRY_SANS:-}" | tr ',' ' ')"

for tool in openssl htpasswd; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "make-certs: $tool is missing (Debian: apt-get install openssl apache2-utils)" >&2
		exit 1
	fi
done
case $user in
'' | *:* | *[[:space:]]*) echo "make-certs: invalid user name '$user'" >&2; exit 2 ;;
esac

is_ip() {
	case $1 in
	*:*) return 0 ;;
	*[!0-9.]* | '') return 1 ;;
	*) return 0 ;;
	esac
}

# Unique names, in order, as "DNS:x" / "IP:y" entries.
san=
seen=" "
for n in $names; do
	case $seen in *" $n "*) continue ;; esac
	seen="$seen$n "
	if is_ip "$n"; then entry="IP:$n"; else entry="DNS:$n"; fi
	san="${san:+$san,}$entry"
done

umask 077
mkdir -p "$out/ca" "$out/certs" "$out/auth" "$out/forja"
created=

if [ ! -s "$out/ca/ca.key" ] || [ ! -s "$out/ca/ca.crt" ]; then
	openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days 3650 \
		-keyout "$out/ca/ca.key" -out "$out/ca/ca.crt" -subj "/CN=Forja registry CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	rm -f "$out/certs/registry.crt"
	created="$created ca/ca.crt"
fi
cp "$out/ca/ca.crt" "$out/certs/ca.crt"
chmod 0644 "$out/ca/ca.crt" "$out/certs/ca.crt"

crt=$out/certs/registry.crt
key=$out/certs/registry.key
reissue=
if [ ! -s "$crt" ] || [ ! -s "$key" ]; then
	reissue=missing
elif ! openssl verify -CAfile "$out/ca/ca.crt" "$crt" >/dev/null 2>&1; then
	reissue="not signed by the CA"
elif ! openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null; then
	reissue="expires within 30 days"
else
	have=$(openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null | tr -d ' ' | tr ',' '\n' |
		sed 's/^IPAddress:/IP:/')
	for entry in $(printf '%s' "$san" | tr ',' ' '); do
		if ! printf '%s\n' "$have" | grep -qxF "$entry"; then
			reissue="$entry missing"
			break
		fi
	done
fi
if [ -n "$reissue" ] && [ -s "$crt" ]; then
	# Keep the names the old certificate had: machines may already use them.
	for entry in $(openssl x509 -in "$crt" -noout -ext subjectAltName 2>/dev/null | tr -d ' ' |
		tr ',' '\n' | sed -n 's/^IPAddress:/IP:/; /^\(DNS\|IP\):/p'); do
		case ",$san," in *",$entry,"*) ;; *) san="$san,$entry" ;; esac
	done
fi
if [ -n "$reissue" ]; then
	first=$(printf '%s' "$san" | tr ',' '\n' | sed -n 's/^DNS://p' | sed -n 1p)
	ext=$(mktemp)
	csr=$(mktemp)
	cat >"$ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EXT
	openssl req -new -newkey rsa:2048 -nodes -sha256 -keyout "$key" -out "$csr" \
		-subj "/CN=${first:-registry}" 2>/dev/null
	openssl x509 -req -in "$csr" -CA "$out/ca/ca.crt" -CAkey "$out/ca/ca.key" -CAcreateserial \
		-CAserial "$out/ca/ca.srl" -days "$days" -sha256 -extfile "$ext" -out "$crt" 2>/dev/null
	rm -f "$ext" "$csr"
	chmod 0644 "$crt"
	chmod 0600 "$key"
	created="$created certs/registry.crt($san)"
fi

# A secret file, from the environment or random; never replaced.
secret() {
	file=$out/forja/$1
	[ -s "$file" ] && return 0
	if [ -n "$2" ]; then
		printf '%s' "$2" >"$file"
	else
		openssl rand -hex 24 | tr -d '\n' >"$file"
	fi
	created="$created forja/$1"
}
secret registry-password "${FORJA_REGISTRY_PASSWORD:-}"
secret webhook-secret "${FORJA_WEBHOOK_SECRET:-}"
secret api-token "${FORJA_API_TOKEN:-}"
secret read-token "${FORJA_READ_TOKEN:-}"

# bcrypt at htpasswd's default cost: the password is 192 random bits, and the registry checks
# it on every request of a push.
if [ ! -s "$out/auth/htpasswd" ] || ! grep -q "^$user:" "$out/auth/htpasswd"; then
	htpasswd -iBc "$out/auth/htpasswd" "$user" <"$out/forja/registry-password" 2>/dev/null
	chmod 0644 "$out/auth/htpasswd"
	created="$created auth/htpasswd($user)"
fi
chmod 0755 "$out/certs" "$out/auth"

# Run as root on a directory someone else owns (a bind mount from compose): give it back.
owner=$(stat -c %u:%g "$out")
if [ "$(id -u)" = 0 ] && [ "$owner" != 0:0 ]; then
	chown -R "$owner" "$out"
fi

if [ -n "$trust" ]; then
	install -D -m 0644 "$out/certs/ca.crt" "/etc/docker/certs.d/$trust/ca.crt"
	created="$created /etc/docker/certs.d/$trust/ca.crt"
fi

if [ -n "$created" ]; then
	echo "make-certs: in $out created:$created"
fi
