#!/usr/bin/env bash
# Load figures for the edge (edge/: nginx + Lua from Redis) beside plain nginx proxy_cache with
# the same cache settings (the anchor), measured with h2load (nghttp2-client) over TLS:
#   HIT  small (2 KB) and 1 MB objects, HTTP/1.1 and h2;
#   MISS small objects (a unique URL per request) through the edge's two hops, and through a
#        shield parent as well (child edge -> parent edge -> origin);
# req/s and p50/p99 from h2load's per-request log, and edge/anchor as a ratio.
#
#   bash bench/edge-h2.sh [SECONDS per run, default 5] [CLIENTS, default 16]
#   BENCH_REPEAT (3): runs per cell, edge and anchor alternating; the median req/s run is shown
#   BENCH_PROTOS ("h1 h2"): which protocols the HIT rows use
#
# Everything listens on 127.0.0.1/127.0.0.2 ports BASE..BASE+40 (BENCH_PORT_BASE, 27100),
# runs as the current user in a temporary directory and is stopped at the end. Needs
# nginx + libnginx-mod-http-lua (test/run.sh's list), redis-server, h2load, openssl.
set -euo pipefail
SECS=${1:-5}
CLIENTS=${2:-16}
BASE=${BENCH_PORT_BASE:-27100}
HERE=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/cirrus-edge-bench.XXXXXX)
chmod 755 "$T"   # nginx workers (nobody when started as root) read the origin files
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

ORIGIN=$((BASE + 1)) REDIS=$((BASE + 2))
E_HTTP=$((BASE + 10)) E_TLS=$((BASE + 11)) E_ADMIN=$((BASE + 12)) E_HOP=$((BASE + 13))
P_HTTP=$((BASE + 20)) P_TLS=$((BASE + 21)) P_ADMIN=$((BASE + 22)) P_HOP=$((BASE + 23))
A_HTTP=$((BASE + 30)) A_TLS=$((BASE + 31))

# Origin: nginx serving two files, any path (so every MISS URL exists).
mkdir -p "$T/origin/logs" "$T/origin/tmp" "$T/www"
head -c 2048 /dev/urandom > "$T/www/small.bin"
head -c 1048576 /dev/urandom > "$T/www/big.bin"
cat > "$T/origin/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $T/origin/nginx.pid; error_log $T/origin/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $T/origin/tmp; proxy_temp_path $T/origin/tmp;
  fastcgi_temp_path $T/origin/tmp; uwsgi_temp_path $T/origin/tmp; scgi_temp_path $T/origin/tmp;
  server {
    listen 127.0.0.1:$ORIGIN; root $T/www; keepalive_requests 100000;
    location ~ big { try_files /big.bin =404; }
    location / { try_files /small.bin =404; }
  }
}
EOF
nginx -p "$T/origin/" -c "$T/origin/nginx.conf" 2>/dev/null & PIDS+=($!)

redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
  --daemonize no >/dev/null & PIDS+=($!)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=bench.test -addext subjectAltName=DNS:bench.test,DNS:shield.test \
  -keyout "$T/bench.key" -out "$T/bench.pem" 2>/dev/null

# The anchor: plain nginx proxy_cache, the edge's cache settings, no Lua.
mkdir -p "$T/anchor/logs" "$T/anchor/tmp" "$T/anchor/cache"
cat > "$T/anchor/nginx.conf" <<EOF
daemon off; worker_processes auto; pid $T/anchor/nginx.pid; error_log $T/anchor/logs/error.log;
events { worker_connections 4096; }
http {
  access_log $T/anchor/logs/access.log;
  client_body_temp_path $T/anchor/tmp; proxy_temp_path $T/anchor/tmp;
  fastcgi_temp_path $T/anchor/tmp; uwsgi_temp_path $T/anchor/tmp; scgi_temp_path $T/anchor/tmp;
  proxy_cache_path $T/anchor/cache levels=1:2 keys_zone=anchor:64m max_size=10g inactive=7d use_temp_path=off;
  upstream origin { server 127.0.0.1:$ORIGIN; keepalive 64; }
  server {
    listen 127.0.0.1:$A_HTTP; listen 127.0.0.1:$A_TLS ssl http2;
    ssl_certificate $T/bench.pem; ssl_certificate_key $T/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:anchor_ssl:10m;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_cache anchor; proxy_cache_key \$host\$uri; proxy_cache_valid 200 1h;
      proxy_cache_lock on; proxy_cache_lock_timeout 10s;
      proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
      proxy_cache_background_update on; proxy_cache_revalidate on;
      add_header X-Cache-Status \$upstream_cache_status always;
    }
  }
}
EOF
nginx -p "$T/anchor/" -c "$T/anchor/nginx.conf" 2>/dev/null & PIDS+=($!)

