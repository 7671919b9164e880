#!/usr/bin/env bash
# Install the Debian packages sft needs on a fresh Debian 12 machine (the
# `cpp-kernels` kind). Idempotent: installs only what is missing, so a machine
# that has everything does no network access. Python packages are not
# installed here: scripts/test.sh puts the pinned, hashed ones
# (scripts/requirements/test.txt) into a fresh virtual environment per run,
# and nothing goes into the system interpreter.
#
# One package a line, with what needs it; add a subsystem's packages the same way.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git   # the build
  libsimdjson-dev libxxhash-dev libzstd-dev zstd     # the library; zstd(1) for the compression tests
  libgtest-dev libgmock-dev libbenchmark-dev         # tests, benchmarks
  clang libclang-rt-14-dev                           # stage 1: ASan/UBSan, libFuzzer
  llvm                                               # llvm-symbolizer: sanitizer reports with names, which the LSan suppressions match
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd  # the OpenCL backend, on the CPU through PoCL
  python3 python3-venv python3-dev                   # the test venv (python3-dev: headers for native builds)
  openmpi-bin libopenmpi-dev                         # distributed loading (mpi4py's wheel loads libmpi at run time)
  nginx-light libcurl4-openssl-dev                   # remote files: the test server, the HTTP client
)

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in "${packages[@]}"; do
  have_pkg "$p" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "install-deps: apt-get install ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
