#!/usr/bin/env bash
# Makes a local debian:bookworm-slim from Debian's own packages when no such image exists
# (for machines that cannot pull from Docker Hub). The image is kept as a cache between runs.
# Usage: base_image.sh [TAG]   (default debian:bookworm-slim)
set -euo pipefail

tag=${1:-debian:bookworm-slim}
if docker image inspect "$tag" >/dev/null 2>&1; then
	exit 0
fi

# The mirror apt already uses on this host (deb822 .sources or one-line .list), else the default.
mirror_of() {
	local suite_re=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v re="$suite_re" '
			/^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { u = $i; s = $(i + 1); break }
				      if (s ~ re) { print u; exit } }
			/^URIs:/ { u = $2 } /^Suites:/ { for (i = 2; i <= NF; i++) if ($i ~ re) { print u; exit } }
			/^$/ { u = "" }' "$f"
	done | head -n 1
}
main=$(mirror_of '^bookworm$')
security=$(mirror_of '^bookworm-security$')
main=${main:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Like the official slim image: no manuals, translations or documentation beyond copyright files.
mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--customize-hook='rm -f "$1"/etc/hostname "$1"/etc/resolv.conf' \
	bookworm "$tmp/rootfs.tar" \
	"deb $main bookworm main" "deb $main bookworm-updates main" \
	"deb $security bookworm-security main" >"$tmp/log" 2>&1 || {
	cat "$tmp/log" >&2
	exit 1
}
docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	"$tmp/rootfs.tar" "$tag" >/dev/null
