#!/usr/bin/env bash
# bench/gpu_tune_compare.sh BUILD_DIR [BACKEND] — the autotuner's search
# against an exhaustive run over the same space (bench/RESULTS-gpu.md).
#
# Per kernel (one key each, see bench/gpu_tune_bench.cpp), over the
# `--space compare` sub-space (the whole space on the CPU backend, whose
# compiled-in variants are few):
#   1. exhaustive, no budget, in a process with fresh kernel caches (PoCL's
#      and sft's): its wall time T and its winner;
#   2. search with a budget of T / 4, in another process with fresh caches;
#   3. both winners timed interleaved in one process: the search's winner's
#      speed as a fraction of the exhaustive winner's.
# Prints the bench's key=value lines and one summary line per kernel.
set -euo pipefail
BUILD=${1:?usage: bench/gpu_tune_compare.sh BUILD_DIR [BACKEND]}
BACKEND=${2:-opencl}
BIN=$BUILD/bench/bench_gpu_tune
SEED=${SEED:-1527}
value() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2- | tr -d '"'; }
quoted() { grep -o "$1=\"[^\"]*\"" <<<"$2" | head -1 | cut -d'"' -f2; }
fresh() {
  local d
  d=$(mktemp -d /tmp/sft-tune-compare.XXXXXX)
  echo "POCL_CACHE_DIR=$d/pocl SFT_KERNEL_CACHE=$d/kernels"
}
for k in ${KERNELS:-convert mxfp4 gemv checksum}; do
  ex=$(env $(fresh) "$BIN" tune --backend "$BACKEND" --kernel "$k" --strategy exhaustive --space compare --budget 0 --reps 9)
  echo "$ex"
  t_ex=$(value wall_s "$ex")
  # at least 0.1 s: a budget of 0 would mean none
  budget=$(awk -v t="$t_ex" 'BEGIN { b = t / 4; if (b < 0.1) b = 0.1; printf "%.1f", b }')
  se=$(env $(fresh) "$BIN" tune --backend "$BACKEND" --kernel "$k" --strategy search --space compare --budget "$budget" --seed "$SEED" --reps 9)
  echo "$se"
  best_ex=$(quoted best "$ex")
  best_se=$(quoted best "$se")
  m=$("$BIN" measure --backend "$BACKEND" --kernel "$k" --configs "$best_ex;$best_se" --reps 21)
  echo "$m"
  ms_ex=$(sed -n 1p <<<"$m" | grep -o 'ms=[0-9.]*' | cut -d= -f2)
  ms_se=$(sed -n 2p <<<"$m" | grep -o 'ms=[0-9.]*' | cut -d= -f2)
  awk -v k="$k" -v b="$BACKEND" -v space="$(value space "$ex")" -v tex="$t_ex" -v tse="$(value wall_s "$se")" \
    -v nex="$(value tried "$ex")" -v nse="$(value tried "$se")" -v mex="$ms_ex" -v mse="$ms_se" 'BEGIN {
      printf "SUMMARY kernel=%s backend=%s space=%s exhaustive: %s tried in %.0f s; search: %s tried in %.0f s (%.0f%% of the time); search winner at %.1f%% of the exhaustive winner'"'"'s speed (%.3f vs %.3f ms)\n",
        k, b, space, nex, tex, nse, tse, 100 * tse / tex, 100 * mex / mse, mse, mex }'
done
