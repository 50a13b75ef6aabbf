#!/bin/sh
# Starts Forja in the container.
# - FORJA_<NAME>_FILE (a file holding a secret, e.g. a Docker secret) fills FORJA_<NAME> when
#   that is unset or empty; empty FORJA_* variables are then unset so Forja applies its defaults.
# - Started as root, it gives the data directory to the unprivileged "forja" user and drops to
#   it, keeping only the group that owns the Docker socket (the one privilege Forja needs).
#   Set FORJA_RUN_AS_ROOT=1 to stay root (e.g. a socket owned by root:root with mode 0600).
set -eu

for name in REGISTRY_PASSWORD WEBHOOK_SECRET API_TOKEN READ_TOKEN GITHUB_TOKEN; do
	file=$(printenv "FORJA_${name}_FILE" || true)
	value=$(printenv "FORJA_${name}" || true)
	if [ -z "$value" ] && [ -n "$file" ] && [ -r "$file" ]; then
		value=$(cat "$file")
		export "FORJA_${name}=$value"
	fi
	unset "FORJA_${name}_FILE"
done
for var in $(env | sed -n 's/^\(FORJA_[A-Z0-9_]*\)=$/\1/p'); do
	unset "$var"
done

if [ "$(id -u)" != 0 ] || [ "${FORJA_RUN_AS_ROOT:-0}" = 1 ]; then
	exec "$@"
fi

data=${FORJA_DATA_DIR:-/var/lib/forja}
mkdir -p "$data"
if [ "$(stat -c %u "$data")" != "$(id -u forja)" ]; then
	chown -R forja:forja "$data"
fi

groups=$(id -g forja)
docker_host=${FORJA_DOCKER_HOST:-unix:///var/run/docker.sock}
case $docker_host in
unix://*)
	sock=${docker_host#unix://}
	if [ -S "$sock" ]; then
		groups="$groups,$(stat -c %g "$sock")"
	fi
	;;
esac
exec setpriv --reuid=forja --regid=forja --groups="$groups" --no-new-privs --inh-caps=-all -- "$@"
