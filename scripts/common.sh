# Shared by the scripts in this folder: paths, build configuration and the build step.
set -euo pipefail
HM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HM_PRESET="${HM_PRESET:-release}"
HM_JOBS="${HM_JOBS:-$(nproc)}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# Cache hits across checkouts and build folders: paths below the repository are hashed relative
# to it, and the working directory (recorded with -g) is not hashed.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$HM_ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

# Configures (once) and builds preset $1 (default $HM_PRESET); extra args are build targets.
hm_build() {
  local preset="${1:-$HM_PRESET}"
  shift || true
  cd "$HM_ROOT"
  if [[ ! -f "build/$preset/build.ninja" ]]; then
    cmake --preset "$preset" >/dev/null
  fi
  local targets=()
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "build/$preset" -j "$HM_JOBS" "${targets[@]}"
}
