#!/usr/bin/env bash
# The short form of the crash soak (scripts/soak.sh): 16 builds, 4 SIGKILLs of the server
# under test, every check of the long run. Exits 77 (skipped) outside scripts/test.sh.
# usage: soak_test.sh PATH_TO_FORJA
set -uo pipefail
FORJA=${1:?usage: $0 PATH_TO_FORJA}
for v in FORJA_TEST_GIT_DIR FORJA_TEST_GIT_URL FORJA_TEST_REGISTRY FORJA_TEST_BASE_IMAGE; do
  if [ -z "${!v:-}" ]; then echo "SKIP: $v is not set (run under scripts/test.sh)"; exit 77; fi
done
FORJA_BIN=$FORJA exec bash "$(dirname "$0")/../../scripts/soak.sh" 16 4
