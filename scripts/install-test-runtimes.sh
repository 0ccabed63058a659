#!/usr/bin/env bash
# Installs the runtimes the tests need besides the system Node (see scripts/test-runtimes/package.json)
# from the npm registry into a cache directory outside the checkout, and prints that directory.
# Reinstalls only when the pinned versions change. The packaging test reads the same directory:
# SMSGATE_TEST_RUNTIMES, else ${XDG_CACHE_HOME:-$HOME/.cache}/smsgate-test-runtimes.
set -euo pipefail
cd "$(dirname "$0")/test-runtimes"

dir=${SMSGATE_TEST_RUNTIMES:-${XDG_CACHE_HOME:-$HOME/.cache}/smsgate-test-runtimes}
mkdir -p "$dir"
# The stamp is written after a complete install, so an interrupted one is redone.
if ! cmp -s package-lock.json "$dir/installed.stamp"; then
  cp package.json package-lock.json "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp package-lock.json "$dir/installed.stamp"
fi
echo "$dir"
