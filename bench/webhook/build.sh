#!/bin/sh
# The hook command of a typical adnanh/webhook set-up, as users run it today: fetch the merge
# commit, then build and push every image images.json lists with the docker CLI.
# usage: build.sh SHA CLONE_URL REGISTRY  (the arguments come from hooks.json)
set -eu
sha=$1
url=$2
registry=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
git init -q "$dir"
git -C "$dir" fetch -q --depth 1 "$url" "$sha"
git -C "$dir" checkout -q FETCH_HEAD
jq -r '.[] | "\(.service_name) \(.version)"' "$dir/images.json" | while read -r svc ver; do
	docker build -q -t "$registry/$svc:$ver" "$dir" >/dev/null
	docker push -q "$registry/$svc:$ver" >/dev/null
done
