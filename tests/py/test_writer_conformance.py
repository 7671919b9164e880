#!/usr/bin/env python3
"""Conformance of sft's writer (through the `sft` CLI) with the reference.

The reference is the Python package `safetensors`. For the same tensors and
metadata, `sft create` must produce exactly the bytes of the reference's
`serialize`; everything sft writes (aligned output included) must read back
through the reference with identical dtypes, shapes and bytes; `sft rewrite`
must reproduce every real fixture byte for byte; `sft extract` must give the
arrays back as .npy.

Usage: test_writer_conformance.py --sft PATH/TO/sft [--fixtures DIR] [unittest args]
Exit status 77 (reported as skipped by ctest) when a module is missing.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import numpy as np
    import ml_dtypes
    import safetensors
    import safetensors.numpy as stnp
    from safetensors import TensorSpec
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"SKIP: {e} (pip install safetensors numpy ml_dtypes)")
    sys.exit(77)

SFT = None
FIXTURES = None

# numpy / ml_dtypes types, the reference's TensorSpec name, the safetensors
# dtype, and the `:DTYPE` suffix sft create needs (None: the .npy says it).
NUMPY_TYPES = [
    (np.bool_, "BOOL"), (np.uint8, "U8"), (np.int8, "I8"), (np.int16, "I16"), (np.uint16, "U16"),
    (np.int32, "I32"), (np.uint32, "U32"), (np.int64, "I64"), (np.uint64, "U64"),
    (np.float16, "F16"), (np.float32, "F32"), (np.float64, "F64"), (np.complex64, "C64"),
]
ML_TYPES = [
    (ml_dtypes.bfloat16, "BF16"), (ml_dtypes.float8_e4m3fn, "F8_E4M3"), (ml_dtypes.float8_e5m2, "F8_E5M2"),
    (ml_dtypes.float8_e8m0fnu, "F8_E8M0"), (ml_dtypes.float8_e4m3fnuz, "F8_E4M3FNUZ"),
    (ml_dtypes.float8_e5m2fnuz, "F8_E5M2FNUZ"),
]
NATIVE = {st for _, st in NUMPY_TYPES}  # what a .npy names by itself
SHAPES = [(2, 3), (), (0,), (0, 4), (7,), (1, 1, 5)]


def random_array(rng, dtype, shape):
    return np.asarray(_random_values(rng, dtype, shape))


def _random_values(rng, dtype, shape):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind == "f":
        return rng.standard_normal(shape).astype(dt)
    # ml_dtypes: random bit patterns of the right width (NaNs and all).
    bits = rng.integers(0, 256 ** dt.itemsize, size=shape, dtype=np.uint64)
    return bits.astype({1: np.uint8, 2: np.uint16}[dt.itemsize]).view(dt)


def run_sft(*args, expect=0):
    r = subprocess.run([SFT, *args], capture_output=True)
    if r.returncode != expect:
        raise AssertionError(f"sft {' '.join(map(str, args))} exited {r.returncode}, expected {expect}:\n"
                             f"{r.stderr.decode(errors='replace')}")
    return r


def reference_bytes(arrays, metadata=None):
    """The reference's serialize() of {name: (array, reference dtype name, shape)}."""
    specs = {}
    keep = []
    for name, (arr, spec_dtype, shape) in arrays.items():
        arr = np.ascontiguousarray(arr)
        keep.append(arr)
        specs[name] = TensorSpec(dtype=spec_dtype, shape=list(shape), data_ptr=arr.ctypes.data, data_len=arr.nbytes)
    return bytes(safetensors.serialize(specs, metadata=metadata))


def read_back(data):
    """What the reference parser sees: {name: (dtype, shape, bytes)}."""
    return {k: (v["dtype"], list(v["shape"]), bytes(v["data"])) for k, v in safetensors.deserialize(data)}


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sft-writer-conf-")
        self.rng = np.random.default_rng(1234)
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, suffix):
        self.n += 1
        return os.path.join(self.tmp, f"f{self.n}{suffix}")

    def npy(self, arr):
        p = self.path(".npy")
        np.save(p, arr)
        return p

    def create(self, entries, metadata=None, alignment=None):
        """sft create from {name: (array-to-save, suffix)}; returns the file's bytes."""
        out = self.path(".safetensors")
        args = ["create"]
        if alignment:
            args += ["--alignment", str(alignment)]
        for k, v in (metadata or {}).items():
            args += ["--metadata", f"{k}={v}"]
        args.append(out)
        for name, (arr, suffix) in entries.items():
            args.append(f"{name}={self.npy(arr)}{suffix or ''}")
        run_sft(*args)
        with open(out, "rb") as f:
            return f.read()


