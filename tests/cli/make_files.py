#!/usr/bin/env python3
"""Write the small input files of the CLI golden tests (tests/cli/files/).

Every file is built byte by byte from the definitions below (no library
involved), so the committed files are reproducible: `make_files.py --check`
(a ctest test) fails when the committed files differ from what this script
writes. Regenerate with `python3 tests/cli/make_files.py`.

Valid files are named after what they show; each invalid file is named after
the error code sft reports for it, and most are accepted or rejected by the
reference exactly as sft does (the exceptions are marked "deviation").
"""
import argparse
import json
import os
import struct
import sys

U64_MAX = 2**64 - 1


def entry(dtype, shape, begin, end, **extra):
    e = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    e.update(extra)
    return e


def header_json(obj):
    # Compact, non-ASCII kept raw (as the reference writer does).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pad8(b, fill=b" "):
    return b + fill * ((8 - len(b) % 8) % 8)


def file_bytes(header, data=b"", length=None):
    if isinstance(header, (dict, list)):
        header = pad8(header_json(header))
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def data_of(n):
    return bytes((i * 7 + 1) & 0xFF for i in range(n))


def npy_bytes(descr, shape, data=b""):
    # A version 1.0 .npy: magic, version, dict padded with spaces and a newline to 64 bytes.
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    d = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}"
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + data


