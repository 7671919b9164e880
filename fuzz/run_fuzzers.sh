#!/usr/bin/env bash
# fuzz/run_fuzzers.sh BUDGET_SECONDS [TARGET...]
#
# Builds the libFuzzer targets with clang under ASan + UBSan (no recovery) and
# runs each one for BUDGET_SECONDS with its dictionary, its seed corpus, the
# minimised corpus of earlier campaigns (fuzz/corpus-min), its saved
# regressions and (for the parser targets) the adversarial corpus. New
# inputs go to fuzz/corpus-run/<target>/ (ignored by git); crashes, leaks,
# timeouts and out-of-memory inputs go to fuzz/corpus-run/artifacts/<target>/.
# Exit status 1 if any target found one: copy the input into
# fuzz/regressions/<target>/, fix the bug, and it is replayed by ctest forever.
# To keep what a long run found:
#   build-fuzz/fuzz/T -merge=1 fuzz/corpus-min/T fuzz/corpus-run/T
# adds only the inputs that reach coverage the committed ones do not.
#
# Environment:
#   SFT_FUZZ_BUILD_DIR  build directory (default build-fuzz; SFT_FUZZ_BUILD is
#                       an alias); an existing clang build (e.g. CI's sanitizer
#                       build) is reused as is
#   SFT_FUZZ_JOBS       parallel build jobs (default 2)
#   SFT_FUZZ_RUN_DIR    where new inputs and artifacts go (default fuzz/corpus-run;
#                       scripts/test.sh gives each run an empty one, so that no
#                       corpus grown by an earlier run changes what CI fuzzes)
#   SFT_FUZZ_MAX_LEN    libFuzzer -max_len (default 16384)
#   SFT_FUZZ_FLAGS      extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#
# Requires clang and its runtimes (Debian: clang libclang-rt-14-dev), cmake, ninja.
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUDGET_SECONDS [TARGET...]" >&2
  exit 2
fi
budget=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd)
build=${SFT_FUZZ_BUILD_DIR:-${SFT_FUZZ_BUILD:-$root/build-fuzz}}
jobs=${SFT_FUZZ_JOBS:-2}
max_len=${SFT_FUZZ_MAX_LEN:-16384}
run_dir=${SFT_FUZZ_RUN_DIR:-$root/fuzz/corpus-run}

if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSFT_BUILD_FUZZERS=ON -DSFT_SANITIZE=ON \
    -DSFT_BUILD_TESTS=OFF -DSFT_BUILD_TOOLS=OFF >/dev/null
fi
if ! grep -q '^CMAKE_CXX_COMPILER_ID:.*Clang\|^CMAKE_CXX_COMPILER:.*clang' "$build/CMakeCache.txt"; then
  echo "$build is not a clang build: libFuzzer needs clang" >&2
  exit 2
fi

# Every fuzz target this checkout defines (some exist only when their
# subsystem's header does), or the ones named on the command line.
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  known=$(ninja -C "$build" -t targets all)
  for src in "$root"/fuzz/fuzz_*.cpp; do
    t=$(basename "$src" .cpp)
    if grep -q "^$t:" <<<"$known"; then targets+=("$t"); fi
  done
fi
ninja -C "$build" -j "$jobs" "${targets[@]}" >/dev/null

summary=$build/fuzz-summary.txt
printf '%-24s %12s %8s %8s %8s %s\n' target execs cov ft corpus result | tee "$summary"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$run_dir/$t" "$run_dir/artifacts/$t"
  dirs=("$root/fuzz/corpus/$t")
  [[ -d $root/fuzz/corpus-min/$t ]] && dirs+=("$root/fuzz/corpus-min/$t")
  [[ -d $root/fuzz/regressions/$t ]] && dirs+=("$root/fuzz/regressions/$t")
  case $t in
    fuzz_header | fuzz_file | fuzz_differential) dirs+=("$root/tests/adversarial/files") ;;
  esac
  case $t in
    fuzz_npy) dict=(-dict="$root/fuzz/npy.dict") ;;
    fuzz_writer_roundtrip | fuzz_compressed) dict=() ;;  # FuzzedDataProvider input / zstd frames
    *) dict=(-dict="$root/fuzz/safetensors.dict") ;;
  esac
  log=$run_dir/$t.log
  set +e
  # shellcheck disable=SC2086  # SFT_FUZZ_FLAGS is a list of flags
  "$build/fuzz/$t" -max_total_time="$budget" "${dict[@]}" \
    -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 -artifact_prefix="$run_dir/artifacts/$t/" ${SFT_FUZZ_FLAGS:-} \
    "$run_dir/$t" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -aE '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED).*cov:' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corpus=$(find "$run_dir/$t" -type f | wc -l)
  if [[ $rc -ne 0 ]]; then
    result="FAILED (rc $rc, see $log and $run_dir/artifacts/$t/)"
    failed=1
  else
    result=ok
  fi
  printf '%-24s %12s %8s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus" "$result" | tee -a "$summary"
done
exit $failed
