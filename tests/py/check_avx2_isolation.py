#!/usr/bin/env python3
"""Check an object file for AVX code where only baseline code may be.

In the object compiled from tests/support/xxh3_avx2_probe.cpp (the AVX2
XXH3 kernel's translation unit plus baseline code after it):
  - no function with external linkage (nm types T, W, V, u, i) may hold an
    AVX-encoded instruction (a VEX mnemonic, 'v...', or a %ymm / %zmm
    operand): the linker may choose such a function for the whole program,
    and a CPU without AVX2 would die of SIGILL;
  - some function with internal linkage must hold AVX2 code (%ymm): the
    kernel really is compiled for AVX2 (otherwise the check proves nothing).

usage: check_avx2_isolation.py --objdump OBJDUMP --nm NM OBJECT...
Exit 0 when both hold, 1 otherwise.
"""
import argparse
import re
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--objdump", required=True)
ap.add_argument("--nm", required=True)
ap.add_argument("objects", nargs="+")
args = ap.parse_args()

EXTERNAL = set("TWVui")
failures = []
saw_avx2_kernel = False
for obj in args.objects:
    binding = {}
    for line in subprocess.run([args.nm, "--defined-only", obj], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) == 3:
            binding[parts[2]] = parts[1]
    dump = subprocess.run([args.objdump, "-d", "--no-show-raw-insn", obj], capture_output=True, text=True, check=True).stdout
    current, avx = None, {}
    for line in dump.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if m:
            current = m.group(1)
            avx.setdefault(current, [])
            continue
        if current is None or "\t" not in line:
            continue
        insn = line.split("\t", 1)[1].strip()
        mnemonic = insn.split()[0] if insn else ""
        if mnemonic.startswith("v") or "%ymm" in insn or "%zmm" in insn:
            avx[current].append(insn)
    for fn, insns in avx.items():
        kind = binding.get(fn, "?")
        if kind in EXTERNAL and insns:
            failures.append(f"{obj}: {fn} ({kind}, external linkage) holds AVX code: {insns[0]}")
        if kind not in EXTERNAL and any("%ymm" in i for i in insns):
            saw_avx2_kernel = True
    print(f"{obj}: {len(avx)} functions, {sum(1 for f in avx if binding.get(f) in EXTERNAL)} with external linkage")

if not saw_avx2_kernel:
    failures.append("no internal function holds AVX2 (%ymm) code: the kernel is not compiled for AVX2")
for f in failures:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
