#!/usr/bin/env bash
# The short form of the burst (scripts/burst.sh): 400 distinct signed merged-PR deliveries,
# 96 at once from one address (over the per-address limit of 64, so both answers occur):
# each answered 202 or 503 with Retry-After, every 202's builds in the history.
# Exits 77 (skipped) outside scripts/test.sh.
# usage: burst_test.sh PATH_TO_FORJA
set -uo pipefail
FORJA=${1:?usage: $0 PATH_TO_FORJA}
for v in FORJA_TEST_GIT_DIR FORJA_TEST_REGISTRY FORJA_TEST_BASE_IMAGE; do
  if [ -z "${!v:-}" ]; then echo "SKIP: $v is not set (run under scripts/test.sh)"; exit 77; fi
done
FORJA_BIN=$FORJA exec bash "$(dirname "$0")/../../scripts/burst.sh" 400 96
