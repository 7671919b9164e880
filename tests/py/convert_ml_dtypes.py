#!/usr/bin/env python3
"""sft's float conversions, bit for bit against numpy (F16) and ml_dtypes (the rest).

usage: convert_ml_dtypes.py CONVERT_PROBE

CONVERT_PROBE (tests/support/convert_probe.cpp) runs sft::convert on raw bytes.
Checked:
  * every F16 and BF16 bit pattern and every pattern of each F8 type, converted
    to every other supported type;
  * F32 inputs: every pattern of the top 20 bits combined with low-bit endings
    that make exact halfway cases and their neighbours for every target, every
    midpoint between two neighbouring values of every target (and the floats
    just beside it), the subnormals, the specials, and 4M random patterns;
  * F32 -> F8_E8M0 for every float below 2^-125 (both signs): the subnormal
    boundary, where ml_dtypes 0.7.0 rounds on the value.
Exit 0 all equal, 1 a mismatch (the first few are printed), 77 when numpy or
ml_dtypes is missing.
"""
import subprocess
import sys

try:
    import numpy as np
    import ml_dtypes
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(77)

TYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "BF16": ml_dtypes.bfloat16,
    "F8_E4M3": ml_dtypes.float8_e4m3fn,
    "F8_E5M2": ml_dtypes.float8_e5m2,
    "F8_E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "F8_E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "F8_E8M0": ml_dtypes.float8_e8m0fnu,  # ml_dtypes >= 0.5; the pinned one is 0.7.0
}
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32}


def probe(exe, src, dst, values):
    out = subprocess.run([exe, src, dst], input=values.tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=UINT[np.dtype(TYPES[dst]).itemsize])


def reference(src, dst, values):
    with np.errstate(all="ignore"):
        try:
            out = values.astype(TYPES[dst])
        except TypeError:
            # ml_dtypes has no direct cast between some pairs (F8 -> F8_E8M0):
            # go through float32, which holds every source value exactly.
            out = values.astype(np.float32).astype(TYPES[dst])
        return out.view(UINT[np.dtype(TYPES[dst]).itemsize])


def compare(exe, src, dst, values, failures):
    got = probe(exe, src, dst, values)
    want = reference(src, dst, values)
    bad = np.nonzero(got != want)[0]
    if len(bad):
        ui = UINT[np.dtype(TYPES[src]).itemsize]
        shown = ", ".join(f"{int(values.view(ui)[i]):#x} -> sft {int(got[i]):#x}, ml_dtypes {int(want[i]):#x}"
                          for i in bad[:5])
        failures.append(f"{src} -> {dst}: {len(bad)} of {len(values)} differ: {shown}")
    return len(values)


def f32_inputs():
    parts = []
    top = (np.arange(1 << 20, dtype=np.uint32) << 12)
    # Endings of the low 12 bits: exact (0), exact halfway for cuts at bit 11
    # (0x800) and their neighbours; higher cuts are covered by the top 20 bits.
    for low in (0x000, 0x001, 0x7FF, 0x800, 0x801, 0xFFF):
        parts.append(top | np.uint32(low))
    rng = np.random.default_rng(20240611)
    parts.append(rng.integers(0, 1 << 32, size=1 << 22, dtype=np.uint64).astype(np.uint32))
    # Midpoints between neighbouring finite values of every narrow target, and
    # the floats just below and above each.
    for name, t in TYPES.items():
        if name == "F32":
            continue
        ui = UINT[np.dtype(t).itemsize]
        codes = np.arange(1 << (8 * np.dtype(t).itemsize), dtype=np.uint64).astype(ui)
        with np.errstate(all="ignore"):
            vals = codes.view(t).astype(np.float64)
        vals = np.unique(vals[np.isfinite(vals)])
        mids = ((vals[1:] + vals[:-1]) / 2).astype(np.float32)  # exact: narrow values have few bits
        mids_bits = mids.view(np.uint32)
        for d in (-1, 0, 1):
            parts.append((mids_bits.astype(np.int64) + d).astype(np.uint32))
        parts.append(vals.astype(np.float32).view(np.uint32))
    # Every subnormal in steps, the specials, the largest finite values.
    parts.append(np.arange(0, 1 << 23, 97, dtype=np.uint32))
    specials = [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001,
                0x7FA00000, 0x7FBFFFFF, 0x7FFFFFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x00000001, 0x00800000, 0x007FFFFF]
    parts.append(np.array(specials, dtype=np.uint32))
    both = np.concatenate(parts)
    return np.concatenate([both, both | np.uint32(0x80000000)]).view(np.float32)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    exe = sys.argv[1]
    failures = []
    checked = 0
    narrow = [n for n in TYPES if n != "F32"]
    for src in narrow:
        t = TYPES[src]
        ui = UINT[np.dtype(t).itemsize]
        every = np.arange(1 << (8 * np.dtype(t).itemsize), dtype=np.uint64).astype(ui).view(t)
        for dst in TYPES:
            checked += compare(exe, src, dst, every, failures)
    f32 = f32_inputs()
    for dst in TYPES:
        checked += compare(exe, "F32", dst, f32, failures)
    # F8_E8M0 rounds subnormal inputs on the value (ml_dtypes 0.7.0; torch
    # differs, docs/format.md): every float from 0 through the first normal
    # binade, 2^24 patterns, with both signs.
    dense = np.arange(0, 1 << 24, dtype=np.uint32)
    checked += compare(exe, "F32", "F8_E8M0", np.concatenate([dense, dense | np.uint32(0x80000000)]).view(np.float32),
                       failures)
    for f in failures:
        print("FAIL", f)
    print(f"{checked} conversions checked over {len(TYPES)} types; {len(failures)} type pairs differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
