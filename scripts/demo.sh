#!/usr/bin/env bash
# The main job on the built-in example, from a fresh machine: install what is
# missing, build, then write a model, validate it, inspect it, embed and verify
# digests, and load it through the GPU layer on whatever backend is present
# (CUDA, else OpenCL, else the CPU backend), verifying on the device with the
# checksum kernel and running the convert kernel on the uploaded weights.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SFT_JOBS:-$(nproc)}
out=${SFT_DEMO_DIR:-build/demo}

bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs" --target sft_cli >/dev/null
sft=build/bin/sft
mkdir -p "$out"
model=$out/example.safetensors

step() { printf '\n$ %s\n' "$*"; "$@"; }
step "$sft" example "$model"
step "$sft" validate --strict "$model"
step "$sft" inspect "$model"
step "$sft" hash --embed "$model" "$out/example.hashed.safetensors"
step "$sft" verify "$out/example.hashed.safetensors"
step "$sft" gpu info
step "$sft" gpu load --verify --convert F32 "$out/example.hashed.safetensors"
printf '\ndemo: every step succeeded\n'
