#!/usr/bin/env bash
# scripts/gpu-check.sh — the CUDA backend on a GPU machine, in one command.
#
# A GPU machine starts bare and reaches no package registry, so the build
# happens here and the GPU machine only runs what was built:
#
#   scripts/gpu-check.sh prepare   on the build machine (nvcc, the Debian build
#                                  dependencies): builds sft with CUDA into
#                                  build-gpu-check-tree/ and assembles the kit,
#                                  build-gpu-check/ (the CLI, the GPU test
#                                  binaries, the upload benchmark, the shared
#                                  libraries a machine with only the NVIDIA
#                                  driver lacks, the real fixtures; ~40 MB);
#   scripts/gpu-check.sh [run]     on the GPU machine, from the repository root
#                                  with build-gpu-check/ beside it (the device
#                                  tool: carry ["build-gpu-check"]).
#
# `run` (under 8 minutes on an H200):
#   1. finds the CUDA device (no GPU: says so and exits 3);
#   2. runs every CUDA test (each GPU test binary with --gtest_filter='*/cuda');
#      a failure, or a skip other than "builds no variant at run time" (no
#      NVRTC on the machine), fails the check;
#   3. `sft gpu load --backend cuda --verify --convert BF16` over the fixtures;
#   4. `sft tune --backend cuda --budget $SFT_GPU_CHECK_BUDGET` (default 10 s per key);
#   5. the upload benchmark on a 4 GiB file written on the machine: pageable
#      and pinned cudaMemcpyAsync loops (the pinned one is the link's limit)
#      and sft's upload through the pinned ring;
# then prints one summary block to paste into bench/RESULTS-gpu.md.
# Exit status: 0 all passed, 1 a CUDA check failed, 2 no kit or a broken kit, 3 no GPU.
#
# Logs and the summary go to $OUT when set (the device tool returns it), else
# to gpu-check-logs/.
# SFT_GPU_CHECK_BACKEND=opencl rehearses the whole run on another backend
# (PoCL on the build machine, with a small SFT_GPU_CHECK_MB).
# Environment: SFT_GPU_CHECK_KIT (default build-gpu-check), SFT_GPU_CHECK_BUDGET
# (seconds per tuned key), SFT_GPU_CHECK_MB (upload file size, default 4096),
# JOBS (prepare's build jobs, default 2).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KIT=${SFT_GPU_CHECK_KIT:-$ROOT/build-gpu-check}
TREE=$ROOT/build-gpu-check-tree
BACKEND=${SFT_GPU_CHECK_BACKEND:-cuda}
FIXTURES_AT=/tmp/sft-gpu-check-fixtures  # compiled into the kit's tests as SFT_FIXTURES_DIR
BINARIES=(sft gpu_backend_test gpu_kernels_test gpu_loader_test gpu_tune_test gpu_kernel_cache_test bench_gpu)
TESTS=(gpu_backend_test gpu_kernels_test gpu_loader_test gpu_tune_test gpu_kernel_cache_test)

say() { printf 'gpu-check: %s\n' "$*" >&2; }
die() {
  say "$2"
  exit "$1"
}

