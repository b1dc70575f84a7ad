#!/usr/bin/env bash
# Open-ended fuzzing with clang's libFuzzer (+ASan/UBSan) of every parser of network bytes.
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target name filter]
source "$(dirname "$0")/common.sh"
seconds="${1:-60}"
filter="${2:-}"
"$HM_ROOT/scripts/install_deps.sh"
cd "$HM_ROOT"
if [[ ! -f build/fuzz/build.ninja ]]; then
  CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHM_LIBFUZZER=ON -DHM_SANITIZE=address,undefined -DHM_BUILD_TESTS=ON \
    -DHM_BUILD_BENCHMARKS=OFF -DHM_BUILD_EXAMPLES=OFF >/dev/null
fi
targets=$(cd tests/fuzz && ls ./*_fuzz.cpp | sed 's|./||; s|\.cpp$||' | grep -- "$filter")
cmake --build build/fuzz -j "$HM_JOBS" $(for t in $targets; do echo --target "$t"; done)
for t in $targets; do
  corpus="build/fuzz/corpus/${t%_fuzz}"
  mkdir -p "$corpus"
  echo "== $t for ${seconds}s"
  "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -max_len=70000 "$corpus" \
    "tests/fuzz/corpus/${t%_fuzz}"
done
