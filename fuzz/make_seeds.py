#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/corpus/<target>/).

fuzz_npy gets .npy files written by NumPy (and a few hostile ones);
fuzz_writer_roundtrip gets pseudo-random bytes (its input is decoded by
FuzzedDataProvider, so any bytes are a valid seed); fuzz_index and fuzz_digest
get index files and digest values. (fuzz_compressed has its own seed script,
make_compressed_seeds.py.)

Seeds are small, valid or nearly valid safetensors files in the style of the
unit tests: one tensor of every dtype, scalars, zero-size tensors, metadata,
escaped and unicode names, whitespace around the object, unknown fields, and
the small real files from ../shared/fixtures/real (copied, never modified).
Run it again after changing it; the output is deterministic.

    python3 fuzz/make_seeds.py [--fixtures DIR]
"""
import argparse
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
          "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
          "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}
TARGETS = ("fuzz_header", "fuzz_file", "fuzz_structured", "fuzz_differential")
MAX_FIXTURE = 20000  # bytes; larger real files make slow seeds


def file_bytes(header_text, data=b""):
    raw = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(raw)) + raw + data


def tensors(entries, metadata=None, pad=True):
    """entries: list of (name, dtype, shape); offsets laid out in order."""
    hdr, off = {}, 0
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for name, dt, shape in entries:
        n = 1
        for d in shape:
            n *= d
        size = n * DTYPES[dt] // 8
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + size]}
        off += size
    text = json.dumps(hdr, separators=(",", ":"))
    if pad:
        text += " " * (-len(text) % 8)
    return file_bytes(text, bytes((i * 7 + 1) & 0xFF for i in range(off)))


def seeds():
    s = {}
    s["empty_object"] = file_bytes("{}")
    s["empty_padded"] = file_bytes("{}      ")
    s["ws_around"] = file_bytes(' \t\r\n{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}} \n', b"xy")
    for dt, bits in DTYPES.items():
        s["one_" + dt] = tensors([("t", dt, [2, 4])])
    s["scalar"] = tensors([("s", "F32", [])])
    s["zero_size"] = tensors([("z", "F32", [0, 3]), ("w", "F16", [2])])
    s["zero_wrap_accepted"] = file_bytes('{"z":{"dtype":"U8","shape":[0,18446744073709551615,2],"data_offsets":[0,0]}}')
    s["metadata"] = tensors([("w", "BF16", [3, 3])], metadata={"format": "pt", "k": "v"})
    s["metadata_null"] = file_bytes('{"__metadata__":null,"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}', b"\x01")
    s["escaped_names"] = file_bytes(
        '{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
        '"\\ud83d\\ude00\\n":{"dtype":"U8","shape":[1],"data_offsets":[1,2]},'
        '"":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}', b"abc")
    s["escaped_keys"] = file_bytes('{"t":{"\\u0064type":"F32","shap\\u0065":[1],"data_offsets":[0,4]}}', b"\0\0\x80\x3f")
    s["unicode_name"] = tensors([("größe.权重", "F32", [2])])
    s["unknown_fields"] = file_bytes('{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[{"y":null}],"z":1.5e3}}', b"a")
    s["subbyte"] = tensors([("a", "F4", [3, 2]), ("b", "F6_E2M3", [4]), ("c", "F6_E3M2", [8])])
    s["many_dtypes"] = tensors([(dt.lower(), dt, [2, 2]) for dt in DTYPES])
    s["rank5"] = tensors([("r", "I16", [1, 2, 1, 3, 2])])
    s["unordered_entries"] = file_bytes(
        '{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}',
        b"abcd")
    s["nested_unknown"] = file_bytes('{"__metadata__":{"a":"b"},"t":{"dtype":"U8","shape":[],"data_offsets":[0,1],'
                                     '"u":' + "[" * 20 + "]" * 20 + "}}", b"z")
    # A few rejected ones, so that error paths start covered.
    s["bad_dup_key"] = file_bytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                  '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"a")
    s["bad_gap"] = file_bytes('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"ab")
    s["bad_truncated"] = tensors([("t", "F32", [4])])[:-3]
    s["bad_trailing"] = tensors([("t", "F32", [1])]) + b"PK\x05\x06" + bytes(18)
    s["bad_length"] = struct.pack("<Q", 2 ** 64 - 1) + b"{}"
    return s


def npy_seeds():
    """.npy files as NumPy writes them, and a few it would refuse or misread."""
    try:
        import io
        import numpy as np
        from numpy.lib import format as npf
    except ImportError:
        print("numpy missing: no .npy seeds written")
        return {}
    out = {}

    def save(name, arr, version=None, fortran=False):
        buf = io.BytesIO()
        a = np.asfortranarray(arr) if fortran else arr
        npf.write_array(buf, a, version=version, allow_pickle=False)
        out[name] = buf.getvalue()

    for dt in ["<f2", "<f4", "<f8", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "|b1", "<c8"]:
        save("npy_" + dt.strip("<|"), (np.arange(6) % 3).astype(dt).reshape(2, 3))
    save("npy_big_endian_f4", np.arange(6, dtype=">f4").reshape(3, 2))
    save("npy_big_endian_c8", np.arange(4, dtype=">c8"))
    save("npy_fortran", np.arange(24, dtype="<i4").reshape(2, 3, 4), fortran=True)
    save("npy_scalar", np.array(1.5, dtype="<f8"))
    save("npy_empty", np.zeros((0, 5), dtype="<f4"))
    save("npy_void2", np.zeros(4, dtype="V2"))
    save("npy_version2", np.arange(3, dtype="<u2"), version=(2, 0))
    save("npy_version3", np.arange(3, dtype="<u2"), version=(3, 0))
    save("npy_rank6", np.zeros((1, 2, 1, 2, 1, 2), dtype="|u1"))
    hdr = b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    out["npy_object_pickle"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) + 1) + hdr + b"\n" + \
        b"\x80\x02cos\nsystem\nq\x00."
    hdr = b"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"
    out["npy_structured"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) + 1) + hdr + b"\n" + bytes(4)
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
    out["npy_huge_shape"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) + 1) + hdr + b"\n"
    hdr = b"{'descr': '<f4', 'fortran_order': __import__('os'), 'shape': (1,), }"
    out["npy_code"] = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr) + 1) + hdr + b"\n" + bytes(4)
    out["npy_truncated"] = out["npy_f4"][:-3]
    out["npy_bad_magic"] = b"\x93NUMPZ" + out["npy_f4"][6:]
    return out


def writer_seeds():
    """FuzzedDataProvider inputs: any bytes decode to some tensor set."""
    out, x = {}, 12345
    for i, n in enumerate((0, 1, 8, 32, 64, 128, 256, 512, 1024, 2048)):
        b = bytearray()
        for _ in range(n):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            b.append((x >> 16) & 0xFF)
        out["random_%02d_%d" % (i, n)] = bytes(b)
    return out


def index_seeds():
    """model.safetensors.index.json files, valid and not."""
    wm = {"model.embed.weight": "model-00001-of-00002.safetensors",
          "model.layers.0.w": "model-00001-of-00002.safetensors",
          "lm_head.weight": "model-00002-of-00002.safetensors"}
    out = {
        "index_valid": json.dumps({"metadata": {"total_size": 1234}, "weight_map": wm}, indent=2),
        "index_no_metadata": json.dumps({"weight_map": wm}),
        "index_null_metadata": json.dumps({"metadata": None, "weight_map": wm}),
        "index_escaped": '{"weight_map":{"a\\u0000b":"x.safetensors","\\u00e9":"y.safetensors"}}',
        "index_dup_tensor": '{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}',
        "index_bad_total": '{"metadata":{"total_size":-1},"weight_map":{}}',
        "index_path_tricks": json.dumps({"weight_map": {"a": "../x.safetensors", "b": "/etc/passwd",
                                                         "c": "sub/y.safetensors", "d": "C:x.safetensors"}}),
        "index_array": "[]",
    }
    return {k: v.encode() for k, v in out.items()}


def digest_seeds():
    """Values of the "sft.xxh3_128" metadata key."""
    h = "0f3c9a1b2c3d4e5f60718293a4b5c6d7"
    out = {
        "digest_one": json.dumps({"w": h}, separators=(",", ":")),
        "digest_many": json.dumps({"layer.%d" % i: h for i in range(8)}, separators=(",", ":")),
        "digest_escaped": '{"a\\u0000":"%s","\\ud83d\\ude00":"%s"}' % (h, h.upper()),
        "digest_empty": "{}",
        "digest_dup": '{"w":"%s","w":"%s"}' % (h, h),
        "digest_short": '{"w":"%s"}' % h[:31],
        "digest_nested": '{"w":{"x":"%s"}}' % h,
    }
    return {k: v.encode() for k, v in out.items()}


def write_corpus(target, made):
    d = os.path.join(HERE, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in made.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "shared", "fixtures", "real"))
    args = ap.parse_args()
    made = seeds()
    if os.path.isdir(args.fixtures):
        for name in sorted(os.listdir(args.fixtures)):
            p = os.path.join(args.fixtures, name)
            if name.endswith(".safetensors") and os.path.getsize(p) <= MAX_FIXTURE:
                with open(p, "rb") as f:
                    made["fixture_" + name[: -len(".safetensors")]] = f.read()
    for target in TARGETS:
        write_corpus(target, made)
    print("wrote %d seeds for each of %d targets" % (len(made), len(TARGETS)))
    npy = npy_seeds()
    if npy:
        write_corpus("fuzz_npy", npy)
        print("wrote %d .npy seeds" % len(npy))
    write_corpus("fuzz_writer_roundtrip", writer_seeds())
    write_corpus("fuzz_index", index_seeds())
    write_corpus("fuzz_digest", digest_seeds())


if __name__ == "__main__":
    main()
