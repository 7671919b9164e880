#!/usr/bin/env python3
"""Distributed loading under mpirun, checked against the reference package.

usage: dist_mpi.py --part engine|load|faults|nccl --sft SFT --probe PROBE
                   --mpiexec MPIEXEC --nccl ON|OFF --work DIR

  engine  the MPI engine's collectives (dist_mpi_probe) on 1..4 ranks; an
          agreement where one rank fails; a late rank: the others time out
          and mpi_abort() ends the whole job (no hang);
  load    a sharded checkpoint holding every dtype, split on dims 0, 1 and an
          inner dim, uneven, experts, replicated, skipped, empty: for worlds
          1..4, `mpirun -np N sft load --out` equals `sft reshard` byte for
          byte, and every rank's tensors equal the slice of the full tensor as
          the reference package `safetensors` reads it (numpy slicing for the
          dtypes numpy holds, a bit-level numpy slice of the raw bytes for
          F8 / F4 / F6, which it cannot); torch.chunk agrees where torch is
          installed; --stats lines; the CLI's usage and plan errors;
  faults  one rank's checkpoint missing or truncated (mpirun's MPMD form gives
          ranks different paths): every rank fails, none writes; a rank whose
          set-up fails; a rank that never enters a collective: dist_timeout
          and an abort, within seconds;
  nccl    the NCCL engine: without a GPU it fails cleanly (dist_engine, no
          hang); with one, a load over it equals `sft reshard`.
Exit 0 pass, 1 fail, 77 skip (numpy or safetensors missing; no GPU for the
GPU half of `nccl`, which still checks the clean failure).
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

try:
    import numpy as np
    from safetensors import safe_open
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)
try:
    import torch
except ImportError:
    torch = None

FAILURES = []
MPI_FLAGS = ["--oversubscribe", "--bind-to", "none"]

# name: (bits, numpy dtype the reference reads it as, or None)
DTYPES = {
    "BOOL": (8, np.bool_), "U8": (8, np.uint8), "I8": (8, np.int8), "I16": (16, np.int16),
    "U16": (16, np.uint16), "F16": (16, np.float16), "BF16": (16, None), "I32": (32, np.int32),
    "U32": (32, np.uint32), "F32": (32, np.float32), "F64": (64, np.float64), "I64": (64, np.int64),
    "U64": (64, np.uint64), "C64": (64, np.complex64), "F8_E5M2": (8, None), "F8_E4M3": (8, None),
    "F8_E8M0": (8, None), "F8_E4M3FNUZ": (8, None), "F8_E5M2FNUZ": (8, None), "F4": (4, None),
    "F6_E2M3": (6, None), "F6_E3M2": (6, None),
}
try:  # the reference reads BF16 through ml_dtypes when it is installed
    import ml_dtypes
    DTYPES["BF16"] = (16, ml_dtypes.bfloat16)
except ImportError:
    pass

TORCH_DTYPES = {np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64,
                np.complex64}

PLAN = {"rules": [
    {"match": "*.col", "split": 0}, {"match": "*.row", "split": 1}, {"match": "*.inner", "split": 1},
    {"match": "experts.{e}.w", "experts": 6}, {"match": "*.skip", "skip": True},
    {"match": "*.rep", "replicate": True}], "default": "replicate"}
EXPERTS = 6


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL", what, flush=True)
    return cond


def run(cmd, timeout=120, env=None):
    t = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        check(False, f"timed out after {timeout} s (a hang): {' '.join(map(str, cmd))}")
        return None, timeout
    return p, time.monotonic() - t


def mpirun(args, n, *cmd, timeout=120, env=None):
    return run([args.mpiexec, "-np", str(n), *MPI_FLAGS, *cmd], timeout=timeout, env=env)


# --- the checkpoint -------------------------------------------------------------------------

def tensors_of_every_kind():
    specs = []
    for name, (bits, _) in DTYPES.items():
        if bits % 8:
            row = 24 if bits == 4 else 48  # parts of whole bytes for worlds 1..4
            specs += [(name + ".col", name, [8, 4]), (name + ".row", name, [4, row]),
                      (name + ".inner", name, [3, 8, 4]), (name + ".rep", name, [8])]
        else:
            specs += [(name + ".col", name, [7, 6]), (name + ".row", name, [6, 10]),
                      (name + ".inner", name, [3, 5, 4]), (name + ".rep", name, [5])]
    specs += [(f"experts.{e}.w", "BF16", [2, 3]) for e in range(EXPERTS)]
    specs += [("x.skip", "F32", [4]), ("empty.col", "F32", [0, 4]), ("empty.row", "F32", [4, 0]),
              ("scalar", "F64", []), ("big.row", "F32", [64, 96]), ("big.rep", "U8", [3000]),
              ("wide.row", "F32", [6, 1100]), ("odd.row", "BF16", [5, 1030])]
    return specs


def nbytes(dtype, shape):
    n = DTYPES[dtype][0]
    for d in shape:
        n *= d
    return n // 8


def random_bytes(rng, dtype, shape):
    b = rng.integers(0, 256, nbytes(dtype, shape), dtype=np.uint8)
    if dtype == "BOOL":
        b &= 1
    return b.tobytes()


def write_file(path, entries):
    """A safetensors file written by hand: entries = [(name, dtype, shape, bytes)]."""
    header, offset = {}, 0
    for name, dtype, shape, data in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for e in entries:
            f.write(e[3])


def write_checkpoint(directory, specs, shards=3, seed=3):
    """Tensors spread over `shards` files (round robin) with an index."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = [f"model-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
    per_file = [[] for _ in range(shards)]
    weight_map = {}
    for i, (name, dtype, shape) in enumerate(specs):
        per_file[i % shards].append((name, dtype, shape, random_bytes(rng, dtype, shape)))
        weight_map[name] = files[i % shards]
    for f, entries in zip(files, per_file):
        write_file(os.path.join(directory, f), entries)
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return weight_map


