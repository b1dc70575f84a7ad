#!/usr/bin/env bash
# Installs everything hivemind-cpp needs on a fresh Debian 12 machine. Idempotent: packages that are
# already present are skipped, so a second run costs a few dpkg queries and no network.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libasio-dev libsodium-dev libssl-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev
  libtorch-dev libopenblas0-pthread zlib1g-dev dataset-fashion-mnist
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format
  nodejs npm
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# nodejs from another repository may provide npm itself; only ask apt for npm when none is on PATH.
if command -v npm >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ "$p" == npm || "$p" == nodejs ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi

if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# js-libp2p interop peer (versions pinned by tests/interop/js/package-lock.json).
if [[ "${HM_SKIP_NPM:-0}" != 1 && -f tests/interop/js/package-lock.json ]]; then
  if [[ ! -d tests/interop/js/node_modules ]] ||
     [[ tests/interop/js/package-lock.json -nt tests/interop/js/node_modules/.stamp ]]; then
    echo "install_deps: installing the js-libp2p interop peer"
    (cd tests/interop/js && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
  fi
fi