# ------------------------------------------------------------------ prepare
prepare() {
  local nvcc
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null) || die 2 "prepare needs nvcc (the CUDA toolkit)"
  local t0=$SECONDS
  say "configuring $TREE (CUDA on, sm_90)"
  mkdir -p "$TREE"
  rm -f "$TREE/CMakeCache.txt"  # every option from this command line, none left from an earlier one
  cmake -S "$ROOT" -B "$TREE" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DSFT_WITH_CUDA=ON -DSFT_WITH_OPENCL=ON -DSFT_BUILD_TESTS=ON -DSFT_BUILD_BENCH=ON -DSFT_BUILD_TOOLS=ON \
    -DSFT_CUDA_ARCHITECTURES=90 -DSFT_FIXTURES_DIR="$FIXTURES_AT" >"$TREE/configure.log" 2>&1 ||
    die 2 "cmake failed: see $TREE/configure.log"
  grep -q "cuda ON" "$TREE/configure.log" || die 2 "the CUDA backend is not enabled (see $TREE/configure.log)"
  local targets=(sft_cli "${TESTS[@]}" bench_gpu)
  ninja -C "$TREE" -j"${JOBS:-2}" "${targets[@]}" || die 2 "the build failed"
  rm -rf "$KIT"
  mkdir -p "$KIT/bin" "$KIT/lib" "$KIT/lib-cxx" "$KIT/fixtures"
  local b
  for b in "${BINARIES[@]}"; do
    local f
    f=$(find "$TREE" -type f -name "$b" -perm -u+x | head -1)
    [ -n "$f" ] || die 2 "no $b in $TREE"
    cp "$f" "$KIT/bin/$b"
    strip --strip-unneeded "$KIT/bin/$b"
  done
  # Shared libraries beyond the C library: carried in lib/ (they need glibc
  # 2.34 at most; libOpenCL is the ICD loader: with NVIDIA's ICD on the
  # machine, OpenCL runs on the GPU too). The C++ runtime (GLIBCXX_3.4.30,
  # GCC 12) is the machine's own when it is recent enough, else the one in
  # lib-cxx/ (which needs glibc 2.36): linking it statically would demand
  # glibc 2.36 everywhere.
  local lib
  for b in "$KIT"/bin/*; do
    ldd "$b" | awk '$3 ~ /^\// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | ld-linux*) ;;
      libgcc_s.so* | libstdc++.so*) cp -L "$lib" "$KIT/lib-cxx/" ;;
      *) cp -L "$lib" "$KIT/lib/" ;;
    esac
  done
  cp -r "$ROOT/../shared/fixtures/real" "$KIT/fixtures/real" 2>/dev/null ||
    cp -r /work/shared/fixtures/real "$KIT/fixtures/real" 2>/dev/null || say "no fixtures found: the fixture tests will skip"
  {
    echo "sft gpu-check kit"
    echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n), $("$nvcc" --version | tail -1), sm_90"
    echo "sizes:"
    du -ab "$KIT/bin" "$KIT/lib" "$KIT/lib-cxx"; du -sb "$KIT/fixtures"
    echo "dependencies:"
    for b in "$KIT"/bin/*; do
      echo "  $(basename "$b"):" $(LD_LIBRARY_PATH="$KIT/lib" ldd "$b" | awk '{print $1}' | grep -v -e vdso -e ld-linux)
    done
    echo "highest GLIBC symbol version: bin/ and lib/ $(objdump -T "$KIT"/bin/* "$KIT"/lib/* | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)," \
      "lib-cxx/ $(objdump -T "$KIT"/lib-cxx/* | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    echo "highest GLIBCXX symbol version: $(objdump -T "$KIT"/bin/* "$KIT"/lib/* | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1)"
  } >"$KIT/MANIFEST"
  local total
  total=$(du -sm "$KIT" | cut -f1)
  say "kit ready: $KIT ($total MiB, $((SECONDS - t0)) s); carry it as [\"build-gpu-check\"] (the device tool carries 64 MiB in all)"
  [ "$total" -lt 60 ] || die 2 "the kit is $total MiB: too large to carry"
  cat "$KIT/MANIFEST"
}

# ------------------------------------------------------------------ run
FAILURES=()
fail() { FAILURES+=("$1"); say "FAIL: $1"; }

# Run one test binary on CUDA; counts into the globals, failures into FAILURES.
PASSED=0 FAILED=0 SKIPPED=0 SKIPPED_NO_NVRTC=0
run_tests() {
  local bin=$1 log=$WORK/$1.log rc
  timeout 300 "$KIT/bin/$bin" --gtest_filter="*/$BACKEND" --gtest_color=no >"$log" 2>&1
  rc=$?
  # Per test: passed, failed, or skipped with the message printed before it.
  local counts
  counts=$(awk '
    /^\[ RUN      \]/ { msg = ""; next }
    /^\[       OK \] .* \([0-9]+ ms\)$/ { ok++; next }
    /^\[  FAILED  \] .* \([0-9]+ ms\)$/ { bad++; print "failed: " $4 > "/dev/stderr"; next }
    /^\[  SKIPPED \] .* \([0-9]+ ms\)$/ {
      if (msg ~ /builds no variant at run time/) nonvrtc++; else { other++; print "skipped: " $4 ": " msg > "/dev/stderr" }
      next }
    { msg = msg " " $0 }
    END { printf "%d %d %d %d\n", ok, bad, other, nonvrtc }' "$log" 2>>"$WORK/problems.log")
  read -r ok bad other nonvrtc <<<"$counts"
  PASSED=$((PASSED + ok)) FAILED=$((FAILED + bad)) SKIPPED=$((SKIPPED + other)) SKIPPED_NO_NVRTC=$((SKIPPED_NO_NVRTC + nonvrtc))
  TEST_LINES+=("  $bin: $ok passed, $bad failed, $other skipped$([ "$nonvrtc" -gt 0 ] && echo ", $nonvrtc without NVRTC")")
  [ "$rc" -eq 0 ] || fail "$bin exited $rc (log: $log)"
  [ "$bad" -eq 0 ] || fail "$bin: $bad $BACKEND test(s) failed"
  [ "$other" -eq 0 ] || fail "$bin: $other $BACKEND test(s) skipped on a machine that has the device"
  [ "$ok" -gt 0 ] || fail "$bin: no $BACKEND test ran"
}