def raw_tensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        e = header[name]
        f.seek(8 + n + e["data_offsets"][0])
        return e["dtype"], e["shape"], f.read(e["data_offsets"][1] - e["data_offsets"][0])


def reference_array(path, name):
    """The tensor as the reference package reads it: (dtype, shape, numpy array or raw bytes)."""
    dtype, shape, raw = raw_tensor(path, name)
    if DTYPES[dtype][1] is not None:
        with safe_open(path, framework="numpy") as f:
            return dtype, shape, f.get_tensor(name)
    return dtype, shape, raw


def chunk(n, r, w):
    c = -(-n // w)
    return min(r * c, n), min((r + 1) * c, n)


def placement(name):
    for suffix, kind in ((".col", ("split", 0)), (".row", ("split", 1)), (".inner", ("split", 1))):
        if name.endswith(suffix):
            return kind
    if name.startswith("experts."):
        return ("expert", int(name.split(".")[1]))
    if name.endswith(".skip"):
        return ("skip", None)
    return ("replicate", None)


def expected_part(dtype, shape, value, kind, r, w):
    """The bytes rank r of w should hold, or None. `value` is the reference's array, or raw bytes."""
    what, arg = kind
    if what == "skip":
        return None
    if what == "expert":
        lo, hi = r * EXPERTS // w, (r + 1) * EXPERTS // w
        if not (lo <= arg < hi):
            return None
    if what in ("expert", "replicate"):
        return value.tobytes() if isinstance(value, np.ndarray) else value
    d = arg
    s, e = chunk(shape[d], r, w)
    index = (slice(None),) * d + (slice(s, e),)
    if isinstance(value, np.ndarray):  # numpy slicing of the reference's array
        part = np.ascontiguousarray(value[index])
        if torch is not None and value.dtype.type in TORCH_DTYPES and shape[d] > 0:  # torch.chunk's rule too
            chunks = torch.chunk(torch.from_numpy(np.ascontiguousarray(value)), w, dim=d)
            want = chunks[r].contiguous().numpy().tobytes() if r < len(chunks) else b""
            check(want == part.tobytes(), f"torch.chunk disagrees: {dtype} {shape} dim {d} rank {r} of {w}")
        return part.tobytes()
    # F8 / F4 / F6: a numpy slice of the bits (the format packs elements LSB first).
    bits = DTYPES[dtype][0]
    flat = np.unpackbits(np.frombuffer(value, np.uint8), bitorder="little")
    part = flat.reshape(list(shape) + [bits])[index]
    return np.packbits(part.reshape(-1), bitorder="little").tobytes()


def check_rank_files(directory, checkpoint, weight_map, w, label):
    """Every rank file against the reference's slices of the full tensors."""
    for r in range(w):
        path = os.path.join(directory, f"rank-{r:05d}-of-{w:05d}.safetensors")
        if not check(os.path.exists(path), f"{label}: {path} missing"):
            continue
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            held = set(json.loads(f.read(n))) - {"__metadata__"}
        for name in weight_map:
            dtype, shape, value = reference_array(os.path.join(checkpoint, weight_map[name]), name)
            want = expected_part(dtype, shape, value, placement(name), r, w)
            if want is None:
                check(name not in held, f"{label}: rank {r} holds {name}")
                continue
            if not check(name in held, f"{label}: rank {r} lacks {name}"):
                continue
            got_dtype, got_shape, got_value = reference_array(path, name)
            got = got_value.tobytes() if isinstance(got_value, np.ndarray) else got_value
            check(got_dtype == dtype, f"{label}: rank {r} {name} dtype {got_dtype}")
            what, d = placement(name)
            if what == "split":
                s, e = chunk(shape[d], r, w)
                check(got_shape == shape[:d] + [e - s] + shape[d + 1:], f"{label}: rank {r} {name} shape {got_shape}")
            check(got == want, f"{label}: rank {r} {name}: bytes differ from the reference's slice")


def same_files(a, b, w, label):
    for r in range(w):
        n = f"rank-{r:05d}-of-{w:05d}.safetensors"
        pa, pb = os.path.join(a, n), os.path.join(b, n)
        if check(os.path.exists(pa) and os.path.exists(pb), f"{label}: {n} missing"):
            with open(pa, "rb") as x, open(pb, "rb") as y:
                check(x.read() == y.read(), f"{label}: {n} differs from sft reshard's")


def stats_lines(stdout):
    """The --stats objects (flat JSON), wherever they are: mpirun may join two ranks' lines."""
    return [json.loads(text) for text in re.findall(r"\{[^{}]*\}", stdout)]


# --- parts ----------------------------------------------------------------------------------

def part_engine(args):
    for n in (1, 2, 3, 4):
        p, _ = mpirun(args, n, args.probe, "primitives")
        if p is not None:
            check(p.returncode == 0 and p.stdout.count(": ok") == n,
                  f"probe primitives on {n} ranks: exit {p.returncode}\n{p.stdout}{p.stderr}")
    p, _ = mpirun(args, 3, args.probe, "fail", "1")
    if p is not None:
        check(p.returncode == 0 and p.stdout.count(": ok") == 3, f"probe fail 1: {p.stdout}{p.stderr}")
    # Rank 1 sleeps 60 s; the others time out after 1 s and abort the job.
    p, took = mpirun(args, 2, args.probe, "late", "1", "60", timeout=60)
    if p is not None:
        check(p.returncode != 0, "a late rank: the job should fail")
        check("rank 0: dist_timeout" in p.stdout, f"a late rank: rank 0 should report dist_timeout\n{p.stdout}{p.stderr}")
        check(took < 30, f"a late rank: the abort took {took:.1f} s")


def setup(work, name):
    """The checkpoint of every kind of tensor under work/name, and the plan: (path, weight_map, plan path)."""
    ckpt = os.path.join(work, name)
    weight_map = write_checkpoint(ckpt, tensors_of_every_kind())
    plan = os.path.join(work, "plan.json")
    with open(plan, "w") as f:
        json.dump(PLAN, f)
    return ckpt, weight_map, plan


def part_load(args):
    work = args.work
    ckpt, weight_map, plan = setup(work, "every")
    variants = {w: [[]] for w in (1, 2, 3, 4)}
    for w in (3, 4):
        variants[w] += [["--split", "redistribute", "--replicated", "per-world"],
                        ["--split", "direct", "--replicated", "every-rank"],
                        ["--split", "redistribute", "--replicated", "per-node", "--threads", "1"]]
    for w, options in variants.items():
        ref = os.path.join(work, f"reshard-{w}")
        p, _ = run([args.sft, "reshard", ckpt, ref, "--plan", plan, "--world", str(w)])
        if p is None or not check(p.returncode == 0, f"reshard --world {w}: {p.stderr}"):
            continue
        check(p.stdout.count("rank-") == w, f"reshard --world {w} lists its files: {p.stdout}")
        check_rank_files(ref, ckpt, weight_map, w, f"reshard world {w}")
        for i, extra in enumerate(options):
            out = os.path.join(work, f"load-{w}-{i}")
            p, _ = mpirun(args, w, args.sft, "load", "--plan", plan, ckpt, "--out", out, "--stats", *extra)
            label = f"load world {w} {' '.join(extra)}"
            if p is None or not check(p.returncode == 0, f"{label}: exit {p.returncode}: {p.stderr}"):
                continue
            same_files(ref, out, w, label)
            stats = stats_lines(p.stdout)
            check(sorted(s["rank"] for s in stats) == list(range(w)), f"{label}: one --stats line per rank: {p.stdout}")
            for s in stats:
                check(all(k in s for k in ("rank", "bytes_read", "bytes_received", "bytes_sent")), f"{label}: {s}")
                check(s["world"] == w and s["engine"] == "mpi", f"{label}: {s}")
            check(sum(s["bytes_sent"] for s in stats) == sum(s["bytes_received"] for s in stats),
                  f"{label}: bytes sent and received differ")
            if w == 1:
                check(stats and stats[0]["bytes_received"] == 0, f"{label}: one rank receives nothing")
            if "redistribute" in extra:
                check(all(s["redistributed"] > 0 and s["bytes_received"] > 0 for s in stats), f"{label}: {stats}")
    # The local engine: a group of one, the same file; refused under a launcher of N ranks.
    out = os.path.join(work, "local")
    p, _ = run([args.sft, "load", "--engine", "local", "--plan", plan, ckpt, "--out", out])
    if p is not None and check(p.returncode == 0, f"load --engine local: {p.stderr}"):
        same_files(os.path.join(work, "reshard-1"), out, 1, "local engine")
    env = dict(os.environ, OMPI_COMM_WORLD_SIZE="2")
    p, _ = run([args.sft, "load", "--engine", "local", "--plan", plan, ckpt], env=env)
    if p is not None:
        check(p.returncode == 2 and "2 ranks were launched" in p.stderr, f"local engine under 2 ranks: {p.stderr}")

    # Plan and usage errors: specific codes, the plan's offset, exit status.
    bad = os.path.join(work, "bad-plan.json")
    with open(bad, "w") as f:
        f.write('{"rules": [{"match": "*", "spilt": 0}]}')
    for cmd in ([args.sft, "reshard", ckpt, os.path.join(work, "x"), "--plan", bad, "--world", "2"],
                [args.mpiexec, "-np", "2", *MPI_FLAGS, args.sft, "load", "--plan", bad, ckpt]):
        p, _ = run(cmd)
        if p is not None:
            check(p.returncode == 1 and "plan_invalid" in p.stderr and "(offset 26)" in p.stderr and "bad-plan.json" in p.stderr,
                  f"a misspelt key: {p.returncode} {p.stderr}")
    split3 = os.path.join(work, "split3.json")
    with open(split3, "w") as f:
        json.dump({"rules": [{"match": "*.rep", "split": 3}]}, f)
    p, _ = run([args.sft, "reshard", ckpt, os.path.join(work, "y"), "--plan", split3, "--world", "2"])
    if p is not None:
        check(p.returncode == 1 and "plan_split" in p.stderr and "tensor " in p.stderr, f"plan_split: {p.stderr}")
        check(not os.path.exists(os.path.join(work, "y", "rank-00000-of-00002.safetensors")), "plan_split wrote a file")
    p, _ = run([args.sft, "reshard", ckpt, os.path.join(work, "reshard-2"), "--plan", plan, "--world", "2"])
    if p is not None:
        check(p.returncode == 1 and "already holds" in p.stderr, f"reshard into a directory of rank files: {p.stderr}")
    for cmd, why in (([args.sft, "reshard", ckpt, "z", "--plan", plan], "no --world"),
                     ([args.sft, "reshard", ckpt, "z", "--plan", plan, "--world", "0"], "--world 0"),
                     ([args.sft, "load", ckpt], "no --plan"),
                     ([args.sft, "load", "--plan", plan, ckpt, "--split", "sideways"], "a bad --split")):
        p, _ = run(cmd)
        if p is not None:
            check(p.returncode == 2 and "usage:" in p.stderr, f"{why}: exit {p.returncode} {p.stderr}")


def rank_files_in(directory):
    return [n for n in os.listdir(directory) if n.startswith("rank-")] if os.path.isdir(directory) else []


def part_faults(args):
    work = args.work
    good, _, plan = setup(work, "good")
    truncated = os.path.join(work, "truncated")
    shutil.copytree(good, truncated)
    victim = os.path.join(truncated, "model-00002-of-00003.safetensors")
    os.truncate(victim, os.path.getsize(victim) - 5)
    not_a_dir = os.path.join(work, "a-file")
    open(not_a_dir, "w").close()

    def mpmd(first, second, timeout=60):
        return run([args.mpiexec, *MPI_FLAGS, "-np", "1", *first, ":", "-np", "1", *second], timeout=timeout)

    load = [args.sft, "load", "--plan", plan]
    cases = [("a missing checkpoint on rank 1", os.path.join(work, "nowhere"), None, "io_error"),
             ("a truncated shard on rank 1", truncated, None, "incomplete_buffer"),
             ("rank 1 cannot create its output directory", good, not_a_dir, "write_failed")]
    for i, (label, second, second_out, code) in enumerate(cases):
        out = os.path.join(work, f"out-{i}")
        p, took = mpmd(load + [good, "--out", out], load + [second, "--out", second_out or out])
        if p is None:
            continue
        check(p.returncode != 0, f"{label}: the job should fail")
        check("rank 0 of 2" in p.stderr and "dist_peer_failed" in p.stderr and "rank 1 of 2 failed: " + code in p.stderr,
              f"{label}: rank 0 should report rank 1's {code}\n{p.stderr}")
        check(f"rank 1 of 2: " in p.stderr and code in p.stderr, f"{label}: rank 1 reports its own error\n{p.stderr}")
        check(rank_files_in(out) == [], f"{label}: rank files were written: {rank_files_in(out)}")
        check(took < 30, f"{label}: took {took:.1f} s")
    # A rank that never enters a collective: the others time out and abort the job.
    p, took = mpmd(load + [good, "--timeout", "2"], [args.probe, "stall", "120"], timeout=90)
    if p is not None:
        check(p.returncode != 0, "a stalled rank: the job should fail")
        check("dist_timeout" in p.stderr and "aborting every rank" in p.stderr, f"a stalled rank: {p.stderr}")
        check(took < 60, f"a stalled rank: took {took:.1f} s")


def has_gpu():
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def part_nccl(args):
    if args.nccl != "ON":
        print("SKIP: sft was built without the NCCL engine (no nccl.h or CUDA runtime)")
        sys.exit(77)
    work = args.work
    ckpt, _, plan = setup(work, "every")
    out = os.path.join(work, "nccl")
    p, _ = mpirun(args, 1, args.sft, "load", "--engine", "nccl", "--timeout", "60", "--plan", plan, ckpt, "--out", out,
                  timeout=180)
    if p is None:
        return
    if not has_gpu():
        check(p.returncode == 2 and "dist_engine" in p.stderr, f"NCCL without a GPU should fail cleanly: {p.returncode} {p.stderr}")
        check("cannot load NCCL" not in p.stderr, f"libnccl should load on this machine: {p.stderr}")
        print("SKIP: the NCCL engine fails cleanly here; no GPU to run a load over it")
        if not FAILURES:
            sys.exit(77)
        return
    p2, _ = run([args.sft, "reshard", ckpt, os.path.join(work, "ref"), "--plan", plan, "--world", "1"])
    check(p.returncode == 0, f"NCCL load: {p.stderr}")
    if p.returncode == 0 and p2 is not None:
        same_files(os.path.join(work, "ref"), out, 1, "nccl")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", required=True, choices=["engine", "load", "faults", "nccl"])
    ap.add_argument("--sft", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--nccl", default="OFF")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    {"engine": part_engine, "load": part_load, "faults": part_faults, "nccl": part_nccl}[args.part](args)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
