"""get_slice: Python indexing (steps, negatives, ellipsis), bounds, errors."""

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import needs_torch

A = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
KEYS = [
    (),
    slice(None),
    1,
    -1,
    (slice(1, 3),),
    (slice(None), 2),
    (slice(None), slice(None), slice(1, 5)),
    (slice(None, None, 2),),
    (slice(None, None, -1),),
    (slice(3, 0, -2), slice(None), -2),
    (slice(-3, None), slice(-4, -1, 2)),
    (Ellipsis, 0),
    (1, Ellipsis),
    (Ellipsis, slice(None, None, 3)),
    (0, 0, 0),
    (-4, -5, -6),
    (slice(1, 1),),                 # empty
    (slice(2, 0),),                 # empty (stop before start)
    (slice(4, None),),              # starts at the size: empty (Python's meaning)
    (slice(None), slice(None, None, 4), slice(None, None, 5)),
    (slice(None, None, -3), slice(None, None, -1), slice(None, None, -1)),
    np.int64(2),
]


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("slices") / "a.safetensors"
    sft.numpy.save_file({"a": A}, p)
    return str(p)


@pytest.mark.parametrize("backend", ["mmap", "pread"])
@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_matches_numpy(path, backend, key):
    with sft.safe_open(path, "np", backend=backend) as f:
        got = f.get_slice("a")[key]
        view = f.get_tensor("a")
    want = A[key]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous and not np.shares_memory(got, view)  # a copy, as the reference's


def test_empty_list_selects_nothing(path):
    with sft.safe_open(path, "np") as f:
        assert f.get_slice("a")[[]].shape == (0, 5, 6)


def test_slice_keeps_working_after_close(path):
    with sft.safe_open(path, "np") as f:
        s = f.get_slice("a")
    np.testing.assert_array_equal(s[1:3, ::2], A[1:3, ::2])


@needs_torch
def test_torch(path):
    import torch

    with sft.safe_open(path, "pt") as f:
        s = f.get_slice("a")
        t = s[::-1, 1:4:2, -1]
        assert torch.equal(t, torch.from_numpy(A[::-1, 1:4:2, -1].copy()))
        assert s.get_shape() == [4, 5, 6] and s.get_dtype() == "F32"


@pytest.mark.parametrize(
    "key, code, message",
    [
        ((slice(None), 5), "slice_out_of_range", "index 5 out of bounds for tensor dimension #1 of size 5"),
        ((-5,), "slice_out_of_range", "Invalid index -5 for dimension 0 of size 4"),
        ((slice(None, 7),), "slice_out_of_range", "index 6 out of bounds for tensor dimension #0 of size 4"),
        ((slice(5, None),), "slice_out_of_range", "index 5 out of bounds for tensor dimension #0 of size 4"),
        ((slice(-9, None),), "slice_out_of_range", "Invalid index -9 for dimension 0 of size 4"),
        ((0, 0, 0, 0), "slice_too_many_indices", "more slicing indexes than dimensions in tensor"),
        ((Ellipsis, Ellipsis), "invalid_argument", "Only one ellipsis"),
        (([0, 1],), "invalid_argument", "Non empty lists are not implemented"),
        ((None,), "invalid_argument", "Unsupported slice index at position 0"),
        ((1.5,), "invalid_argument", "Unsupported slice index at position 0"),
        ((slice(None, None, 0),), "slice_bad_range", "step"),
    ],
)
def test_errors(path, key, code, message):
    with sft.safe_open(path, "np") as f:
        with pytest.raises(sft.SafetensorError) as e:
            f.get_slice("a")[key]
    assert e.value.code == getattr(sft.Errc, code)
    assert message in str(e.value)
    assert e.value.tensor == "a"


def test_error_names_the_slice(path):
    with sft.safe_open(path, "np") as f, pytest.raises(sft.SafetensorError) as e:
        f.get_slice("a")[2:, 20]
    assert str(e.value) == (
        "Error during slicing [2:, 20] with shape [4, 5, 6]: index 20 out of bounds for tensor dimension #1 of size 5"
    )


def test_subbyte(tmp_path):
    packed = np.arange(8, dtype=np.uint8)  # F4 [4, 4]: two values per byte, 2 bytes per row
    p = tmp_path / "f4.safetensors"
    sft.serialize_file({"q": sft.TensorSpec(dtype="F4", shape=[4, 4], data_ptr=packed.ctypes.data, data_len=8)}, p)
    for backend in ("mmap", "pread"):
        with sft.safe_open(p, "np", backend=backend) as f:
            s = f.get_slice("q")
            np.testing.assert_array_equal(s[1:3], packed.reshape(4, 2)[1:3])  # whole rows: bytes
            np.testing.assert_array_equal(s[:, 2:], packed.reshape(4, 2)[:, 1:])  # half rows, byte-aligned
            with pytest.raises(sft.SafetensorError) as e:
                s[:, 1:2]  # half a byte
            assert e.value.code == sft.Errc.slice_subbyte


def test_large_sparse_selection_in_pread(tmp_path):
    # A selection spread thinly over a large tensor is read run by run.
    big = np.arange(2048 * 2048, dtype=np.int32).reshape(2048, 2048)
    p = tmp_path / "big.safetensors"
    sft.numpy.save_file({"big": big}, p)
    with sft.safe_open(p, "np", backend="pread") as f:
        np.testing.assert_array_equal(f.get_slice("big")[::1000, 5:9], big[::1000, 5:9])
        np.testing.assert_array_equal(f.get_slice("big")[::-700, ::-1], big[::-700, ::-1])
