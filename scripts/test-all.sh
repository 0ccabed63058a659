#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
npm ci --no-audit --no-fund
npm test
