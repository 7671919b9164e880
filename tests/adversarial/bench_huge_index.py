#!/usr/bin/env python3
"""Benchmark: a checkpoint whose index is near the 100 MB limit.

Not a test (nothing is asserted): it writes a checkpoint of two shards whose
model.safetensors.index.json (about 95 MB, transformers' indent=2 layout)
maps 1,200,000 tensors, then runs `sft validate DIR`, `sft inspect DIR`,
`sft inspect --all DIR` and `sft inspect --json DIR` in fresh processes and
reports the best wall time of --repeat runs, the peak resident memory (GNU
time's maxrss) and the lines printed.

    python3 tests/adversarial/bench_huge_index.py --sft build/bin/sft [--repeat 3]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

N = 1_200_000
SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


def write_checkpoint(d):
    names = [f"model.layers.{i // 1000}.mlp.experts.{i % 1000}.w1" for i in range(N)]
    weight_map = {}
    for s, part in enumerate((names[: N // 2], names[N // 2:])):
        header = {n: {"dtype": "U8", "shape": [1], "data_offsets": [k, k + 1]} for k, n in enumerate(part)}
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(d, SHARDS[s]), "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + bytes(len(part)))
        weight_map.update((n, SHARDS[s]) for n in part)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": N}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
        f.write("\n")


def measure(cmd, repeat):
    best, rss, lines = None, 0, 0
    for _ in range(repeat):
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True)
        wall, kib = p.stderr.decode().strip().splitlines()[-1].split()
        best = float(wall) if best is None else min(best, float(wall))
        rss = max(rss, int(kib))
        lines = p.stdout.count(b"\n")
    return best, rss, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sft", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sft-huge-index-") as d:
        write_checkpoint(d)
        size = os.path.getsize(os.path.join(d, "model.safetensors.index.json"))
        print(f"index: {size:,} bytes, {N:,} tensors in {len(SHARDS)} shards")
        print(f"{'command':<22} {'best s':>8} {'peak MiB':>9} {'lines':>10}")
        for argv in (["validate"], ["inspect"], ["inspect", "--all"], ["inspect", "--json"]):
            wall, kib, lines = measure([args.sft, *argv, d], args.repeat)
            print(f"{' '.join(argv):<22} {wall:8.2f} {kib / 1024:9.0f} {lines:10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
