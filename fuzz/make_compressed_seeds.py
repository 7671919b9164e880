#!/usr/bin/env python3
"""Write the seed corpus of fuzz_compressed (fuzz/corpus/fuzz_compressed/).

Seeds are compressed checkpoints written by `sft compress` from small inputs
(the small real fixtures and a few files written here), plain and byte-plane,
with frames of a few hundred bytes so that every seed has several frames, plus
a few hostile variants (cut short, seek table missing, plain safetensors files
that the target compresses and reads back). Deterministic for a given zstd
version.

    python3 fuzz/make_compressed_seeds.py --sft build/bin/sft [--fixtures DIR]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MAX_INPUT = 20000


def st_file(entries, metadata=None):
    """entries: (name, dtype, shape, bytes per element); data bytes are a counter."""
    hdr, data = {}, b""
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, dt, shape, size in entries:
        n = size
        for d in shape:
            n *= d
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + n]}
        data += bytes((i * 37 + len(name)) & 0xFF for i in range(n))
    text = json.dumps(hdr, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text.encode() + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sft", required=True)
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "shared", "fixtures"))
    args = ap.parse_args()
    out = os.path.join(HERE, "corpus", "fuzz_compressed")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    work = tempfile.mkdtemp()
    inputs = {
        "bf16_odd": st_file([("u8", "U8", [7], 1), ("w", "BF16", [300], 2), ("z", "F16", [0], 2)]),
        "meta": st_file([("a", "F32", [40], 4), ("b", "I16", [3, 50], 2)], {"format": "pt"}),
        "empty": st_file([]),
    }
    real = os.path.join(args.fixtures, "real")
    for name in sorted(os.listdir(real)) if os.path.isdir(real) else []:
        p = os.path.join(real, name)
        if name.endswith(".safetensors") and os.path.getsize(p) <= MAX_INPUT:
            inputs[name[: -len(".safetensors")]] = open(p, "rb").read()
    for name, data in sorted(inputs.items()):
        src = os.path.join(work, name + ".safetensors")
        open(src, "wb").write(data)
        open(os.path.join(out, name + ".plain"), "wb").write(data)  # compressed and read back by the target
        for frame, planes in ((256, False), (1000, True)):
            dst = os.path.join(out, f"{name}.f{frame}{'.planes' if planes else ''}.zst")
            cmd = [args.sft, "compress", "-l", "1", "--frame-size", str(frame), "--threads", "1", src, dst]
            if planes:
                cmd.insert(2, "--byte-planes")
            subprocess.run(cmd, check=True, capture_output=True)
    # Hostile variants of one seed.
    z = open(os.path.join(out, "bf16_odd.f256.zst"), "rb").read()
    open(os.path.join(out, "cut.zst"), "wb").write(z[: len(z) * 2 // 3])
    n = struct.unpack("<I", z[-9:-5])[0]
    open(os.path.join(out, "no_table.zst"), "wb").write(z[: len(z) - (8 + 8 * n + 9)])
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
