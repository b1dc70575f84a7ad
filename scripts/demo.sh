#!/usr/bin/env bash
# The main job for now: two peers on loopback find each other, authenticate, ping, identify,
# call an RPC and stream data. Installs what is missing and builds first.
source "$(dirname "$0")/common.sh"
HM_SKIP_NPM=1 "$HM_ROOT/scripts/install_deps.sh"
hm_build release hm-example-two-peers >/dev/null
exec "$HM_ROOT/build/release/examples/hm-example-two-peers" "$@"