class IdenticalBytes(Base):
    def test_every_numpy_dtype_and_shape(self):
        for dtype, st in NUMPY_TYPES:
            for shape in SHAPES:
                a = random_array(self.rng, dtype, shape)
                with self.subTest(dtype=st, shape=shape):
                    ref = stnp.save({"t": a})
                    self.assertEqual(self.create({"t": (a, None)}), ref)

    def test_every_ml_dtypes_type(self):
        for dtype, st in ML_TYPES:
            for shape in SHAPES:
                a = random_array(self.rng, dtype, shape)
                ref = stnp.save({"t": a})
                uint = a.view({1: np.uint8, 2: np.uint16}[a.dtype.itemsize])
                with self.subTest(dtype=st, shape=shape, saved_as="raw V bytes"):
                    self.assertEqual(self.create({"t": (a, ":" + st)}), ref)
                with self.subTest(dtype=st, shape=shape, saved_as="unsigned bits"):
                    self.assertEqual(self.create({"t": (uint, ":" + st)}), ref)

    def test_f4_packed(self):
        for shape in [(2, 4), (6,), (3, 0)]:
            packed = self.rng.integers(0, 256, size=shape[:-1] + (shape[-1] // 2,), dtype=np.uint8)
            with self.subTest(shape=shape):
                ref = reference_bytes({"q": (packed, "float4_e2m1fn_x2", packed.shape)})
                self.assertEqual(self.create({"q": (packed, ":F4")}), ref)

    def test_all_dtypes_in_one_file(self):
        # The order: dtype descending in the reference's enum, then name.
        arrays = {}
        for i, (dtype, st) in enumerate(NUMPY_TYPES + ML_TYPES):
            for j in range(2):
                arrays[f"{st.lower()}.{j}"] = (random_array(self.rng, dtype, (j + 1, 3)), st)
        ref = stnp.save({k: a for k, (a, st) in arrays.items()})
        entries = {k: (a, None if st in NATIVE else ":" + st) for k, (a, st) in arrays.items()}
        self.assertEqual(self.create(entries), ref)

    def test_names_unicode_and_escapes(self):
        names = ["é", "名前", "emoji😀", "quote\"d", "back\\slash", "slash/ok", "del\x7f", "sp ace", "",
                 "tab\tnl\ncr\r", "bell\x07bs\x08ff\x0cvt\x0b", "esc\x1b[0m", "a=b"]
        names += [f"c{chr(c)}" for c in range(1, 32)]
        a = np.arange(3, dtype=np.int16)
        ref = stnp.save({n: a for n in names})
        self.assertEqual(self.create({n: (a, None) for n in names}), ref)

    def test_zero_or_one_metadata_key(self):
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        for md in [None, {"format": "pt"}, {"k\x01\"\\é": "v\n\t\x1f/😀"}, {"": ""}]:
            with self.subTest(metadata=md):
                ref = stnp.save({"w": a}, metadata=md)
                self.assertEqual(self.create({"w": (a, None)}, metadata=md), ref)
        # Metadata and no tensors.
        self.assertEqual(self.create({}, metadata={"a": "b"}), stnp.save({}, metadata={"a": "b"}))
        self.assertEqual(self.create({}), stnp.save({}))

    def test_big_endian_and_fortran_inputs_are_converted(self):
        a = random_array(self.rng, np.float32, (3, 4))
        c = random_array(self.rng, np.complex64, (2, 5))
        i = random_array(self.rng, np.int64, (2, 3, 4))
        ref = stnp.save({"a": a, "c": c, "i": i})
        got = self.create({"a": (a.astype(">f4"), None), "c": (np.asfortranarray(c.astype(">c8")), None),
                           "i": (np.asfortranarray(i), None)})
        self.assertEqual(got, ref)


class ReferenceReadsSft(Base):
    def test_aligned_output_reads_back(self):
        arrays = {}
        for dtype, st in NUMPY_TYPES + ML_TYPES:
            arrays[st] = (random_array(self.rng, dtype, (3, 5)), None if st in NATIVE else ":" + st)
        expect = read_back(stnp.save({k: a for k, (a, _) in arrays.items()}))
        for alignment in [8, 64, 4096]:
            with self.subTest(alignment=alignment):
                data = self.create(arrays, metadata={"m": "1"}, alignment=alignment)
                n = int.from_bytes(data[:8], "little")
                self.assertEqual((8 + n) % alignment, 0)
                self.assertEqual(read_back(data), expect)
                got = read_back(data)
                for dtype, st in NUMPY_TYPES + ML_TYPES:  # values, not just bytes
                    _, shape, raw = got[st]
                    np.testing.assert_array_equal(np.frombuffer(raw, dtype=dtype).reshape(shape), arrays[st][0])

    def test_rewrite_with_alignment_reads_back(self):
        src = os.path.join(FIXTURES, "burn-mnist.safetensors")
        with open(src, "rb") as f:
            original = f.read()
        for alignment in [64, 4096]:
            out = self.path(".safetensors")
            run_sft("rewrite", "--alignment", str(alignment), src, out)
            with open(out, "rb") as f:
                data = f.read()
            self.assertEqual(read_back(data), read_back(original))
            # Rewriting the aligned file with the default alignment restores the original bytes.
            back = self.path(".safetensors")
            run_sft("rewrite", out, back)
            with open(back, "rb") as f:
                self.assertEqual(f.read(), original)


class Fixtures(Base):
    def test_rewrite_reproduces_every_real_fixture(self):
        files = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".safetensors"))
        self.assertGreater(len(files), 0, f"no fixtures in {FIXTURES}")
        for name in files:
            with self.subTest(fixture=name):
                out = self.path(".safetensors")
                run_sft("rewrite", os.path.join(FIXTURES, name), out)
                with open(os.path.join(FIXTURES, name), "rb") as f, open(out, "rb") as g:
                    self.assertEqual(g.read(), f.read())

    def test_rewrite_in_place(self):
        src = os.path.join(FIXTURES, "candle-csm-voices.safetensors")
        copy = self.path(".safetensors")
        shutil.copyfile(src, copy)
        run_sft("rewrite", copy, copy)
        with open(src, "rb") as f, open(copy, "rb") as g:
            self.assertEqual(g.read(), f.read())
        self.assertEqual(sorted(os.listdir(self.tmp)), [os.path.basename(copy)])


