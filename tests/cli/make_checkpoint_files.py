#!/usr/bin/env python3
"""Write the inputs of the checkpoint golden tests (tests/cli/files/checkpoints/).

Sharded checkpoints (one directory each: an index and its shards), one per
index rule that sft enforces, plus the inputs of `sft diff` and `sft convert`.
Built byte by byte here (no library involved), so `--check` (a ctest test)
fails when the committed files differ from what this script writes.
Regenerate with `python3 tests/cli/make_checkpoint_files.py`.
"""
import argparse
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "I8": 1,
         "F8_E4M3": 1, "F8_E5M2": 1, "BOOL": 1}


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, data bytes), stored in that order."""
    header, off, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        count = 1
        for d in shape:
            count *= d
        assert len(raw) == count * SIZES[dtype], name
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    return struct.pack("<Q", len(js)) + js + data


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def u16(*v):
    return struct.pack(f"<{len(v)}H", *v)


def index(weight_map, total_size=None, metadata=True):
    obj = {}
    if metadata:
        obj["metadata"] = {} if total_size is None else {"total_size": total_size}
    obj["weight_map"] = weight_map
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


S1, S2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
EMBED = ("embed.weight", "F32", [2, 3], f32(0.5, -1.0, 2.0, 3.25, -0.0, 1e-3))
NORM = ("norm.weight", "F16", [4], u16(0x3C00, 0x4000, 0xBC00, 0x0001))
HEAD = ("lm_head.weight", "BF16", [2, 2], u16(0x3F80, 0x4000, 0xC040, 0x7F80))
STEP = ("step", "I64", [], struct.pack("<q", 7))
SHARD1 = [EMBED, NORM]
SHARD2 = [HEAD, STEP]
GOOD_MAP = {"embed.weight": S1, "norm.weight": S1, "lm_head.weight": S2, "step": S2}
GOOD_TOTAL = 24 + 8 + 8 + 8


def good_shards(meta={"format": "pt"}):
    return {S1: safetensors(SHARD1, meta), S2: safetensors(SHARD2, meta)}


def checkpoints():
    """{directory: {file name: bytes}}"""
    out = {}
    out["good"] = dict(good_shards(), **{"model.safetensors.index.json": index(GOOD_MAP, GOOD_TOTAL)})
    out["single"] = {"model.safetensors": safetensors(SHARD1 + SHARD2, {"format": "pt"})}
    out["total-size-mismatch"] = dict(good_shards(), **{"model.safetensors.index.json": index(GOOD_MAP, 1000)})
    out["no-total-size"] = dict(good_shards(), **{"model.safetensors.index.json": index(GOOD_MAP, None)})
    out["missing-tensor"] = dict(good_shards(), **{
        "model.safetensors.index.json": index(dict(GOOD_MAP, ghost=S1), GOOD_TOTAL)})
    unlisted = {k: v for k, v in GOOD_MAP.items() if k != "step"}
    out["unlisted-tensor"] = dict(good_shards(), **{"model.safetensors.index.json": index(unlisted, GOOD_TOTAL - 8)})
    out["missing-shard"] = {S1: safetensors(SHARD1, {"format": "pt"}),
                            "model.safetensors.index.json": index(GOOD_MAP, GOOD_TOTAL)}
    raw = {
        "bad-json": b'{"weight_map": {"a": "x.safetensors",}}\n',
        "not-object": b'["weight_map"]\n',
        "no-weight-map": b'{"metadata": {"total_size": 0}}\n',
        "weight-map-type": b'{"weight_map": ["a", "b"]}\n',
        "value-type": b'{"weight_map": {"embed.weight": 1}}\n',
        "metadata-type": b'{"metadata": "none", "weight_map": {}}\n',
        "total-size-type": b'{"metadata": {"total_size": "48"}, "weight_map": {}}\n',
        "total-size-negative": b'{"metadata": {"total_size": -1}, "weight_map": {}}\n',
        "duplicate-tensor": ('{"weight_map": {"embed.weight": "%s", "embed.weight": "%s"}}\n' % (S1, S2)).encode(),
        "traversal": b'{"weight_map": {"embed.weight": "../good/model-00001-of-00002.safetensors"}}\n',
        "absolute": b'{"weight_map": {"embed.weight": "/etc/passwd.safetensors"}}\n',
        "not-safetensors": b'{"weight_map": {"embed.weight": "pytorch_model.bin"}}\n',
        "backslash": b'{"weight_map": {"embed.weight": "..\\\\model.safetensors"}}\n',
    }
    for name, text in raw.items():
        out["index-" + name] = dict(good_shards(), **{"model.safetensors.index.json": text})
    return out


def top_files():
    """Single files directly in checkpoints/."""
    out = {}
    # diff: A and B share names; each difference kind appears once.
    a = [
        ("same", "F32", [2], f32(1.0, 2.0)),
        ("values", "F32", [4], f32(1.0, 2.0, 3.0, float("nan"))),
        ("halfs", "F16", [3], u16(0x3C00, 0x4000, 0x7E00)),
        ("bf", "BF16", [2], u16(0x3F80, 0x4000)),
        ("f8", "F8_E4M3", [2], bytes([0x38, 0x40])),
        ("ints", "I32", [3], struct.pack("<3i", 1, 2, 3)),
        ("zeros", "F32", [1], f32(0.0)),
        ("retyped", "F32", [2], f32(1.0, 1.0 / 3.0)),
        ("reshaped", "U8", [2, 2], bytes([1, 2, 3, 4])),
        ("only_a", "U8", [1], b"\x01"),
    ]
    b = [
        ("same", "F32", [2], f32(1.0, 2.0)),
        ("values", "F32", [4], f32(1.0, 2.5, 3.0, float("nan"))),
        ("halfs", "F16", [3], u16(0x3C00, 0x4100, 0x7E00)),
        ("bf", "BF16", [2], u16(0x3F80, 0xC000)),
        ("f8", "F8_E4M3", [2], bytes([0x38, 0x48])),
        ("ints", "I32", [3], struct.pack("<3i", 1, 5, 3)),
        ("zeros", "F32", [1], f32(-0.0)),
        ("retyped", "BF16", [2], u16(0x3F80, 0x3EAB)),
        ("reshaped", "U8", [4], bytes([1, 2, 3, 4])),
        ("only_b", "U8", [1], b"\x02"),
    ]
    out["diff-a.safetensors"] = safetensors(a)
    out["diff-b.safetensors"] = safetensors(b)
    # convert: specials, halfway cases and subnormals for every target, an
    # integer tensor that is left alone, and an F16 tensor.
    special = [0.0, -0.0, 1.0, -2.5, 65504.0, 65520.0, 1e6, float("inf"), float("-inf"), float("nan"),
               448.0, 464.0, 465.0, 57344.0, 61440.0, 2.0 ** -24, 2.0 ** -25, 2.0 ** -149, 1.0 + 2.0 ** -8,
               1.0 + 2.0 ** -9 + 2.0 ** -20, 3.0e-8, 0.1]
    conv = [
        ("w", "F32", [len(special)], f32(*special)),
        ("ids", "I32", [2], struct.pack("<2i", -1, 7)),
        ("h", "F16", [3], u16(0x3555, 0x7BFF, 0x0001)),
    ]
    out["convert-src.safetensors"] = safetensors(conv, {"format": "pt"})
    # split: eight 16-byte tensors in a known order, plus one of 40 bytes.
    split = [("layers.%d.weight" % i, "F32", [4], f32(i, i + 0.5, -i, 0.25)) for i in range(8)]
    split.append(("big", "U8", [40], bytes(range(40))))
    out["split-src.safetensors"] = safetensors(split, {"format": "pt"})
    return out


def all_files():
    files = {}
    for d, content in checkpoints().items():
        for name, data in content.items():
            files[os.path.join(d, name)] = data
    files.update(top_files())
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "files", "checkpoints"))
    ap.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = ap.parse_args()
    want = all_files()
    if args.check:
        have = set()
        for root, _, names in os.walk(args.out):
            for n in names:
                have.add(os.path.relpath(os.path.join(root, n), args.out))
        bad = sorted(have ^ set(want))
        for name, data in sorted(want.items()):
            if name in have and open(os.path.join(args.out, name), "rb").read() != data:
                bad.append(name)
        if bad:
            print("files differ from make_checkpoint_files.py (rerun it): " + ", ".join(bad), file=sys.stderr)
            return 1
        print(f"{len(want)} files match")
        return 0
    for name, data in want.items():
        path = os.path.join(args.out, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    print(f"wrote {len(want)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
