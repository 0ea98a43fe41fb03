#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs the system
# packages the tests run for real when they are missing, Node 24 when the system node is
# older than 22 (scripts/node-runtime.sh), the npm dependencies, then lint, typecheck,
# unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in redis-server:redis-server redis-cli:redis-tools redis-sentinel:redis-sentinel \
            dig:bind9-dnsutils named-checkzone:bind9-utils \
            kdig:knot-dnsutils dnsperf:dnsperf nsd:nsd mmdblookup:mmdb-bin openssl:openssl \
            pebble:pebble nsupdate:bind9-dnsutils curl:curl cc:gcc prometheus:prometheus \
            promtool:prometheus knsupdate:knot-dnsutils lego:lego certbot:certbot \
            pdns_recursor:pdns-recursor g++:g++ make:make python3:python3 \
            nghttp:nghttp2-client h2load:nghttp2-client \
            delv:bind9-dnsutils unbound:unbound knotd:knot keymgr:knot \
            kresd:knot-resolver dnsviz:dnsviz dnssec-dsfromkey:bind9-utils \
            ldns-verify-zone:ldnsutils; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
# certbot's RFC 2136 plugin (test/integration/zone-update-acme-clients.test.ts).
[ -d /usr/lib/python3/dist-packages/certbot_dns_rfc2136 ] || need+=(python3-certbot-dns-rfc2136)
# dnspython: an independent UPDATE client with EDNS (test/integration/zone-update.test.ts).
[ -d /usr/lib/python3/dist-packages/dns ] || need+=(python3-dnspython)
# bench/loadgen/realgen.c is compiled by its test: gcc does not pull in libc's headers
# without recommends.
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
# DNSSEC: delv, unbound, knot-resolver and dnsviz validate Cirrus's answers
# (dnssec-validators, dnssec-size); Knot serves the signed parent whose DS the rollover test
# swaps (dnssec-rollover); ldns-verify-zone checks the signed export (xfr-nsd-dnssec).
# nghttp2-client: nghttp checks the edge's HTTP/2 listener (edge-tiers.test.ts) and h2load
# drives bench/edge-h2.sh.
# The edge tests run Debian's nginx with the Lua module and the Lua libraries edge/ uses.
lualib=/usr/lib/$(uname -m)-linux-gnu/lua/5.1
for pair in /usr/sbin/nginx:nginx \
            /usr/lib/nginx/modules/ndk_http_module.so:libnginx-mod-http-ndk \
            /usr/lib/nginx/modules/ngx_http_lua_module.so:libnginx-mod-http-lua \
            /usr/share/lua/5.1/resty/core.lua:lua-resty-core \
            /usr/share/lua/5.1/resty/lrucache.lua:lua-resty-lrucache \
            /usr/share/lua/5.1/nginx/redis.lua:lua-nginx-redis \
            $lualib/cjson.so:lua-cjson \
            $lualib/lfs.so:lua-filesystem; do
  [ -e "${pair%%:*}" ] || need+=("${pair#*:}")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# Everything below runs on Node >= 22 (Node 24 from the npm registry when the system node is
# older): npm itself, lint, typecheck, and every node process the tests start. npm ci builds
# the batched UDP addon (native/udp-batch) when it can; here it must be built (--strict).
node_bin="$(bash scripts/node-runtime.sh)"
export PATH="$(dirname "$node_bin"):$PATH"
echo "node $(node --version) ($node_bin)"

npm ci --no-audit --no-fund --loglevel=error
[ -e native/udp-batch/build/Release/udp_batch.node ] || node scripts/build-native.mjs --strict
npm run --silent lint
npm run --silent typecheck
# UDP on node:dgram (the tests' default), then the UDP-facing files again on the batched
# path (test/helpers/cirrus.ts reads CIRRUS_UDP_BATCH): both paths pass the same tests.
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts test/integration/*.test.ts
CIRRUS_UDP_BATCH=on node --import tsx --test --test-concurrency=2 \
  test/integration/{dns-server,dns-dig,dns-robustness,dns-rrl,dns-shed,proxy-protocol,dns-workers}.test.ts
