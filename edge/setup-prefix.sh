#!/bin/sh
# Builds an nginx prefix for the Cirrus edge: conf/ (nginx.conf, listen files, fallback
# certificate), lua/, logs/, tmp/, cache/. Run it again to update conf/ and lua/; then
# `kill -HUP` the master (or start it):  nginx -p PREFIX/ -c conf/nginx.conf
#
# Environment (defaults in brackets):
#   EDGE_HTTP_LISTEN [80]   EDGE_HTTPS_LISTEN [443]   EDGE_ADMIN_LISTEN [9145]
#   EDGE_ORIGIN_LISTEN [127.0.0.1:8081] (the loopback origin hop)
#   EDGE_DEBIAN_MODULES [auto: 1 when /usr/lib/nginx/modules/ngx_http_lua_module.so exists]
#   EDGE_ORIGIN_CA [/etc/ssl/certs/ca-certificates.crt]   EDGE_USER [unset: nginx's default]
#   EDGE_RESOLVER [the nameservers of /etc/resolv.conf] for origins given by host name
#   EDGE_REDIS_CA [/etc/ssl/certs/ca-certificates.crt] CA of the Redis certificate (rediss://)
set -eu
PREFIX=${1:?usage: setup-prefix.sh PREFIX}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$PREFIX/conf/main.d" "$PREFIX/conf/http.d" "$PREFIX/lua" "$PREFIX/logs" \
         "$PREFIX/tmp" "$PREFIX/cache"
cp "$HERE/conf/nginx.conf" "$HERE/conf/front-proxy.conf" "$PREFIX/conf/"
cp -R "$HERE/lua/." "$PREFIX/lua/"

listen_origin=${EDGE_ORIGIN_LISTEN:-127.0.0.1:8081}
printf 'listen %s;\nlisten %s ssl;\n' "${EDGE_HTTP_LISTEN:-80}" "${EDGE_HTTPS_LISTEN:-443}" \
  > "$PREFIX/conf/listen.conf"
printf 'listen %s;\n' "$listen_origin" > "$PREFIX/conf/listen-origin.conf"
printf 'server %s;\n' "$listen_origin" > "$PREFIX/conf/origin-hop-upstream.conf"
printf 'listen %s;\n' "${EDGE_ADMIN_LISTEN:-9145}" > "$PREFIX/conf/listen-admin.conf"
printf 'proxy_ssl_trusted_certificate %s;\n' "${EDGE_ORIGIN_CA:-/etc/ssl/certs/ca-certificates.crt}" \
  > "$PREFIX/conf/http.d/origin-tls.conf"
# The Lua Redis client verifies a rediss:// server against this CA bundle.
printf 'lua_ssl_trusted_certificate %s;\nlua_ssl_verify_depth 4;\n' \
  "${EDGE_REDIS_CA:-/etc/ssl/certs/ca-certificates.crt}" > "$PREFIX/conf/http.d/redis-tls.conf"

# Origins given by host name are resolved by nginx: the system's name servers by default.
resolvers=${EDGE_RESOLVER:-$(awk '/^nameserver/ { a = $2; if (a ~ /:/) a = "[" a "]"; printf "%s ", a }' /etc/resolv.conf 2>/dev/null || true)}
if [ -n "$resolvers" ]; then
  printf 'resolver %s valid=30s;\nresolver_timeout 2s;\n' "$resolvers" > "$PREFIX/conf/http.d/resolver.conf"
fi

debian=${EDGE_DEBIAN_MODULES:-auto}
if [ "$debian" = auto ]; then
  [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] && debian=1 || debian=0
fi
if [ "$debian" = 1 ]; then
  # Debian's nginx: ndk before lua; lfs (lua-filesystem) lives on the system cpath already.
  cat > "$PREFIX/conf/main.d/modules.conf" <<'MODS'
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
MODS
fi
if [ -n "${EDGE_USER:-}" ]; then
  printf 'user %s;\n' "$EDGE_USER" > "$PREFIX/conf/main.d/user.conf"
fi

if [ ! -f "$PREFIX/conf/fallback.pem" ]; then
  # Served to clients whose SNI names no domain; never trusted by anyone.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=cirrus-edge.invalid" -keyout "$PREFIX/conf/fallback.key" \
    -out "$PREFIX/conf/fallback.pem" 2>/dev/null
fi
