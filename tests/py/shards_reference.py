#!/usr/bin/env python3
"""sft split / merge / convert / diff checked against the Python ecosystem.

usage: shards_reference.py SFT_BINARY WORKDIR

  * split: the shard assignment equals huggingface_hub's
    split_state_dict_into_shards_factory on the same tensors in the same
    order (skipped without huggingface_hub); the index text equals
    json.dumps(index, indent=2, sort_keys=True) + "\\n" (as transformers'
    save_pretrained writes it), non-ASCII names escaped; every shard loads with
    the reference package `safetensors` and holds the original arrays;
  * a checkpoint written the Hugging Face way (save_file per shard, then
    json.dump(index, indent=2) unsorted) validates and merges into one file
    that `safetensors` loads with every array intact;
  * convert: every F32 value of a varied set, converted by the CLI, equals
    numpy / ml_dtypes' astype bit for bit, for each target dtype;
  * diff: the max abs / rel differences printed match numpy's.
Exit 0 pass, 1 fail, 77 when numpy or safetensors is missing.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file, save_file
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)
try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None
try:
    from huggingface_hub.serialization._base import split_state_dict_into_shards_factory
except ImportError:
    split_state_dict_into_shards_factory = None

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL", what)


def run(sft, *args, expect=0):
    p = subprocess.run([sft, *args], capture_output=True, text=True)
    check(p.returncode == expect, f"sft {' '.join(args)}: exit {p.returncode}, expected {expect}: {p.stderr.strip()}")
    return p


def data_order(path):
    """Tensor names of a safetensors file in data-offset order."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return sorted(header, key=lambda k: header[k]["data_offsets"])


def hf_split(names, sizes, max_size):
    kwargs = dict(get_storage_size=lambda t: t, filename_pattern="model{suffix}.safetensors", max_shard_size=max_size)
    try:
        return split_state_dict_into_shards_factory(dict(zip(names, sizes)), **kwargs)
    except TypeError:  # older huggingface_hub: get_tensor_size, optional pattern
        kwargs["get_tensor_size"] = kwargs.pop("get_storage_size")
        return split_state_dict_into_shards_factory(dict(zip(names, sizes)), **kwargs)


def test_split(sft, work):
    rng = np.random.default_rng(7)
    tensors = {}
    for i in range(40):
        n = int(rng.integers(0, 300))
        dt = [np.float32, np.float16, np.int64, np.uint8][i % 4]
        tensors[f"layer.{i}.w"] = (rng.standard_normal(n) * 10).astype(dt)
    tensors["big"] = np.arange(2000, dtype=np.float32)          # larger than a shard on its own
    tensors["na\u00efve.\u65e5\u672c.\U0001F600"] = np.ones(3, dtype=np.float32)  # escaped in the index
    src = os.path.join(work, "src.safetensors")
    save_file(tensors, src, metadata={"format": "pt"})
    for max_size in (1000, 4000, 10**9):
        out = os.path.join(work, f"split-{max_size}")
        run(sft, "split", src, out, "--max-shard-size", str(max_size))
        index_path = os.path.join(out, "model.safetensors.index.json")
        order = data_order(src)
        sizes = [tensors[k].nbytes for k in order]
        if max_size >= sum(sizes):
            check(sorted(os.listdir(out)) == ["model.safetensors"], f"split {max_size}: one file expected")
            got = load_file(os.path.join(out, "model.safetensors"))
        else:
            text = open(index_path, encoding="utf-8").read()
            index = json.loads(text)
            check(text == json.dumps(index, indent=2, sort_keys=True) + "\n",
                  f"split {max_size}: index not formatted as json.dumps(indent=2, sort_keys=True)")
            check("\\u00ef" in text and "\\ud83d\\ude00" in text, "split: non-ASCII names not escaped")
            check(index["metadata"]["total_size"] == sum(sizes), f"split {max_size}: total_size")
            if split_state_dict_into_shards_factory:
                ref = hf_split(order, sizes, max_size)
                check(index["weight_map"] == ref.tensor_to_filename,
                      f"split {max_size}: shard assignment differs from huggingface_hub")
                check(index["metadata"] == ref.metadata, f"split {max_size}: metadata differs from huggingface_hub")
            got = {}
            for shard in sorted(set(index["weight_map"].values())):
                part = load_file(os.path.join(out, shard))
                for k in part:
                    check(index["weight_map"][k] == shard, f"split: {k} found in {shard}")
                got.update(part)
        check(sorted(got) == sorted(tensors), f"split {max_size}: tensor names")
        for k, v in tensors.items():
            check(k in got and got[k].dtype == v.dtype and np.array_equal(got[k], v), f"split {max_size}: {k} differs")
    if not split_state_dict_into_shards_factory:
        print("note: huggingface_hub missing, shard assignment not compared with it")


