#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs the system
# packages the tests run for real when they are missing, Node 24 when the system node is
# older than 22 (scripts/node-runtime.sh), the npm dependencies, then lint, typecheck,
# unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in redis-server:redis-server dig:bind9-dnsutils named-checkzone:bind9-utils \
            kdig:knot-dnsutils dnsperf:dnsperf nsd:nsd mmdblookup:mmdb-bin openssl:openssl \
            pebble:pebble nsupdate:bind9-dnsutils curl:curl cc:gcc prometheus:prometheus \
            promtool:prometheus nghttp:nghttp2-client h2load:nghttp2-client; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
# bench/loadgen/realgen.c is compiled by its test: gcc does not pull in libc's headers
# without recommends.
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
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
# older): npm itself, lint, typecheck, and every node process the tests start.
node_bin="$(bash scripts/node-runtime.sh)"
export PATH="$(dirname "$node_bin"):$PATH"
echo "node $(node --version) ($node_bin)"

npm ci --no-audit --no-fund --loglevel=error
npm run --silent lint
npm run --silent typecheck
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts test/integration/*.test.ts
