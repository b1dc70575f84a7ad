#!/usr/bin/env bash
# The main job: a Decentralized Mixture-of-Experts swarm on this machine. hivemind-local-swarm
# starts a DHT bootstrap node, 4 expert servers and a Fashion-MNIST trainer on 127.0.0.1, shows
# the training progress, kills one server half way to show that training carries on, and ends
# with the test accuracy and a summary (about 1-2 minutes). Extra arguments go to
# hivemind-local-swarm (e.g. --quick, --num_servers 6, --steps 600, --help). Installs what is
# missing and builds first.
source "$(dirname "$0")/common.sh"
HM_SKIP_NPM=1 "$HM_ROOT/scripts/install_deps.sh"
hm_build release hivemind-local-swarm hivemind-dht hivemind-server hm-example-dmoe-fashion-mnist \
  hm-example-two-peers >/dev/null
exec "$HM_ROOT/build/release/tools/hivemind-local-swarm" "$@"
