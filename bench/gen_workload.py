#!/usr/bin/env python3
"""Workload files for sft's benchmarks, written with the standard library only.

The shapes are the ones the project's performance figures are judged on (see
../shared/tools/README.md): a transformer checkpoint with optional
mixture-of-experts layers, optionally with its data left as a hole, and a
header made of many zero-size tensors whose JSON approaches the format's
100,000,000-byte limit. bench/support/workload.cpp builds the same headers in
C++ for the Google Benchmark suites; keep the two in step.

usage:
  gen_workload.py OUT transformer --layers N [--hidden H] [--experts E] [--dtype BF16] [--sparse]
  gen_workload.py OUT zeros --count N [--header-bytes B]
"""
import argparse
import json
import os
import struct

ELEMENT_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4,
                 "F16": 2, "BF16": 2, "I16": 2, "U16": 2, "U8": 1, "I8": 1, "F8_E4M3": 1}

# Per-entry bytes of the zero-size header apart from the name: the quotes
# around the name, the colon, the entry object and the separating comma.
ZERO_ENTRY = '{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'
ZERO_OVERHEAD = 2 + 1 + len(ZERO_ENTRY) + 1


def intermediate_size(hidden):
    """The MLP width used for a given hidden size (4/3 of it, rounded down to 64)."""
    return hidden * 4 // 3 // 64 * 64 or 64


def transformer_tensors(layers, hidden, experts=0, dtype="BF16"):
    """(name, dtype, shape) of every tensor, in the order they are written."""
    inter = intermediate_size(hidden)
    mlp = (("gate_proj", [inter, hidden]), ("up_proj", [inter, hidden]), ("down_proj", [hidden, inter]))
    out = [("model.embed_tokens.weight", dtype, [1024, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out.append((p + f"self_attn.{n}.weight", dtype, [hidden, hidden]))
        if experts:
            out.append((p + "mlp.gate.weight", dtype, [experts, hidden]))
            for e in range(experts):
                for n, s in mlp:
                    out.append((p + f"mlp.experts.{e}.{n}.weight", dtype, list(s)))
        else:
            for n, s in mlp:
                out.append((p + f"mlp.{n}.weight", dtype, list(s)))
        out.append((p + "input_layernorm.weight", "F32", [hidden]))
        out.append((p + "post_attention_layernorm.weight", "F32", [hidden]))
    out.append(("model.norm.weight", "F32", [hidden]))
    return out


def zero_name_length(count, header_bytes):
    """Length of each name so that `count` zero-size entries fill about header_bytes."""
    per_entry = max(header_bytes - 64, 0) // max(count, 1)
    return max(per_entry - ZERO_OVERHEAD, 12)


def zero_size_tensors(count, header_bytes=99_900_000):
    """`count` F32 tensors of shape [0], all at offsets [0, 0], names padded to fill the header."""
    width = zero_name_length(count, header_bytes)
    out = []
    for i in range(count):
        stem = f"zero.{i:07d}."
        out.append((stem + "w" * (width - len(stem)), "F32", [0]))
    return out


def tensor_bytes(dtype, shape):
    n = ELEMENT_BYTES[dtype]
    for d in shape:
        n *= d
    return n


def header_json(tensors, metadata=None):
    """Compact JSON header, space-padded to a multiple of 8, and the data size."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    for name, dtype, shape in tensors:
        n = tensor_bytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return h, off


def write_file(path, tensors, metadata=None, sparse=False):
    """Write the file; sparse leaves the data as a hole. Returns a summary dict."""
    h, data = header_json(tensors, metadata)
    block = bytes(range(256)) * 16384  # 4 MiB of a cheap, non-constant pattern
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        if sparse:
            f.truncate(8 + len(h) + data)
        else:
            left = data
            while left:
                k = min(left, len(block))
                f.write(block[:k])
                left -= k
    return {"path": os.fspath(path), "tensors": len(tensors), "header_bytes": len(h),
            "data_bytes": data, "file_bytes": 8 + len(h) + data, "sparse": sparse}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    sub = ap.add_subparsers(dest="kind", required=True)
    t = sub.add_parser("transformer")
    t.add_argument("--layers", type=int, required=True)
    t.add_argument("--hidden", type=int, default=256)
    t.add_argument("--experts", type=int, default=0)
    t.add_argument("--dtype", default="BF16", choices=sorted(ELEMENT_BYTES))
    t.add_argument("--sparse", action="store_true", help="leave the data as a hole instead of writing it")
    z = sub.add_parser("zeros")
    z.add_argument("--count", type=int, required=True)
    z.add_argument("--header-bytes", type=int, default=99_900_000)
    a = ap.parse_args()
    if a.kind == "transformer":
        info = write_file(a.out, transformer_tensors(a.layers, a.hidden, a.experts, a.dtype),
                          {"format": "pt"}, a.sparse)
    else:
        info = write_file(a.out, zero_size_tensors(a.count, a.header_bytes), {"format": "pt"})
    print(json.dumps(info))


if __name__ == "__main__":
    main()
