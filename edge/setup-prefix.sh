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
#   EDGE_NGINX [nginx on PATH] the binary whose version picks the HTTP/2 syntax
#   EDGE_HTTP3 [auto: 1 when that binary was built with --with-http_v3_module]
set -eu
PREFIX=${1:?usage: setup-prefix.sh PREFIX}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$PREFIX/conf/main.d" "$PREFIX/conf/http.d" "$PREFIX/lua" "$PREFIX/logs" \
         "$PREFIX/tmp" "$PREFIX/cache"
cp "$HERE/conf/nginx.conf" "$HERE/conf/front-proxy.conf" "$HERE/conf/origin-proxy.conf" "$PREFIX/conf/"
cp -R "$HERE/lua/." "$PREFIX/lua/"

listen_origin=${EDGE_ORIGIN_LISTEN:-127.0.0.1:8081}
# HTTP/2 on the TLS listener: `listen … ssl http2` up to nginx 1.25.0 (Debian 12 ships 1.22),
# the `http2 on;` directive from 1.25.1 on (where the listen parameter is deprecated).
# HTTP/3 (EDGE_HTTP3=1, or auto: when the binary has --with-http_v3_module, nginx >= 1.25
# or OpenResty >= 1.25.3.1): a QUIC listener on the TLS port (UDP) and an Alt-Svc header.
nginx_bin=${EDGE_NGINX:-$(command -v nginx || command -v openresty || echo /usr/sbin/nginx)}
nginx_ver=$("$nginx_bin" -v 2>&1 | sed -n 's|.*/\([0-9][0-9.]*\).*|\1|p' | head -n 1)
new_h2=0
if [ -n "$nginx_ver" ]; then
  major=${nginx_ver%%.*}; rest=${nginx_ver#*.}; minor=${rest%%.*}; patch=${rest#*.}; patch=${patch%%.*}
  if [ "$major" -gt 1 ] || [ "$minor" -gt 25 ] || { [ "$minor" -eq 25 ] && [ "${patch:-0}" -ge 1 ]; }; then
    new_h2=1
  fi
fi
https_listen=${EDGE_HTTPS_LISTEN:-443}
h3=${EDGE_HTTP3:-auto}
if [ "$h3" = auto ]; then
  if "$nginx_bin" -V 2>&1 | grep -q -- '--with-http_v3_module'; then h3=1; else h3=0; fi
fi
{
  printf 'listen %s;\n' "${EDGE_HTTP_LISTEN:-80}"
  if [ "$new_h2" = 1 ]; then
    printf 'listen %s ssl;\nhttp2 on;\n' "$https_listen"
  else
    printf 'listen %s ssl http2;\n' "$https_listen"
  fi
  if [ "$h3" = 1 ]; then printf 'listen %s quic reuseport;\n' "$https_listen"; fi
} > "$PREFIX/conf/listen.conf"
if [ "$h3" = 1 ]; then
  printf 'add_header Alt-Svc "h3=\\":%s\\"; ma=86400" always;\n' "${https_listen##*:}" > "$PREFIX/conf/alt-svc.conf"
else
  printf '# HTTP/3 is off: this nginx has no QUIC (--with-http_v3_module) or EDGE_HTTP3=0.\n' \
    > "$PREFIX/conf/alt-svc.conf"
fi
printf 'listen %s;\n' "$listen_origin" > "$PREFIX/conf/listen-origin.conf"
# Where this node reaches its own front hop (prewarm fetches): the HTTP listen address, with
# a wildcard or bare port turned into loopback.
self_http=${EDGE_HTTP_LISTEN:-80}
case "$self_http" in
  *:*) ;;
  *) self_http="127.0.0.1:$self_http" ;;
esac
case "$self_http" in
  0.0.0.0:*|\*:*) self_http="127.0.0.1:${self_http##*:}" ;;
  \[::\]:*) self_http="[::1]:${self_http##*:}" ;;
esac
printf '%s\nreturn { self_http = "%s" }\n' '-- Written by setup-prefix.sh.' "$self_http" > "$PREFIX/lua/cirrus/site.lua"
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
