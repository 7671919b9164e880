#!/usr/bin/env bash
# Install what sft needs on a fresh Debian 12 machine (the `cpp-kernels` kind):
# compilers and libraries from Debian, the reference implementation from PyPI
# for the conformance tests and benchmarks. Idempotent: installs only what is
# missing, so a machine that has everything does no network access.
set -euo pipefail

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in build-essential cmake ninja-build pkg-config git \
         libsimdjson-dev libxxhash-dev libzstd-dev zstd \
         libgtest-dev libgmock-dev libbenchmark-dev \
         clang libclang-rt-14-dev \
         ocl-icd-opencl-dev opencl-headers pocl-opencl-icd \
         python3 python3-pip; do
  have_pkg "$p" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "install-deps: apt-get install ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Python side: the reference implementation and the dtype oracle (tests and benchmarks only).
if ! python3 -c "import safetensors, numpy, ml_dtypes" 2>/dev/null; then
  echo "install-deps: pip install safetensors numpy ml_dtypes"
  # A Debian-managed interpreter refuses plain pip installs (PEP 668); these
  # are test-only packages, so allow it there.
  python3 -m pip install -q --disable-pip-version-check safetensors numpy ml_dtypes 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages safetensors numpy ml_dtypes
fi
