#!/usr/bin/env python3
"""`sft inspect` on files with many tensors: the table stops after 1000 rows
per file with "... and N more tensors", `--all` lists every row, `--json`
stays complete; the same for each shard of a checkpoint.

usage: inspect_many_tensors.py SFT_BINARY WORK_DIR
Exit status 0 when every check passed, 1 otherwise.
"""
import json
import os
import shutil
import subprocess
import sys

from cli_checks import check, finish, safetensors_header

SFT, WORK = sys.argv[1], sys.argv[2]
N = 1500


def write(path, names):
    with open(path, "wb") as f:
        f.write(safetensors_header([(n, "U8", [1], 1) for n in names]) + bytes(len(names)))


def inspect(*args):
    p = subprocess.run([SFT, "inspect", *args], capture_output=True, text=True)
    check(p.returncode == 0, f"inspect {args}: exit 0 ({p.stderr.strip()})")
    return p.stdout


def rows(text, first="t"):
    return [l for l in text.splitlines() if l[:1] in first and l[1:2].isdigit()]


shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
names = [f"t{i:05d}" for i in range(N)]
one = os.path.join(WORK, "many.safetensors")
write(one, names)

text = inspect(one)
check(len(rows(text)) == 1000, f"1000 rows by default (got {len(rows(text))})")
check(rows(text)[-1].startswith("t00999 "), "the first 1000 tensors, in data order")
check(f"... and {N - 1000} more tensors (sft inspect --all lists every one)\n" in text, "the count of the rest")
check(f"total: {N} tensors" in text, "the totals count every tensor")
text = inspect("--all", one)
check(len(rows(text)) == N and "more tensors" not in text, f"--all: {N} rows (got {len(rows(text))})")
doc = json.loads(inspect("--json", one))
check(len(doc["tensors"]) == N, "--json lists every tensor")

# A checkpoint of two such shards: the cap applies per shard.
ckpt = os.path.join(WORK, "ckpt")
os.makedirs(ckpt)
shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
halves = [names, [f"u{i:05d}" for i in range(N)]]
for s, part in zip(shards, halves):
    write(os.path.join(ckpt, s), part)
with open(os.path.join(ckpt, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {"total_size": 2 * N},
               "weight_map": {n: s for s, part in zip(shards, halves) for n in part}}, f)
text = inspect(ckpt)
check(text.count(f"... and {N - 1000} more tensors") == 2, "each shard's table is capped")
text = inspect("--all", ckpt)
check(len(rows(text, "tu")) == 2 * N, "--all lists both shards")
doc = json.loads(inspect("--json", ckpt))
check([len(s["tensors"]) for s in doc["shards"]] == [N, N], "--json: every tensor of every shard")

shutil.rmtree(WORK, ignore_errors=True)
finish()