# Two edges: the one measured (node bench-1) and a shield parent (bench-parent, 127.0.0.2).
start_edge() { # node ip http tls admin hop
  local pfx="$T/edge-$1"
  EDGE_HTTP_LISTEN="$2:$3" EDGE_HTTPS_LISTEN="$2:$4" EDGE_ADMIN_LISTEN="127.0.0.1:$5" \
    EDGE_ORIGIN_LISTEN="127.0.0.1:$6" sh "$HERE/edge/setup-prefix.sh" "$pfx"
  sed -i 's|^access_log .*|access_log logs/access.log;|' "$pfx/conf/nginx.conf"
  [ "$(id -u)" = 0 ] && echo 'user root;' > "$pfx/conf/main.d/user.conf"
  # As the anchor: h2load does not reconnect after the GOAWAY nginx sends at
  # keepalive_requests (default 1000), so a client would go quiet mid-run.
  echo 'keepalive_requests 1000000;' > "$pfx/conf/http.d/bench.conf"
  REDIS_URL="redis://127.0.0.1:$REDIS" CDN_NODE="$1" nginx -p "$pfx/" -c conf/nginx.conf \
    2>/dev/null & PIDS+=($!)
}
sleep 0.5
R() { redis-cli -p "$REDIS" "$@" >/dev/null; }
R SET cdn:dom:bench.test "{\"domain\":\"bench.test\",\"origins\":[{\"address\":\"127.0.0.1\",\"port\":$ORIGIN}],\"cache\":{\"paths\":[\"/*\"],\"ttl\":3600}}"
R SET cdn:dom:shield.test "{\"domain\":\"shield.test\",\"origins\":[{\"address\":\"127.0.0.1\",\"port\":$ORIGIN}],\"cache\":{\"paths\":[\"/*\"],\"ttl\":3600},\"shield\":{\"node\":\"bench-parent\",\"port\":$P_HTTP}}"
R HSET cdn:node:bench-parent id bench-parent ipv4 127.0.0.2 pool shield active 1
for d in bench.test shield.test; do
  redis-cli -p "$REDIS" HSET "cdn:cert:$d" cert "$(cat "$T/bench.pem")" key "$(cat "$T/bench.key")" >/dev/null
done
start_edge bench-1 127.0.0.1 "$E_HTTP" "$E_TLS" "$E_ADMIN" "$E_HOP"
start_edge bench-parent 127.0.0.2 "$P_HTTP" "$P_TLS" "$P_ADMIN" "$P_HOP"
for u in "http://127.0.0.1:$E_ADMIN/healthz" "http://127.0.0.1:$P_ADMIN/healthz" \
         "http://127.0.0.1:$A_HTTP/" "http://127.0.0.1:$ORIGIN/"; do
  for _ in $(seq 100); do curl -sf -o /dev/null "$u" && break; sleep 0.1; done
done

