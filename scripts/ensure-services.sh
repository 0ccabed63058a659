#!/usr/bin/env bash
# Make sure the services the tests talk to are there: PostgreSQL on 127.0.0.1:5432 (trust auth), and
# Debian's chromium for the dashboard's browser test.
# Uses a running one; otherwise starts the installed cluster; otherwise installs it from Debian.
# It creates no database: each PostgreSQL test file makes its own (smsgate_test_<random>) and
# drops it afterwards.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "PostgreSQL is not installed: installing it from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    # Trust auth on loopback, as the tests expect.
    sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+all\s+)\S+/\1trust/' /etc/postgresql/$version/main/pg_hba.conf
    # The package may have started the cluster already: make it read the new pg_hba.conf.
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload 2>/dev/null || true
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if ! pg_up; then
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }

# The tests connect as postgres without a password and create their own databases.
if ! psql -h 127.0.0.1 -p 5432 -U postgres -w -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL answers on 127.0.0.1:5432, but user postgres cannot log in without a password;" >&2
  echo "the tests need trust auth on loopback: set 'host all all 127.0.0.1/32 trust' in pg_hba.conf and reload" >&2
  exit 1
fi
echo "PostgreSQL is up on 127.0.0.1:5432"

# The dashboard test (test/dashboard/) drives Debian's chromium with playwright-core; never a
# downloaded browser.
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is not installed: installing it from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "chromium: $(command -v chromium)"
