#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, builds, runs every test
# (unit, integration, fuzz regression, interop with js-libp2p, multi-process), then repeats the
# fast tests under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [--no-asan] [extra ctest args...]
source "$(dirname "$0")/common.sh"
asan=1
if [[ "${1:-}" == "--no-asan" ]]; then asan=0; shift; fi

"$HM_ROOT/scripts/install_deps.sh"

echo "== build (release preset)"
hm_build release
echo "== tests (release preset)"
ctest --test-dir "$HM_ROOT/build/release" --output-on-failure -j "$HM_JOBS" "$@"

if [[ $asan == 1 ]]; then
  echo "== build (asan preset)"
  hm_build asan
  echo "== unit, integration and fuzz tests under ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$HM_ROOT/build/asan" --output-on-failure -j "$HM_JOBS" \
    -L 'unit|integration|fuzz' "$@"
fi
