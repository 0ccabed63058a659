#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, check the code (`npm test`: types,
# format, lint), then run the suite twice: on the system's Node (20) and on Node 24 from the npm
# registry. Exits non-zero if a check or either run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
# Node 24, Node 18, Bun and Deno, outside the checkout (the packaging test uses them too).
SMSGATE_TEST_RUNTIMES=$(bash scripts/install-test-runtimes.sh)
export SMSGATE_TEST_RUNTIMES
node24=$SMSGATE_TEST_RUNTIMES/node_modules/node24

# better-sqlite3 has no way to download a binary here, so it compiles one for each Node ABI (a few
# minutes on 2 cores). Each binary it compiles is kept in the runtimes directory as a local prebuild,
# keyed by its version, the ABI and the platform, and the next run unpacks that instead.
prebuilds=$SMSGATE_TEST_RUNTIMES/prebuilds
# Given to the installs only: npm warns about the unknown setting in every npm command that sees it.
with_prebuilds() { npm_config_better_sqlite3_local_prebuilds=$prebuilds "$@"; }
keep_sqlite_binary() {
  local name
  name=$(node -p "'better-sqlite3-v' + require('./node_modules/better-sqlite3/package.json').version +
    '-node-v' + process.versions.modules + '-' + process.platform + '-' + process.arch + '.tar.gz'")
  if [ ! -f "$prebuilds/$name" ]; then
    mkdir -p "$prebuilds"
    tar -czf "$prebuilds/$name.tmp" -C node_modules/better-sqlite3 build/Release/better_sqlite3.node
    mv "$prebuilds/$name.tmp" "$prebuilds/$name"
  fi
}

status=0
with_prebuilds npm ci --no-audit --no-fund
keep_sqlite_binary
echo "== the test suite on Node $(node --version)"
npm test || status=1

# The same node_modules on Node 24: better-sqlite3 is rebuilt for its ABI against the headers that
# come with it (npm_config_nodedir), and the Node 20 binary is put back afterwards.
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
saved=$(mktemp)
cp "$addon" "$saved"
restore_node20_binary() {
  mkdir -p "$(dirname "$addon")"
  cp "$saved" "$addon"
  rm -f "$saved"
}
trap restore_node20_binary EXIT
(
  export PATH=$node24/bin:$PATH npm_config_nodedir=$node24
  with_prebuilds npm rebuild better-sqlite3
  keep_sqlite_binary
  # The checks of the code (types, format, lint) ran with the first suite; they do not depend on
  # the Node that runs them.
  echo "== the test suite on Node $(node --version)"
  npm run -s test:suite
) || status=1
exit $status
