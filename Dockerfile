# syntax=docker/dockerfile:1
# Cirrus GSLB: authoritative DNS on 53/udp + 53/tcp, admin API on 8080.
#
#   docker build -t cirrus-gslb .
#   docker run -p 53:53/udp -p 53:53/tcp -p 127.0.0.1:8080:8080 cirrus-gslb
#   docker run --rm -e REDIS_URL=redis://… cirrus-gslb token create   # any other cirrus command
#
# Without REDIS_URL the embedded store persists to /app/data (mount a volume there to keep it)
# and seeds itself from zones/ when empty; SEED_DIR= (empty) disables the seed.

# ---- build: compile TypeScript, then drop the dev dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script would compile before src/ is here; the package's
# `install` script builds the optional batched-UDP addon (native/udp-batch), which needs a
# compiler this slim image lacks, so the image answers UDP with node:dgram; the only other
# install script in the tree is esbuild's (a dev dependency of tsx), which tsc does not need.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# ---- runtime ----
FROM node:24-bookworm-slim

# Port 53 as the non-root `node` user: the node binary gets CAP_NET_BIND_SERVICE as a file
# capability, so the process binds 53 itself. Chosen over "listen on 5353 and map 53→5353"
# because then the same image works unchanged with host networking (`network_mode: host`,
# the usual way to run a busy UDP server without Docker's NAT) and the port in DNS_LISTEN is
# the port clients use. Since Node 16 a binary with only this capability still honours
# NODE_OPTIONS and friends. It needs NET_BIND_SERVICE in the container's capability set
# (Docker's default) and no `no-new-privileges`; libcap2-bin is removed once used.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/node)" \
 && getcap "$(readlink -f /usr/local/bin/node)" | grep -q cap_net_bind_service \
 && apt-get purge -y --auto-remove libcap2-bin \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Code stays owned by root (read-only to the server); only data/ is writable.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY zones ./zones
RUN mkdir -p /app/data && chown node:node /app/data

ENV NODE_ENV=production \
    DNS_LISTEN=0.0.0.0:53 \
    API_LISTEN=0.0.0.0:8080

USER node
EXPOSE 53/udp 53/tcp 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# A young generation of 4 MB semi-spaces (README, Running in production: Memory and latency).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/src/cli.js"]
CMD ["serve"]
