#!/usr/bin/env python3
"""One rank of a distributed-loading benchmark (bench/dist_bench.py runs it under mpirun).

usage: dist_rank.py exec -- COMMAND...          run COMMAND (sft load), pass its output
                                                through, then print the child's block
                                                reads and peak RSS
       dist_rank.py read-all CHECKPOINT PLAN    every rank reads every tensor whole with
                                                the reference package and keeps its slice
                                                (what loaders without a plan do)
       dist_rank.py get-slice CHECKPOINT PLAN   every rank reads only its slices with the
                                                reference's safe_open + get_slice

The rank and the world come from Open MPI's environment (OMPI_COMM_WORLD_RANK,
OMPI_COMM_WORLD_SIZE); no MPI library is needed. Each rank prints one JSON line:
{"rank", "world", "method", "seconds" (the load, in-process), "bytes_held",
"inblock_bytes" (blocks read from the device, getrusage), "maxrss_bytes"}.
Slices follow the plan's rules as docs/distributed.md states them (torch.chunk
bounds, experts by floor(r*E/world), first matching rule, `*` and `{e}` globs).
"""
import json
import os
import re
import resource
import subprocess
import sys
import time


def rank_world():
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", "0")), int(os.environ.get("OMPI_COMM_WORLD_SIZE", "1"))


def report(method, seconds, held, usage):
    r, w = rank_world()
    print(json.dumps({"rank": r, "world": w, "method": method, "seconds": seconds, "bytes_held": held,
                      "inblock_bytes": usage.ru_inblock * 512, "maxrss_bytes": usage.ru_maxrss * 1024}), flush=True)


def glob_regex(pattern):
    """`*` any run of characters, `?` one, everything else itself."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


class Plan:
    def __init__(self, path):
        with open(path) as f:
            p = json.load(f)
        self.rules = []
        for rule in p.get("rules", []):
            before, _, after = rule["match"].partition("{e}")
            digits = r"(?<![0-9])([0-9]+)(?![0-9])" if "{e}" in rule["match"] else ""
            self.rules.append((re.compile(glob_regex(before) + digits + glob_regex(after), re.S), rule))
        self.default = p.get("default", "replicate")

    def slices(self, name, shape, r, w):
        """The rank's index tuple for the tensor, or None when it holds nothing."""
        for rx, rule in self.rules:
            m = rx.fullmatch(name)
            if not m:
                continue
            if "split" in rule:
                d = rule["split"]
                n = shape[d]
                c = -(-n // w)
                return (slice(None),) * d + (slice(min(r * c, n), min((r + 1) * c, n)),)
            if "experts" in rule:
                e, E = int(m.group(1)), rule["experts"]
                return () if r * E // w <= e < (r + 1) * E // w else None
            return None if rule.get("skip") else ()
        return None if self.default == "skip" else ()


def checkpoint_files(path):
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
            return [os.path.join(path, f) for f in files]
        return sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".safetensors"))
    return [path]


def load_reference(method, checkpoint, plan_path):
    import numpy as np
    import ml_dtypes  # noqa: F401  (lets numpy, hence the reference, name bfloat16)
    from safetensors import safe_open
    plan = Plan(plan_path)
    r, w = rank_world()
    held, total = {}, 0
    start = time.perf_counter()
    for path in checkpoint_files(checkpoint):
        with safe_open(path, framework="numpy") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                index = plan.slices(name, sl.get_shape(), r, w)
                if index is None:
                    continue
                if method == "read-all":  # the whole tensor, then the slice: vLLM's default path
                    part = np.ascontiguousarray(f.get_tensor(name)[index])
                else:
                    part = np.ascontiguousarray(sl[index])
                held[name] = part
                total += part.nbytes
    seconds = time.perf_counter() - start
    report(method, seconds, total, resource.getrusage(resource.RUSAGE_SELF))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "exec" and sys.argv[2] == "--":
        p = subprocess.run(sys.argv[3:], stdout=subprocess.PIPE, text=True)
        sys.stdout.write(p.stdout)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        r, w = rank_world()
        print(json.dumps({"rank": r, "world": w, "method": "exec", "inblock_bytes": usage.ru_inblock * 512,
                          "maxrss_bytes": usage.ru_maxrss * 1024, "exit": p.returncode}), flush=True)
        return p.returncode
    if len(sys.argv) == 4 and sys.argv[1] in ("read-all", "get-slice"):
        load_reference(sys.argv[1], sys.argv[2], sys.argv[3])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