def files():
    out = {}

    # ---- .npy inputs of sft create ------------------------------------------
    # Zero elements, so valid .npy files, whose last dimension overflows 64
    # bits once read as packed F4 (x2) or F6 (x4/3) elements.
    out["f4-last-dim-overflows.npy"] = npy_bytes("|u1", [0, 2**63])
    out["f6-last-dim-overflows.npy"] = npy_bytes("|u1", [0, 3 * 2**62])
    out["packed-2x3.npy"] = npy_bytes("|u1", [2, 3], data_of(6))

    # ---- valid --------------------------------------------------------------
    out["ok.safetensors"] = file_bytes(
        {
            "__metadata__": {"format": "pt", "source": "tests/cli/make_files.py"},
            "embed.weight": entry("F32", [2, 3], 0, 24),
            "norm.bias": entry("F16", [4], 24, 32),
            "step": entry("I64", [], 32, 40),
            "mask": entry("BOOL", [3], 40, 43),
        },
        data_of(43),
    )

    names = {
        "": entry("U8", [1], 0, 1),
        'quote"back\\slash': entry("U8", [1], 1, 2),
        "nul\0inside": entry("U8", [1], 2, 3),
        "ctl\t\n\x1f\x7f": entry("U8", [1], 3, 4),
        "na\u00efve-\u65e5\u672c-\U0001F600": entry("U8", [1], 4, 5),
        "empty-at-end": entry("F32", [0, 4], 5, 5),
    }
    out["names.safetensors"] = file_bytes(
        dict({"__metadata__": {"multi\nline": 'value "quoted"\x01'}}, **names), data_of(5)
    )

    # One tensor of every dtype, largest element first so all are aligned.
    dtypes = [
        ("C64", 8, [1]), ("F64", 8, [1]), ("I64", 8, [1]), ("U64", 8, [1]),
        ("F32", 4, [2]), ("I32", 4, [1]), ("U32", 4, [1]),
        ("BF16", 2, [2]), ("F16", 2, [1]), ("I16", 2, [1]), ("U16", 2, [1]),
        ("BOOL", 1, [2]), ("U8", 1, [1]), ("I8", 1, [1]), ("F8_E5M2", 1, [1]), ("F8_E4M3", 1, [1]),
        ("F8_E8M0", 1, [1]), ("F8_E4M3FNUZ", 1, [1]), ("F8_E5M2FNUZ", 1, [1]),
        ("F6_E2M3", None, [4]), ("F6_E3M2", None, [2, 4]), ("F4", None, [2, 3]),
    ]
    hdr, off = {}, 0
    for dt, size, shape in dtypes:
        count = 1
        for d in shape:
            count *= d
        nbytes = count * size if size else count * (6 if dt.startswith("F6") else 4) // 8
        hdr["t_" + dt.lower()] = entry(dt, shape, off, off + nbytes)
        off += nbytes
    out["all-dtypes.safetensors"] = file_bytes(hdr, data_of(off))

    out["empty.safetensors"] = file_bytes({})

    # Valid for the reference and for sft, but breaks every strict rule:
    # leading space, LF in the padding, N not a multiple of 8, an unknown field,
    # an F32 at an odd offset and an empty tensor sharing that offset.
    strict = (
        b' {"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":"xy"},'
        b'"empty":{"dtype":"F32","shape":[0],"data_offsets":[1,1]},'
        b'"w":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}\n'
    )
    assert len(strict) % 8 != 0
    out["strict-bad.safetensors"] = file_bytes(strict, data_of(5))

    # ---- invalid: one file per error code -------------------------------------
    w = {"w": entry("F32", [2], 0, 8)}
    out["header_too_small.safetensors"] = b"\x10\x00\x00\x00\x00"
    out["header_too_small-empty.safetensors"] = b""
    out["header_too_large.safetensors"] = file_bytes(b"{}", length=100_000_001)
    out["header_too_large-u64max.safetensors"] = file_bytes(b"{}", length=U64_MAX)
    out["header_length.safetensors"] = file_bytes(pad8(header_json(w)), length=1000)
    out["invalid_utf8.safetensors"] = file_bytes(pad8(b'{"\xff":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'))
    out["invalid_json.safetensors"] = file_bytes(
        pad8(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],}}'), data_of(8))
    deep = b'{"w":{"dtype":"U8","shape":[0],"data_offsets":[0,0],"x":' + b"[" * 126 + b"]" * 126 + b"}}"
    out["nesting_too_deep.safetensors"] = file_bytes(pad8(deep))
    # deviation: the reference keeps the last "w"; sft refuses the file.
    out["duplicate_key.safetensors"] = file_bytes(
        pad8(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
             b'"w":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}'), data_of(8))
    # Keys compare after unescaping: "\u0064type" is "dtype". The reference
    # rejects this one too (a repeated field of a tensor entry), unlike the
    # repeated tensor name above.
    out["duplicate_key-escaped.safetensors"] = file_bytes(
        pad8(b'{"w":{"dtype":"F32","\\u0064type":"I32","shape":[2],"data_offsets":[0,8]}}'), data_of(8))
    out["bad_schema.safetensors"] = file_bytes(pad8(b'{"w":{"dtype":"F32","shape":[2]}}'), data_of(8))
    out["bad_schema-metadata.safetensors"] = file_bytes({"__metadata__": {"epoch": 3}})
    out["unknown_dtype.safetensors"] = file_bytes({"w": entry("f32", [2], 0, 8)}, data_of(8))
    out["bad_integer.safetensors"] = file_bytes(
        pad8(b'{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), data_of(8))
    out["bad_offsets.safetensors"] = file_bytes(
        {"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, data_of(12))
    out["size_overflow.safetensors"] = file_bytes({"w": entry("U8", [U64_MAX, 2, 0], 0, 0)})
    out["misaligned_subbyte.safetensors"] = file_bytes({"w": entry("F4", [3], 0, 2)}, data_of(2))
    out["size_mismatch.safetensors"] = file_bytes({"w": entry("F32", [3], 0, 8)}, data_of(8))
    out["incomplete_buffer.safetensors"] = file_bytes(w, data_of(9))
    out["incomplete_buffer-truncated.safetensors"] = file_bytes(w, data_of(5))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "files"))
    ap.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    args = ap.parse_args()
    want = files()
    if args.check:
        have = {f for f in os.listdir(args.out) if f.endswith((".safetensors", ".npy"))}
        bad = sorted(have ^ set(want))
        for name, data in sorted(want.items()):
            path = os.path.join(args.out, name)
            if name in have and open(path, "rb").read() != data:
                bad.append(name)
        if bad:
            print("files differ from make_files.py (rerun it): " + ", ".join(bad), file=sys.stderr)
            return 1
        print(f"{len(want)} files match")
        return 0
    os.makedirs(args.out, exist_ok=True)
    for name, data in want.items():
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(want)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