def test_merge_hf_layout(sft, work):
    rng = np.random.default_rng(11)
    tensors = {f"t{i:02d}": rng.standard_normal(50).astype(np.float32) for i in range(10)}
    d = os.path.join(work, "hf")
    os.makedirs(d)
    names = list(tensors)
    groups = [names[0:4], names[4:7], names[7:]]
    weight_map = {}
    for i, g in enumerate(groups):
        fname = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        save_file({k: tensors[k] for k in g}, os.path.join(d, fname), metadata={"format": "pt"})
        weight_map.update({k: fname for k in g})
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors.values())}, "weight_map": weight_map}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)  # as huggingface_hub writes it: no sorting, no newline
    p = run(sft, "validate", d)
    check(p.stdout == f"{d}: ok\n", f"validate of a huggingface_hub-style checkpoint: {p.stdout!r} {p.stderr!r}")
    merged = os.path.join(work, "merged.safetensors")
    run(sft, "merge", d, merged)
    got = load_file(merged)
    check(sorted(got) == sorted(tensors), "merge: tensor names")
    for k, v in tensors.items():
        check(np.array_equal(got[k], v), f"merge: {k} differs")
    p = run(sft, "diff", d, merged)
    check(p.stdout == "identical: 10 tensors\n", f"diff of checkpoint and merged file: {p.stdout!r}")


def f32_values():
    rng = np.random.default_rng(3)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65520, 65519.99, 448, 464, 465, 57344, 61440,
                         2.0 ** -24, 2.0 ** -25, 1.5 * 2.0 ** -25, 2.0 ** -149, 3e38, 1 + 2.0 ** -8, 1 + 2.0 ** -9],
                        dtype=np.float32)
    bits = rng.integers(0, 1 << 32, size=20000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    small = (rng.standard_normal(20000) * rng.choice([1e-6, 1e-3, 1, 1e3, 1e5], 20000)).astype(np.float32)
    return np.concatenate([specials, -specials, bits, small])


def test_convert(sft, work):
    if ml_dtypes is None:
        print("note: ml_dtypes missing, convert not compared")
        return
    vals = f32_values()
    src = os.path.join(work, "conv.safetensors")
    save_file({"w": vals, "ids": np.arange(4, dtype=np.int32)}, src)
    targets = {"F16": (np.float16, np.uint16), "BF16": (ml_dtypes.bfloat16, np.uint16),
               "F8_E4M3": (ml_dtypes.float8_e4m3fn, np.uint8), "F8_E5M2": (ml_dtypes.float8_e5m2, np.uint8)}
    for name, (t, u) in targets.items():
        out = os.path.join(work, f"conv-{name}.safetensors")
        run(sft, "convert", src, out, "--dtype", name)
        with open(out, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
        check(header["w"]["dtype"] == name and header["ids"]["dtype"] == "I32", f"convert {name}: dtypes")
        b, e = header["w"]["data_offsets"]
        got = np.frombuffer(data[b:e], dtype=u)
        with np.errstate(all="ignore"):
            want = vals.astype(t).view(u)
        bad = np.nonzero(got != want)[0]
        check(len(bad) == 0, f"convert {name}: {len(bad)} values differ from ml_dtypes, first at {bad[:3]}")
        b, e = header["ids"]["data_offsets"]
        check(np.array_equal(np.frombuffer(data[b:e], dtype=np.int32), np.arange(4)), f"convert {name}: ids changed")


def test_diff(sft, work):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1000).astype(np.float32)
    b = a.copy()
    b[::7] += rng.standard_normal(len(b[::7])).astype(np.float32) * 0.01
    pa, pb = os.path.join(work, "da.safetensors"), os.path.join(work, "db.safetensors")
    save_file({"x": a}, pa)
    save_file({"x": b}, pb)
    p = run(sft, "diff", pa, pb, expect=1)
    m = re.search(r"values differ: x: (\d+) of 1000 values differ, max abs diff (\S+), max rel diff (\S+)", p.stdout)
    check(m is not None, f"diff output: {p.stdout!r}")
    if m:
        da, db = a.astype(np.float64), b.astype(np.float64)
        d = np.abs(da - db)
        nz = d > 0
        rel = d[nz] / np.maximum(np.abs(da), np.abs(db))[nz]
        check(int(m.group(1)) == int(nz.sum()), "diff: count of differing values")
        check(float(m.group(2)) == float(f"{d.max():.6g}"), f"diff: max abs {m.group(2)} vs {d.max():.6g}")
        check(float(m.group(3)) == float(f"{rel.max():.6g}"), f"diff: max rel {m.group(3)} vs {rel.max():.6g}")


def test_progress_only_on_a_terminal(sft, work):
    import pty
    src = os.path.join(work, "prog.safetensors")
    save_file({"w": np.zeros(1 << 20, dtype=np.float32)}, src)
    master, slave = pty.openpty()
    p = subprocess.run([sft, "split", src, os.path.join(work, "prog-tty"), "--max-shard-size", "1MB"],
                       stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn = b""
    try:
        while True:
            chunk = os.read(master, 4096)
            if not chunk:
                break
            drawn += chunk
    except OSError:
        pass
    os.close(master)
    check(p.returncode == 0, "split under a terminal failed")
    check(b"split [" in drawn and b"100%" in drawn and drawn.endswith(b"\r\x1b[K"),
          f"no progress bar drawn on a terminal: {drawn[-80:]!r}")
    p = subprocess.run([sft, "split", src, os.path.join(work, "prog-pipe"), "--max-shard-size", "1MB"],
                       capture_output=True)
    check(p.returncode == 0 and p.stderr == b"", f"progress drawn on a pipe: {p.stderr[-80:]!r}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    sft, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    if "split" not in subprocess.run([sft, "--help"], capture_output=True, text=True).stdout:
        print("SKIP: this sft was built without the Writer (no split / merge / convert)")
        return 77
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    for t in (test_split, test_merge_hf_layout, test_convert, test_diff, test_progress_only_on_a_terminal):
        t(sft, work)
    print(f"{'FAILED' if FAILURES else 'passed'}: {len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