class Extract(Base):
    def test_extract_every_dtype_and_create_again(self):
        arrays = {}
        for dtype, st in NUMPY_TYPES + ML_TYPES:
            for shape in [(2, 3), ()]:
                arrays[f"{st}{len(shape)}"] = (random_array(self.rng, dtype, shape), st)
        packed = self.rng.integers(0, 256, size=(2, 3), dtype=np.uint8)
        src = self.path(".safetensors")
        ref = reference_bytes({**{k: (a, a.dtype.name, a.shape) for k, (a, st) in arrays.items()},
                               "f4": (packed, "float4_e2m1fn_x2", packed.shape)})
        with open(src, "wb") as f:
            f.write(ref)
        entries = {}
        for name, (a, st) in arrays.items():
            out = self.path(".npy")
            run_sft("extract", src, name, out)
            got = np.load(out, allow_pickle=False)
            self.assertEqual(got.shape, a.shape, name)
            if st in NATIVE:
                self.assertEqual(got.dtype, a.dtype, name)
                np.testing.assert_array_equal(got, a)
            else:  # raw bits of the same width, as documented
                self.assertEqual(got.dtype, {1: np.uint8, 2: np.uint16}[a.dtype.itemsize], name)
                self.assertEqual(got.tobytes(), a.tobytes(), name)
            entries[name] = (got, None if st in NATIVE else ":" + st)
        out = self.path(".npy")
        run_sft("extract", src, "f4", out)
        got = np.load(out)
        self.assertEqual((got.dtype, got.shape), (np.uint8, (2, 3)))
        np.testing.assert_array_equal(got, packed)
        entries["f4"] = (got, ":F4")
        self.assertEqual(self.create(entries), ref)


class Refusals(Base):
    def test_bad_inputs_leave_no_output(self):
        out = os.path.join(self.tmp, "out.safetensors")
        obj = self.path(".npy")
        np.save(obj, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        r = run_sft("create", out, f"x={obj}", expect=1)
        self.assertIn(b"npy_unsupported", r.stderr)
        a = self.npy(np.zeros(3, np.float32))
        r = run_sft("create", out, f"__metadata__={a}", expect=1)
        self.assertIn(b"reserved_name", r.stderr)
        r = run_sft("create", out, f"x={a}", f"x={a}", expect=1)
        self.assertIn(b"duplicate_name", r.stderr)
        r = run_sft("create", out, f"x={a}:F64", expect=1)  # 4-byte items are not F64
        r = run_sft("create", "--alignment", "12", out, f"x={a}", expect=1)
        self.assertIn(b"bad_alignment", r.stderr)
        run_sft("create", out, f"x={self.tmp}/missing.npy", expect=2)
        run_sft("create", expect=2)
        run_sft("rewrite", "only-one-path", expect=2)
        run_sft("extract", os.path.join(FIXTURES, "burn-boolean.safetensors"), "nope", self.path(".npy"), expect=1)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([f for f in os.listdir(self.tmp) if "sft-tmp" in f], [])


def main():
    global SFT, FIXTURES
    ap = argparse.ArgumentParser()
    ap.add_argument("--sft", required=True)
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared",
                                                        "fixtures", "real"))
    args, rest = ap.parse_known_args()
    SFT = os.path.abspath(args.sft)
    FIXTURES = os.path.abspath(args.fixtures)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
