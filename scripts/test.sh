#!/usr/bin/env bash
# Every test of sft, from a fresh machine: install what is missing, then
#   1. a clang build with ASan + UBSan (no recovery) running the whole suite,
#      the libFuzzer targets for a short budget each, and their corpora;
#   2. a release build with g++ running the whole suite, CUDA backend compiled
#      (nothing runs it here), ending with ctest's own summary.
# Environment: SFT_JOBS (parallel jobs, default nproc), SFT_FUZZ_SECONDS (per
# fuzz target, default 30; 0 skips fuzzing), SFT_SKIP_SANITIZE=1 to skip stage 1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${SFT_JOBS:-$(nproc)}

bash scripts/install-deps.sh

if [ "${SFT_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "=== stage 1: clang + ASan/UBSan ==="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
        -DSFT_SANITIZE=ON -DSFT_BUILD_FUZZERS=ON -DSFT_WITH_CUDA=OFF >/dev/null
  cmake --build build-asan -j "$jobs"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest --output-on-failure -j "$jobs" --timeout 600)
  if [ -x fuzz/run_fuzzers.sh ] && [ "${SFT_FUZZ_SECONDS:-30}" != 0 ]; then
    SFT_FUZZ_BUILD=build-asan bash fuzz/run_fuzzers.sh "${SFT_FUZZ_SECONDS:-30}"
  fi
fi

echo "=== stage 2: release build ==="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
cd build && ctest --output-on-failure -j "$jobs" --timeout 900
