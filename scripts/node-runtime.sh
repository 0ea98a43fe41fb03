#!/usr/bin/env bash
# Finds a Node.js Cirrus runs on (major >= 22): the `node` on PATH when it is new enough,
# else Node 24 LTS installed from the npm registry (package node-linux-<arch>@24, the plain
# binary, no install scripts) into the git-ignored .runtime/ of the checkout, once.
#
#   scripts/node-runtime.sh              prints the node binary's path
#   scripts/node-runtime.sh ARGS...      runs that node with ARGS (exec: signals reach it)
#
# .runtime/VERSION holds the exact version installed; delete .runtime/ to install the
# newest 24.x again. Needs only bash and npm (any npm: it runs on whatever node it has).
set -euo pipefail

MIN_MAJOR=22
MAJOR=24
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runtime="$root/.runtime"

# NODE_OPTIONS is cleared for the version checks: a flag it may not hold (e.g. --trace-gc)
# would fail them, and a working runtime would be taken for a missing one and replaced.
major_of() { NODE_OPTIONS= "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

find_node() {
  local sys
  sys="$(command -v node || true)"
  if [ -n "$sys" ] && [ "$(major_of "$sys")" -ge "$MIN_MAJOR" ]; then
    echo "$sys"
    return
  fi
  local arch platform
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) arch="$(uname -m)" ;;
  esac
  platform="$(uname -s | tr '[:upper:]' '[:lower:]')"
  local pkg="node-$platform-$arch"
  local local_node="$runtime/node_modules/$pkg/bin/node"
  if [ -x "$local_node" ] && [ "$(major_of "$local_node")" -eq "$MAJOR" ]; then
    echo "$local_node"
    return
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "node-runtime: Cirrus needs Node.js >= $MIN_MAJOR (found ${sys:-none}), and npm to install it" >&2
    exit 1
  fi
  echo "node-runtime: ${sys:-no node} is older than Node $MIN_MAJOR; installing $pkg@$MAJOR from the npm registry into .runtime/" >&2
  # Installed next to .runtime and moved into place, so an interrupted install is not used.
  local tmp="$runtime.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "$pkg@$MAJOR" >&2
  NODE_OPTIONS= "$tmp/node_modules/$pkg/bin/node" --version >"$tmp/VERSION"
  rm -rf "$runtime"
  mv "$tmp" "$runtime"
  trap - EXIT
  echo "node-runtime: using Node $(cat "$runtime/VERSION") ($local_node)" >&2
  echo "$local_node"
}

node="$(find_node)"
if [ "$#" -eq 0 ]; then
  echo "$node"
else
  exec "$node" "$@"
fi
