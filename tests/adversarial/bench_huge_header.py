#!/usr/bin/env python3
"""Benchmark: hostile headers near the 100 MB limit, sft against the reference.

Not a test (nothing is asserted about time): it writes each workload to a
temporary directory, then opens it with `sft validate` and with the reference
package's `safe_open` in fresh processes, and reports the best wall time of
--repeat runs and the peak resident memory (GNU time's maxrss), side by side.

    python3 tests/adversarial/bench_huge_header.py --sft build/bin/sft [--repeat 3]

Workloads (each header between 99 and 100 MB):
  million_valid   1,000,000 tensors, valid                   (accepted)
  million_gap     the same, the last tensor one byte late    (bad_offsets at the end)
  million_dup     the same, the last name repeating the first (duplicate_key at the end)
  brackets        100 MB of '[' inside an ignored field      (nesting_too_deep)
  long_string     one 100 MB metadata value                  (accepted)
  spaces          '{}' and 100 MB of spaces                  (accepted)
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

N_TENSORS = 1_000_000
LIMIT = 100_000_000


def million(kind):
    parts = []
    for i in range(N_TENSORS):
        name = "layers.%07d.mlp.experts.weight_name_" % i
        b, e = i, i + 1
        if kind == "gap" and i == N_TENSORS - 1:
            b, e = i + 1, i + 2
        if kind == "dup" and i == N_TENSORS - 1:
            name = "layers.%07d.mlp.experts.weight_name_" % 0
        parts.append('"%s":{"dtype":"U8","shape":[1],"data_offsets":[%d,%d]}' % (name, b, e))
    text = ("{" + ",".join(parts) + "}").encode()
    data_len = N_TENSORS + (1 if kind == "gap" else 0)
    return text, data_len


def workloads():
    for kind in ("valid", "gap", "dup"):
        text, n = million(kind)
        yield "million_" + kind, text, n
    inner = LIMIT - 64
    yield "brackets", b'{"a":{"dtype":"U8","shape":[],"data_offsets":[0,1],"x":' + b"[" * inner + b"}}", 1
    yield "long_string", b'{"__metadata__":{"k":"' + b"v" * (LIMIT - 32) + b'"}}', 0
    yield "spaces", b"{}" + b" " * (LIMIT - 2), 0


def measure(cmd, repeat):
    best_t, best_rss, out = None, None, ""
    for _ in range(repeat):
        r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True, text=True)
        line = [x for x in r.stderr.splitlines() if x.startswith("TIME ")][-1].split()
        t, rss = float(line[1]), int(line[2])
        best_t = t if best_t is None else min(best_t, t)
        best_rss = rss if best_rss is None else min(best_rss, rss)
        out = (r.stdout + r.stderr).replace(line[0], "").strip().splitlines()
        out = out[0][:90] if out and not out[0].startswith("TIME") else "accepted"
    return best_t, best_rss, out


REF = r"""
import sys
from safetensors import safe_open
try:
    with safe_open(sys.argv[1], framework="np") as f:
        n = len(list(f.keys()))
    print("accepted", n)
except Exception as e:
    print("rejected:", str(e)[:80])
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sft", required=True, help="path to the sft CLI")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("%-14s %10s | %9s %9s | %9s %9s | %s" % ("workload", "header B", "sft s", "sft MiB", "ref s", "ref MiB",
                                                 "sft verdict"))
    with tempfile.TemporaryDirectory() as tmp:
        for name, text, data_len in workloads():
            assert len(text) <= LIMIT, (name, len(text))
            p = os.path.join(tmp, name + ".safetensors")
            with open(p, "wb") as f:
                f.write(struct.pack("<Q", len(text)) + text + b"\0" * data_len)
            st, srss, verdict = measure([args.sft, "validate", p], args.repeat)
            rt, rrss, _ = measure([sys.executable, "-c", REF, p], args.repeat)
            print("%-14s %10d | %9.3f %9.1f | %9.3f %9.1f | %s" %
                  (name, len(text), st, srss / 1024, rt, rrss / 1024, verdict.replace(p, "FILE")))
            os.remove(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
