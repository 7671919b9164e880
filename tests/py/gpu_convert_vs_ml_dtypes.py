#!/usr/bin/env python3
"""The conversion kernels of sft_gpu against numpy / ml_dtypes, bit for bit.

Inputs: every F16 and BF16 pattern, every F8_E4M3, F8_E5M2 and F8_E8M0 byte,
about a million F32 values (every upper half with the lower halves that decide
rounding to F16 and BF16: ties, one either side of them, plus random values),
and for MXFP4 every F4 code under every E8M0 scale. The kernels run on one
backend through tests/support/gpu_convert_dump.cpp; the expected bits come from
ml_dtypes' casts (numpy's for F16 <-> F32). NaNs are compared bit for bit too:
docs/gpu.md says which payload each conversion keeps, and this checks it.

Exit 0: all equal; 1: a difference; 77: skipped (numpy / ml_dtypes missing,
or no device for the backend).
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77

try:
    import numpy as np
    import ml_dtypes as md
except ImportError as e:  # the test is registered with SKIP_RETURN_CODE 77
    print(f"skip: {e}")
    sys.exit(SKIP)


def f32_inputs():
    hi = np.arange(65536, dtype=np.uint32) << 16
    lows = [0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2000, 0x2FFF, 0x3000, 0x3001,
            0x7FFF, 0x8000, 0x8001, 0xC000, 0xFFFF]
    fixed = (hi[:, None] | np.array(lows, dtype=np.uint32)[None, :]).ravel()
    rng = np.random.default_rng(20240611)
    rand = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    return np.concatenate([fixed, rand])


SOURCES = {
    "F32": (np.float32, np.uint32, f32_inputs),
    "F16": (np.float16, np.uint16, lambda: np.arange(65536, dtype=np.uint32).astype(np.uint16)),
    "BF16": (md.bfloat16, np.uint16, lambda: np.arange(65536, dtype=np.uint32).astype(np.uint16)),
    "F8_E4M3": (md.float8_e4m3fn, np.uint8, lambda: np.arange(256, dtype=np.uint32).astype(np.uint8)),
    "F8_E5M2": (md.float8_e5m2, np.uint8, lambda: np.arange(256, dtype=np.uint32).astype(np.uint8)),
    "F8_E8M0": (md.float8_e8m0fnu, np.uint8, lambda: np.arange(256, dtype=np.uint32).astype(np.uint8)),
}
TARGETS = {"F32": (np.float32, np.uint32), "F16": (np.float16, np.uint16), "BF16": (md.bfloat16, np.uint16)}


def compare(label, src_bits, got, want, width):
    if got.shape != want.shape:
        print(f"FAIL {label}: {got.size} results, expected {want.size}")
        return False
    bad = np.nonzero(got != want)[0]
    if bad.size:
        print(f"FAIL {label}: {bad.size} of {want.size} differ; first ones:")
        for i in bad[:8]:
            print(f"  input 0x{int(src_bits[i]):0{width}x}: got 0x{int(got[i]):x}, ml_dtypes 0x{int(want[i]):x}")
        return False
    print(f"ok   {label}: {want.size} values bit-exact")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="path of gpu_convert_dump")
    ap.add_argument("--backend", required=True)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sft-gpu-convert-") as tmp:
        d = Path(tmp)
        inputs = {}
        for name, (_, bits_t, make) in SOURCES.items():
            bits = make().astype(bits_t)
            inputs[name] = bits
            (d / f"in_{name}.bin").write_bytes(bits.astype(bits.dtype.newbyteorder("<")).tobytes())
        # MXFP4: block s (0..255) holds the 16 codes twice under scale s.
        codes = np.tile(np.arange(16, dtype=np.uint8), 2 * 256)
        scales = np.arange(256, dtype=np.uint32).astype(np.uint8)
        packed = (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)
        (d / "mxfp4_packed.bin").write_bytes(packed.tobytes())
        (d / "mxfp4_scales.bin").write_bytes(scales.tobytes())

        run = subprocess.run([args.dump, args.backend, str(d)], capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        if run.returncode == SKIP:
            return SKIP
        if run.returncode != 0:
            print(f"FAIL gpu_convert_dump exited {run.returncode}")
            return 1

        ok = True
        with np.errstate(invalid="ignore", over="ignore"):
            for src, (src_t, _, _) in SOURCES.items():
                values = inputs[src].view(src_t)
                for dst, (dst_t, dst_bits) in TARGETS.items():
                    want = values.astype(dst_t).view(dst_bits)
                    got = np.frombuffer((d / f"out_{src}_{dst}.bin").read_bytes(), dtype=np.dtype(dst_bits).newbyteorder("<"))
                    width = inputs[src].dtype.itemsize * 2
                    ok &= compare(f"{src} -> {dst} on {args.backend}", inputs[src], got, want, width)
            f4 = codes.view(md.float4_e2m1fn).astype(np.float32)
            sc = np.repeat(scales.view(md.float8_e8m0fnu).astype(np.float32), 32)
            product = f4 * sc  # exact in F32 but for overflow to infinity
            label_bits = (scales.astype(np.uint32).repeat(32) << 4) | codes
            for dst, (dst_t, dst_bits) in (("F32", TARGETS["F32"]), ("BF16", TARGETS["BF16"])):
                want = product.astype(dst_t).view(dst_bits)
                got = np.frombuffer((d / f"out_MXFP4_{dst}.bin").read_bytes(), dtype=np.dtype(dst_bits).newbyteorder("<"))
                ok &= compare(f"MXFP4 (scale<<4|code) -> {dst} on {args.backend}", label_bits, got, want, 3)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