# One h2load run: prints "req/s p50_ms p99_ms non2xx".
load() { # host tls-port proto(h1|h2) path-or-@urifile
  local host=$1 port=$2 proto=$3 what=$4 log="$T/h2load.log" out
  # -N: h2load waits for every request in flight at the end; one never answered (h1 with
  # the server closing after keepalive_requests) would hang the run.
  local args=(-c "$CLIENTS" -m 1 -D "$SECS" --warm-up-time=1 -N 10 --connect-to="127.0.0.1:$port"
              --log-file="$log")
  [ "$proto" = h1 ] && args+=(--h1)
  if [ "${what:0:1}" = @ ]; then
    args+=(-i "${what:1}")
  else
    args+=("https://$host:$port$what")
  fi
  rm -f "$log"
  out=$(timeout $((SECS + 60)) h2load "${args[@]}" 2>&1 || true)
  local rps
  rps=$(printf '%s\n' "$out" | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
  [ -n "${BENCH_DEBUG:-}" ] && printf '%s\n' "$out" | grep -E 'finished|requests:|time for request' >&2
  sort -t$'\t' -k3,3n "$log" | awk -F'\t' -v rps="$rps" '
    $2 == 0 { next }   # still in flight when the run ended
    { n++; d[n] = $3; if ($2 < 200 || $2 > 299) { bad++; st[$2]++ } }
    END { if (!n) { print rps, "-", "-", "-"; exit }
          i50 = int(n * 0.50); if (i50 < 1) i50 = 1; i99 = int(n * 0.99); if (i99 < 1) i99 = 1
          for (k in st) printf "status %s: %d\n", k, st[k] > "/dev/stderr"
          printf "%.0f %.2f %.2f %d\n", rps, d[i50] / 1000, d[i99] / 1000, bad + 0 }'
}

# REPEAT runs of `load`, edge and anchor alternating (the caller interleaves), keep the
# run with the median req/s: on a shared machine one run says little.
median() { sort -n -k1,1 | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
REPEAT=${BENCH_REPEAT:-3}

# Misses: h2load's clients all walk one URI list in the same order, so each of CLIENTS
# h2load processes gets one connection and its own list of URLs nobody else asks for.
load_miss() { # host tls-port run-name
  local host=$1 port=$2 name=$3 k i pids=()
  local per=$((SECS * 4000 + 4000))
  for ((k = 0; k < CLIENTS; k++)); do
    awk -v n="$per" -v u="https://$host:$port/miss/$name/$k/" \
      'BEGIN { for (i = 0; i < n; i++) print u i ".bin" }' > "$T/uris-$k"
    timeout $((SECS + 60)) h2load -c 1 -m 1 -D "$SECS" --warm-up-time=1 -N 10 \
      --connect-to="127.0.0.1:$port" --log-file="$T/miss-$k.log" -i "$T/uris-$k" >/dev/null 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}" || true
  cat "$T"/miss-*.log | sort -t$'\t' -k3,3n | awk -F'\t' -v secs="$SECS" '
    $2 == 0 { next }
    { n++; d[n] = $3; if ($2 < 200 || $2 > 299) bad++ }
    END { if (!n) { print 0, "-", "-", "-"; exit }
          i50 = int(n * 0.50); if (i50 < 1) i50 = 1; i99 = int(n * 0.99); if (i99 < 1) i99 = 1
          printf "%.0f %.2f %.2f %d\n", n / secs, d[i50] / 1000, d[i99] / 1000, bad + 0 }'
  rm -f "$T"/miss-*.log "$T"/uris-*
}

row() { # label edge-result anchor-result
  read -r er ep50 ep99 ebad <<< "$2"
  read -r ar ap50 ap99 abad <<< "$3"
  local ratio
  ratio=$(awk -v e="$er" -v a="$ar" 'BEGIN { if (a > 0) printf "%.2f", e / a; else print "-" }')
  printf '| %-34s | %8s | %6s | %6s | %8s | %6s | %6s | %5s |\n' \
    "$1" "$er" "$ep50" "$ep99" "$ar" "$ap50" "$ap99" "$ratio"
  [ "$ebad$abad" = 00 ] || echo "  (non-2xx answers: edge $ebad, anchor $abad)" >&2
}

echo "edge-h2: ${SECS}s per run after 1s warm-up, median of $REPEAT alternating runs, $CLIENTS connections, 1 stream each, TLS; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(h2load --version 2>&1 | head -n1)"
echo
echo '| run                                | edge r/s | p50 ms | p99 ms | plain r/s | p50 ms | p99 ms | ratio |'
echo '| ---------------------------------- | -------: | -----: | -----: | --------: | -----: | -----: | ----: |'
for proto in ${BENCH_PROTOS:-h1 h2}; do
  for obj in small big; do
    path="/hit/$obj"; [ "$obj" = big ] && path="/hit/big.bin"
    for p in "$E_TLS" "$A_TLS"; do   # fill the cache, then check the object is a HIT
      c() { curl -sk -o /dev/null -D - --connect-to "bench.test:$p:127.0.0.1:$p" "https://bench.test:$p$path"; }
      c >/dev/null
      c | grep -qi '^x-cache-status: HIT' || echo "  (not a HIT on port $p: $path)" >&2
    done
    es=() as=()
    for ((k = 0; k < REPEAT; k++)); do
      es+=("$(load bench.test "$E_TLS" "$proto" "$path")")
      as+=("$(load bench.test "$A_TLS" "$proto" "$path")")
    done
    e=$(printf '%s\n' "${es[@]}" | median)
    a=$(printf '%s\n' "${as[@]}" | median)
    label="HIT $([ "$obj" = big ] && echo '1 MB' || echo '2 KB') $([ "$proto" = h1 ] && echo HTTP/1.1 || echo h2)"
    row "$label" "$e" "$a"
  done
done
es=() as=() ss=()
for ((k = 0; k < REPEAT; k++)); do   # fresh URLs each run: every request is a miss
  es+=("$(load_miss bench.test "$E_TLS" "edge$k")")
  as+=("$(load_miss bench.test "$A_TLS" "anchor$k")")
  ss+=("$(load_miss shield.test "$E_TLS" "shield$k")")
done
a=$(printf '%s\n' "${as[@]}" | median)
row "MISS 2 KB h2 (front + origin hop)" "$(printf '%s\n' "${es[@]}" | median)" "$a"
row "MISS 2 KB h2 via shield parent" "$(printf '%s\n' "${ss[@]}" | median)" "$a"
metrics=$(curl -s "http://127.0.0.1:$E_ADMIN/metrics")
shield_count() {
  printf '%s\n' "$metrics" |
    sed -n "s/^cirrus_edge_shield_requests_total{domain=\"shield.test\",result=\"$1\"} //p"
}
parent=$(shield_count parent) fallback=$(shield_count fallback)
if [ -n "${BENCH_DEBUG:-}" ]; then
  for i in 1 2 3; do
    curl -sk -o /dev/null -D - --connect-to "shield.test:$E_TLS:127.0.0.1:$E_TLS" \
      "https://shield.test:$E_TLS/dbg/$i.bin" | grep -i 'x-cirrus-parent\|x-cache-status\|^HTTP' >&2
  done
  printf '%s\n' "$metrics" | grep 'shield\|requests_total' >&2
fi
[ -n "${BENCH_DEBUG:-}" ] && tail -n 5 "$T/edge-bench-1/logs/error.log" "$T/edge-bench-parent/logs/error.log" >&2
echo
echo "anchor for both MISS rows: the plain nginx MISS (one hop to the origin); shield.test misses answered by the parent: ${parent:-0}, by the origin after the parent failed: ${fallback:-0}"
