"""Reading: every dtype in every framework, shapes, metadata, names, order."""

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import has, needs_ml_dtypes, needs_torch

if has("torch"):
    import sft.torch

# (header dtype, logical shape, storage shape for numpy / torch)
DTYPES = [
    ("BOOL", [3], (3,)),
    ("U8", [2, 2], (2, 2)),
    ("I8", [4], (4,)),
    ("I16", [2], (2,)),
    ("U16", [3], (3,)),
    ("F16", [2], (2,)),
    ("BF16", [2, 1], (2, 1)),
    ("I32", [1], (1,)),
    ("U32", [2], (2,)),
    ("F32", [2, 2], (2, 2)),
    ("C64", [1], (1,)),
    ("F64", [1], (1,)),
    ("I64", [2], (2,)),
    ("U64", [1], (1,)),
    ("F8_E5M2", [2], (2,)),
    ("F8_E4M3", [2], (2,)),
    ("F8_E8M0", [2], (2,)),
    ("F8_E4M3FNUZ", [2], (2,)),
    ("F8_E5M2FNUZ", [2], (2,)),
    ("F4", [2, 4], (2, 2)),      # last dimension packs: 4 values -> 2 bytes
    ("F4", [2, 3], (3,)),        # 3 values per row do not: flat bytes
    ("F6_E2M3", [4], (3,)),      # 4 values -> 3 bytes
    ("F6_E3M2", [2, 2], (3,)),   # 2 per row do not pack: flat
]
BITS = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
        "C64": 64, "F64": 64, "I64": 64, "U64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}
NUMPY = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "F16": "float16",
         "BF16": "bfloat16", "I32": "int32", "U32": "uint32", "F32": "float32", "C64": "complex64",
         "F64": "float64", "I64": "int64", "U64": "uint64", "F8_E5M2": "float8_e5m2", "F8_E4M3": "float8_e4m3fn",
         "F8_E8M0": "float8_e8m0fnu", "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz",
         "F4": "uint8", "F6_E2M3": "uint8", "F6_E3M2": "uint8"}
TORCH = dict(NUMPY, F4="float4_e2m1fn_x2")


def nbytes(dtype, shape):
    n = BITS.get(dtype, 8)
    for d in shape:
        n *= d
    return n // 8


@pytest.fixture
def every_dtype(tmp_path):
    """A file with one tensor per DTYPES row, named by its position; and the bytes of each."""
    rng = np.random.default_rng(7)
    specs, raw = {}, {}
    for i, (dt, shape, _) in enumerate(DTYPES):
        n = nbytes(dt, shape)
        b = rng.integers(0, 2 if dt == "BOOL" else 256, n, dtype=np.uint8)
        raw[f"t{i}"] = b
        specs[f"t{i}"] = sft.TensorSpec(dtype=dt, shape=shape, data_ptr=b.ctypes.data, data_len=n)
    path = tmp_path / "dtypes.safetensors"
    sft.serialize_file(specs, path)
    return str(path), raw


def raw_numpy_bytes(a):
    return np.ascontiguousarray(a).view(np.uint8).tobytes()


@needs_ml_dtypes
@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_every_dtype_numpy(every_dtype, backend):
    path, raw = every_dtype
    with sft.safe_open(path, "np", backend=backend) as f:
        for i, (dt, shape, storage) in enumerate(DTYPES):
            a = f.get_tensor(f"t{i}")
            assert a.dtype.name == NUMPY[dt], dt
            assert a.shape == storage, dt
            assert raw_numpy_bytes(a) == raw[f"t{i}"].tobytes(), dt
            assert f.get_slice(f"t{i}").get_shape() == shape
            assert f.get_slice(f"t{i}").get_dtype() == dt


@needs_torch
@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_every_dtype_torch(every_dtype, backend):
    import torch

    path, raw = every_dtype
    with sft.safe_open(path, "pt", backend=backend) as f:
        for i, (dt, shape, storage) in enumerate(DTYPES):
            t = f.get_tensor(f"t{i}")
            assert t.dtype == getattr(torch, TORCH[dt]), dt
            assert tuple(t.shape) == storage, dt
            assert t.contiguous().view(torch.uint8).numpy().tobytes() == raw[f"t{i}"].tobytes(), dt


def test_dlpack_framework(every_dtype):
    # numpy's from_dlpack takes the standard dtypes (F4 and F6 come as packed uint8).
    path, raw = every_dtype
    with sft.safe_open(path, "dlpack") as f:
        for i, (dt, shape, storage) in enumerate(DTYPES):
            if NUMPY[dt] in ("bool", "uint8", "int8", "int16", "uint16", "float16", "int32", "uint32", "float32",
                             "complex64", "float64", "int64", "uint64"):
                a = np.from_dlpack(f.get_tensor(f"t{i}"))
                assert a.dtype.name == NUMPY[dt] and a.shape == storage, dt
                assert raw_numpy_bytes(a) == raw[f"t{i}"].tobytes(), dt


@needs_torch
def test_dlpack_bfloat16_into_torch(tmp_path):
    import torch

    x = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    p = tmp_path / "b.safetensors"
    sft.torch.save_file({"x": x}, p)
    with sft.safe_open(p, "dlpack") as f:
        y = torch.from_dlpack(f.get_tensor("x"))
    assert y.dtype == torch.bfloat16 and torch.equal(x, y)


