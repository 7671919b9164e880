#!/usr/bin/env bash
# Every test of sft, run as on a fresh machine (docs/security.md, "The test
# command on a fresh machine"):
#   install  scripts/install-deps.sh: the Debian packages that are missing;
#   venv     a new virtual environment with the Python test packages, exact
#            versions, every file checked against its hash
#            (scripts/requirements/test.txt);
#   stage 1  a clang build with ASan + UBSan (no recovery) running the whole
#            suite, then the libFuzzer targets for a short budget each;
#   stage 2  a release build with g++ running the whole suite, CUDA backend
#            compiled (nothing runs it without a GPU), ending with ctest's
#            summary and the totals of both stages.
# Fresh means: the build trees and the venv under $SFT_TEST_DIR are deleted and
# made anew; every cache a test touches (PoCL kernel cache, XDG cache, HOME,
# the GPU tuning cache) lives in a temporary directory made for this run and
# removed at exit; the fuzzers start from the committed corpora only; ccache
# is off. Required:
# the CPU and OpenCL backends and the shared fixtures (../shared/fixtures);
# a test that skips fails the run, except the CUDA tests on a machine without
# an NVIDIA driver (scripts/ctest_report.py).
#
# Environment:
#   SFT_JOBS              parallel jobs (default nproc)
#   SFT_FUZZ_SECONDS      per fuzz target (default 30; 0 skips fuzzing)
#   SFT_SKIP_SANITIZE=1   skip stage 1
#   SFT_REQUIRE_BACKENDS  GPU-layer backends that must open (default cpu,opencl)
#   SFT_REQUIRE_FIXTURES  1 (default): missing shared fixtures fail; 0: they skip
#   SFT_USE_CCACHE=1      keep ccache on (a developer's convenience; CI never)
#   SFT_TEST_DIR          where the build trees and the venv go (default build-test)
#   SFT_WHEELHOUSE        where the pinned wheels are kept between runs (default
#                         ~/.cache/sft-wheels): a download cache, not a test
#                         cache (every file is checked against its hash); point
#                         it at an empty directory for a cold install
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${SFT_JOBS:-$(nproc)}
dir=${SFT_TEST_DIR:-build-test}
case $dir in /*) ;; *) dir=$root/$dir ;; esac

# --- timing of each stage, printed at the end (and on failure) ----------------------
stages=()
stage_start=$SECONDS
run_start=$SECONDS
begin() {
  stage_name=$1
  stage_start=$SECONDS
  echo "=== $1 ==="
}
end() { stages+=("$(printf '%-18s %5d s' "$stage_name" $((SECONDS - stage_start)))"); }

times_printed=0
print_times() {
  echo "=== time per stage ==="
  printf '  %s\n' "${stages[@]}"
  printf '  %-18s %5d s\n' total $((SECONDS - run_start))
  times_printed=1
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sft-test.XXXXXX")
finish() {
  rc=$?
  if ((rc != 0)) && [ -n "${stage_name:-}" ]; then
    stages+=("$(printf '%-18s %5d s  (failed)' "$stage_name" $((SECONDS - stage_start)))")
  fi
  ((times_printed)) || print_times
  rm -rf "$tmp"
  exit "$rc"
}
trap finish EXIT

begin install
bash scripts/install-deps.sh
end

# --- a fresh virtual environment from the pinned, hashed requirements ----------------
begin venv
rm -rf "$dir"
mkdir -p "$dir"
venv=$dir/venv
python3 -m venv "$venv"
# Wheels only: nothing is built from source, so every byte installed is one
# whose hash test.txt lists (pip does not check the hashes of the build
# dependencies of a source build). The wheels are kept in a download cache
# (about 4 GB, torch with its CUDA libraries): pip's own HTTP cache does not
# keep them here, and fetching them takes minutes. It is not a test cache:
# `pip download` checks a kept file against its hash and fetches it again if
# it differs, and the install reads nothing else (--no-index).
wheels=${SFT_WHEELHOUSE:-$HOME/.cache/sft-wheels}
mkdir -p "$wheels"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip_pinned=(--quiet --require-hashes --only-binary :all: --no-deps -r scripts/requirements/test.txt)
"$venv/bin/python" -m pip download -d "$wheels" "${pip_pinned[@]}"
"$venv/bin/python" -m pip install --no-index --find-links "$wheels" "${pip_pinned[@]}"
"$venv/bin/python" -m pip check
end

# --- from here on, nothing the tests touch survives the run --------------------------
if [ "${SFT_USE_CCACHE:-0}" = 1 ] && command -v ccache >/dev/null; then
  CCACHE_DIR=$(ccache --get-config cache_dir)  # before HOME and XDG_CACHE_HOME move
  export CCACHE_DIR
else
  export CCACHE_DISABLE=1
fi
mkdir -p "$tmp/home" "$tmp/xdg-cache" "$tmp/xdg-config" "$tmp/pocl-cache" "$tmp/tune"
export HOME=$tmp/home
export XDG_CACHE_HOME=$tmp/xdg-cache XDG_CONFIG_HOME=$tmp/xdg-config
export POCL_CACHE_DIR=$tmp/pocl-cache
export SFT_TUNE_CACHE=$tmp/tune/tune.json
export SFT_FUZZ_RUN_DIR=$dir/fuzz-run  # kept after the run: a crash's input is there
export PATH=$venv/bin:$PATH  # `python3` in any test is the venv's
export SFT_REQUIRE_BACKENDS=${SFT_REQUIRE_BACKENDS-cpu,opencl}
export SFT_REQUIRE_FIXTURES=${SFT_REQUIRE_FIXTURES-1}
py=(-DPython3_EXECUTABLE="$venv/bin/python" -DSFT_PYTHON="$venv/bin/python")
junits=()

if [ "${SFT_SKIP_SANITIZE:-0}" != 1 ]; then
  begin "stage 1 build"
  cmake -S . -B "$dir/asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${py[@]}" \
        -DSFT_SANITIZE=ON -DSFT_BUILD_FUZZERS=ON -DSFT_WITH_CUDA=OFF >/dev/null
  cmake --build "$dir/asan" -j "$jobs"
  end
  begin "stage 1 tests"
  # A failure that is only LeakSanitizer's tracer crashing at exit (a fault
  # of the sanitizer runtime, not of the test) is rerun, alone, up to twice;
  # any other failure fails the stage (scripts/lsan_tracer_retry.py).
  (export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
   cd "$dir/asan"
   ctest --output-on-failure -j "$jobs" --timeout 600 --output-junit "$dir/asan-junit.xml" ||
     python3 "$root/scripts/lsan_tracer_retry.py" "$dir/asan" "$dir/asan-junit.xml")
  junits+=("$dir/asan-junit.xml")
  end
  if [ "${SFT_FUZZ_SECONDS:-30}" != 0 ]; then
    begin fuzz
    SFT_FUZZ_BUILD_DIR=$dir/asan bash fuzz/run_fuzzers.sh "${SFT_FUZZ_SECONDS:-30}"
    end
  fi
fi

begin "stage 2 build"
cmake -S . -B "$dir/release" -G Ninja -DCMAKE_BUILD_TYPE=Release "${py[@]}" >/dev/null
cmake --build "$dir/release" -j "$jobs"
end
begin "stage 2 tests"
(cd "$dir/release" && ctest --output-on-failure -j "$jobs" --timeout 900 --output-junit "$dir/release-junit.xml")
junits+=("$dir/release-junit.xml")
end

# Skips that the run does not allow fail it; the last line counts both stages.
stage_name=""
print_times
python3 scripts/ctest_report.py "${junits[@]}"