# The value of `key=` (or `key: `) in a benchmark's output.
field() { grep -o "$2[=:] *[0-9.eE+-]*" "$1" | head -1 | sed 's/.*[=:] *//'; }

run() {
  [ -x "$KIT/bin/sft" ] || die 2 "no kit at $KIT: run 'scripts/gpu-check.sh prepare' on the build machine, then carry build-gpu-check"
  export LD_LIBRARY_PATH="$KIT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The machine's C++ runtime if it is recent enough, else the kit's.
  if ! "$KIT/bin/sft" --help >/dev/null 2>&1; then
    say "the machine's C++ runtime does not run the kit; using the kit's (lib-cxx/)"
    export LD_LIBRARY_PATH="$KIT/lib-cxx:$LD_LIBRARY_PATH"
    "$KIT/bin/sft" --help >/dev/null 2>"$KIT.err" || die 2 "the kit does not run here: $(head -2 "$KIT.err")"
  fi
  local b missing=""
  for b in "$KIT"/bin/*; do
    missing+=$(ldd "$b" 2>&1 | grep -e "not found" -e "version .* not found" | sed "s|^|$(basename "$b"): |")
  done
  [ -z "$missing" ] || die 2 "the kit's binaries miss shared libraries here: $missing"

  WORK=$(mktemp -d /tmp/sft-gpu-check.XXXXXX)
  # The logs and the summary outlive the run: in $OUT (the device tool brings
  # that folder back) or in gpu-check-logs/.
  LOGS=${OUT:-$ROOT/gpu-check-logs}
  mkdir -p "$LOGS"
  trap 'cp "$WORK"/*.log "$LOGS"/ 2>/dev/null; rm -rf "$WORK" "$FIXTURES_AT"' EXIT
  # Fresh caches: nothing passes because an earlier run left one warm.
  export XDG_CACHE_HOME=$WORK/xdg POCL_CACHE_DIR=$WORK/pocl SFT_KERNEL_CACHE=$WORK/kernels
  export SFT_TUNE_CACHE=$WORK/tune.json SFT_TEST_TMP=$WORK/tests
  mkdir -p "$XDG_CACHE_HOME" "$POCL_CACHE_DIR" "$SFT_TEST_TMP"
  local t0=$SECONDS

  # 1. The device.
  local info
  info=$("$KIT/bin/sft" gpu info 2>&1)
  if ! grep -q "^$BACKEND: [1-9][0-9]* device" <<<"$info"; then
    # A GPU the driver lists but sft cannot open (a driver older than the
    # kit's CUDA runtime needs, say) is a failure, not an absence.
    if [ "$BACKEND" = cuda ] && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
      nvidia-smi -L >&2
      grep "^$BACKEND" <<<"$info" >&2
      die 1 "FAIL: the driver lists a GPU but sft cannot open it (the kit's CUDA runtime: $(sed -n 3p "$KIT/MANIFEST"))"
    fi
    say "NO GPU: sft finds no $BACKEND device on this machine, so nothing $BACKEND was checked."
    grep "^$BACKEND" <<<"$info" >&2
    exit 3
  fi
  local device
  device=$(grep -m1 "^  $BACKEND device 0" <<<"$info" | sed 's/^  //')
  say "$device"
  rm -rf "$FIXTURES_AT" && mkdir -p "$FIXTURES_AT" && cp -r "$KIT/fixtures/." "$FIXTURES_AT/"

  # 2. Every CUDA test.
  TEST_LINES=()
  for b in "${TESTS[@]}"; do
    say "tests: $b"
    run_tests "$b"
  done

  # 3. The CLI end to end on the fixtures.
  local load=$WORK/load.log
  if timeout 120 "$KIT/bin/sft" gpu load --backend "$BACKEND" --verify --convert BF16 "$FIXTURES_AT/real" >"$load" 2>&1; then
    grep -q "verified" "$load" || fail "sft gpu load: no verification reported (log: $load)"
  else
    fail "sft gpu load --backend $BACKEND --verify --convert BF16 failed: $(tail -2 "$load")"
  fi

  # 4. Tuning.
  local tune=$WORK/tune.log budget=${SFT_GPU_CHECK_BUDGET:-10}
  say "tuning every kernel, $budget s per key"
  timeout $((budget * 12 + 120)) "$KIT/bin/sft" tune --backend "$BACKEND" --budget "$budget" --verbose >"$tune" 2>&1 ||
    fail "sft tune --backend $BACKEND failed: $(tail -2 "$tune")"

  # 5. Upload throughput on a file of SFT_GPU_CHECK_MB MiB written here.
  local bench=$WORK/bench.log mb=${SFT_GPU_CHECK_MB:-4096}
  say "upload benchmark, $mb MiB"
  SFT_BENCH_GPU_MB=$mb SFT_BENCH_DIR=$WORK SFT_BENCH_GPU_BACKENDS=$BACKEND timeout 240 "$KIT/bin/bench_gpu" \
    --benchmark_min_time=1 --benchmark_counters_tabular=false >"$bench" 2>&1 ||
    fail "bench_gpu failed: $(tail -2 "$bench")"
  grep -q "^upload/$BACKEND/staged" "$bench" || fail "bench_gpu measured no $BACKEND upload (log: $bench)"
  local auto_line staged_line
  auto_line=$(grep -m1 "^upload/$BACKEND/auto" "$bench")
  staged_line=$(grep -m1 "^upload/$BACKEND/staged" "$bench")

  # The summary.
  {
    echo "=== sft gpu-check: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -n), kit $(sed -n 2p "$KIT/MANIFEST" | cut -d' ' -f2-) ==="
    echo "device: $device"
    echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$BACKEND tests: $PASSED passed, $FAILED failed, $SKIPPED skipped$([ $SKIPPED_NO_NVRTC -gt 0 ] && echo ", $SKIPPED_NO_NVRTC skipped: no NVRTC here (compiled-in variants only)")"
    printf '%s\n' "${TEST_LINES[@]}"
    echo "sft gpu load --backend $BACKEND --verify --convert BF16 (fixtures):"
    grep -E "GB/s|verified|converted" "$load" | sed 's/^/  /' | head -6
    echo "sft tune --backend $BACKEND --budget $budget:"
    grep -E "^device:|tried," "$tune" | sed 's/^/  /'
    echo "  rejected candidates: $(grep -c '^  rejected' "$tune")"
    echo "upload of a $mb MiB file from the page cache (GB/s):"
    echo "  memcpy (hot / fresh host memory):        $(field "$bench" memcpy_hot_GBps) / $(field "$bench" memcpy_fresh_GBps)"
    echo "  pageable write loop (64 MiB, cudaMemcpyAsync on CUDA): $(field "$bench" "pageable_write_${BACKEND}_GBps")"
    echo "  pinned write loop (the link's limit):    $(field "$bench" "pinned_write_${BACKEND}_GBps")"
    echo "  sft upload, auto:                        $(field <(echo "$auto_line") GBps) end to end, $(field <(echo "$auto_line") pipe_GBps) pipeline"
    echo "  sft upload, pinned ring (4 x 64 MiB):    $(field <(echo "$staged_line") GBps) end to end, $(field <(echo "$staged_line") pipe_GBps) pipeline = $(field <(echo "$staged_line") pipe_vs_pinned_write) x the link"
    echo "wall time: $((SECONDS - t0)) s"
    if [ ${#FAILURES[@]} -eq 0 ]; then
      echo "result: PASS"
    else
      echo "result: FAIL"
      printf '  %s\n' "${FAILURES[@]}"
      [ -s "$WORK/problems.log" ] && sed 's/^/  /' "$WORK/problems.log"
    fi
    echo "==="
  } | tee "$LOGS/gpu-check-summary.txt"
  [ ${#FAILURES[@]} -eq 0 ] || exit 1
}

case "${1:-run}" in
  prepare) prepare ;;
  run) run ;;
  *) die 2 "usage: scripts/gpu-check.sh [prepare|run]" ;;
esac