def test_zero_size_and_scalars(tmp_path):
    d = {
        "empty_rows": np.zeros((0, 3), np.float32),
        "empty_cols": np.zeros((2, 0), np.int64),
        "scalar": np.array(2.5, np.float64),
        "int_scalar": np.array(-7, np.int32),
        "bool_scalar": np.array(True),
    }
    p = tmp_path / "z.safetensors"
    sft.numpy.save_file(d, p)
    for backend in ("mmap", "pread"):
        for copy in (False, True):
            with sft.safe_open(p, "np", backend=backend) as f:
                got = f.get_tensors(copy=copy)
            for k, v in d.items():
                assert got[k].shape == v.shape and got[k].dtype == v.dtype, k
                np.testing.assert_array_equal(got[k], v)


def test_all_zero_size(tmp_path):
    p = tmp_path / "z.safetensors"
    sft.numpy.save_file({"a": np.zeros((0,), np.float32), "b": np.zeros((3, 0), np.uint8)}, p)
    got = sft.numpy.load_file(p)
    assert got["a"].shape == (0,) and got["b"].shape == (3, 0)


def test_empty_file(tmp_path):
    p = tmp_path / "e.safetensors"
    sft.numpy.save_file({}, p)
    with sft.safe_open(p, "np") as f:
        assert f.keys() == [] and f.get_tensors() == {} and f.metadata() is None


def test_metadata(tmp_path):
    x = {"x": np.ones(2, np.float32)}
    p = tmp_path / "m.safetensors"
    sft.numpy.save_file(x, p)
    with sft.safe_open(p, "np") as f:
        assert f.metadata() is None
    sft.numpy.save_file(x, p, metadata={})
    with sft.safe_open(p, "np") as f:
        assert f.metadata() == {}
    md = {"format": "pt", "ünï": "cödé ✓", "b": "2", "a": "1"}
    sft.numpy.save_file(x, p, metadata=md)
    with sft.safe_open(p, "np") as f:
        assert f.metadata() == md


def test_unicode_and_odd_names(tmp_path):
    names = ["é", "名前.weight", "🙂", "a b", 'quote"and\\backslash', "tab\tnew\nline", ""]
    d = {n: np.full(2, i, np.int16) for i, n in enumerate(names)}
    p = tmp_path / "u.safetensors"
    sft.numpy.save_file(d, p)
    with sft.safe_open(p, "np") as f:
        assert f.keys() == sorted(names)
        for n in names:
            np.testing.assert_array_equal(f.get_tensor(n), d[n])


def test_keys_sorted_offset_keys_in_data_order(tmp_path):
    d = {"b": np.zeros(1, np.int8), "a": np.zeros(1, np.float64), "c": np.zeros(1, np.float32)}
    p = tmp_path / "k.safetensors"
    sft.numpy.save_file(d, p)
    with sft.safe_open(p, "np") as f:
        assert f.keys() == ["a", "b", "c"]
        # The writer orders by dtype size, largest first: F64, F32, I8.
        assert f.offset_keys() == ["a", "c", "b"]
        assert list(f.get_tensors()) == ["a", "c", "b"]


def test_accepts_pathlike_and_handle(tmp_path):
    p = tmp_path / "h.safetensors"
    sft.numpy.save_file({"x": np.arange(3)}, p)
    with sft.safe_open(p, framework="numpy") as f:
        assert f.keys() == ["x"]
    with open(p, "rb") as fh, sft._safe_open_handle(fh, "np") as g:
        np.testing.assert_array_equal(g.get_tensor("x"), np.arange(3))


def test_real_fixtures():
    import json
    import os

    from conftest import FIXTURES

    real = os.path.join(FIXTURES, "real")
    if not os.path.isdir(real):
        pytest.skip(f"no real fixtures at {real}")
    manifest = json.load(open(os.path.join(real, "MANIFEST.json")))
    import hashlib

    for name, entry in manifest.items():
        path = os.path.join(real, name)
        with sft.safe_open(path, "np") as f:
            assert sorted(f.keys()) == sorted(entry["tensors"]), name
            assert f.metadata() == entry["metadata"], name
            for tname, t in entry["tensors"].items():
                a = f.get_tensor(tname)
                assert f.get_slice(tname).get_dtype() == t["dtype"]
                assert list(a.shape) == t["shape"], (name, tname)
                assert hashlib.sha256(raw_numpy_bytes(a)).hexdigest() == t["sha256"], (name, tname)


@pytest.mark.skipif(not has("ml_dtypes"), reason="ml_dtypes is not installed")
def test_bfloat16_values_numpy(tmp_path):
    import ml_dtypes

    a = np.array([1.5, -2.0, 3.25], dtype=ml_dtypes.bfloat16)
    p = tmp_path / "bf.safetensors"
    sft.numpy.save_file({"a": a}, p)
    b = sft.numpy.load_file(p)["a"]
    assert b.dtype == ml_dtypes.bfloat16 and b.tolist() == [1.5, -2.0, 3.25]
