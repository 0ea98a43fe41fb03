#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs the system
# packages the tests run for real when they are missing, the npm dependencies, then
# lint, typecheck, unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in redis-server:redis-server dig:bind9-dnsutils named-checkzone:bind9-utils \
            kdig:knot-dnsutils dnsperf:dnsperf nsd:nsd mmdblookup:mmdb-bin openssl:openssl \
            pebble:pebble nsupdate:bind9-dnsutils; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint
npm run --silent typecheck
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts test/integration/*.test.ts
