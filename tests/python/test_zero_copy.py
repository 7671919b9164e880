"""Zero-copy views: lifetime, copy-on-write, copy=True, the pread backend."""

import gc
import os

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import has, needs_torch

if has("torch"):
    import sft.torch

DATA = {"w": np.arange(64, dtype=np.float32).reshape(8, 8), "b": np.arange(8, dtype=np.int64)}


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "z.safetensors"
    sft.numpy.save_file(DATA, p)
    return str(p)


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def address(a):
    return a.__array_interface__["data"][0]


def test_views_share_the_mapping(path):
    with sft.safe_open(path, "np") as f:
        a, b = f.get_tensor("w"), f.get_tensor("w")
        assert address(a) == address(b)  # no copy: the same bytes of the mapping
        c = f.get_tensor("w", copy=True)
        assert address(c) != address(a) and not np.shares_memory(a, c)


def test_view_outlives_its_file(path):
    with sft.safe_open(path, "np") as f:
        w = f.get_tensor("w")
        every = f.get_tensors()
    del f
    gc.collect()
    np.testing.assert_array_equal(w, DATA["w"])
    np.testing.assert_array_equal(every["b"], DATA["b"])
    w2 = sft.numpy.load_file(path)["w"]
    gc.collect()
    np.testing.assert_array_equal(w2, DATA["w"])


def test_writes_never_reach_the_file(path):
    before = file_bytes(path)
    with sft.safe_open(path, "np") as f:
        w = f.get_tensor("w")
        assert w.flags.writeable
        w[:] = -1
        # Views of one safe_open share the private pages: the write shows there...
        assert (f.get_tensor("w") == -1).all()
        # ...but not in a copy made before, nor in the file.
    assert file_bytes(path) == before
    np.testing.assert_array_equal(sft.numpy.load_file(path)["w"], DATA["w"])
    np.testing.assert_array_equal(w, -1)


def test_copy_is_independent(path):
    with sft.safe_open(path, "np") as f:
        c = f.get_tensor("w", copy=True)
        c[0, 0] = 1234
        assert f.get_tensor("w")[0, 0] == 0
        every = f.get_tensors(copy=True)
    every["b"][:] = 9
    np.testing.assert_array_equal(sft.numpy.load_file(path)["b"], DATA["b"])


def test_pread_owns_its_memory(path):
    with sft.safe_open(path, "np", backend="pread") as f:
        a, b = f.get_tensor("w"), f.get_tensor("w")
    assert address(a) != address(b)
    a[:] = 5
    np.testing.assert_array_equal(b, DATA["w"])


def test_file_replaced_while_viewed(path):
    # save_file renames a new file over the old one: live views keep the old bytes.
    w = sft.numpy.load_file(path)["w"]
    sft.numpy.save_file({"w": np.zeros((8, 8), np.float32)}, path)
    np.testing.assert_array_equal(w, DATA["w"])
    np.testing.assert_array_equal(sft.numpy.load_file(path)["w"], 0)


@needs_torch
def test_torch_views(path):
    import torch

    before = file_bytes(path)
    with sft.safe_open(path, "pt") as f:
        w = f.get_tensor("w")
        w2 = f.get_tensor("w")
        assert w.data_ptr() == w2.data_ptr()
        c = f.get_tensor("w", copy=True)
        assert c.data_ptr() != w.data_ptr()
    gc.collect()
    w.mul_(2)  # in place, after the file was closed
    assert torch.equal(w, torch.from_numpy(DATA["w"]) * 2)
    assert file_bytes(path) == before
    assert torch.equal(c, torch.from_numpy(DATA["w"]))
    t = sft.torch.load_file(path)
    del t
    gc.collect()


@needs_torch
def test_torch_load_file_copy(path):
    import torch

    a = sft.torch.load_file(path, copy=True)
    b = sft.torch.load_file(path, backend="pread")
    for k in DATA:
        assert torch.equal(a[k], torch.from_numpy(DATA[k])) and torch.equal(b[k], a[k])


def test_dlpack_protocol_of_numpy_views(path):
    w = sft.numpy.load_file(path)["w"]
    d = np.from_dlpack(w)  # numpy's own __dlpack__: no copy
    assert address(d) == address(w)


def test_arrays_keep_mapping_after_unlink(path):
    w = sft.numpy.load_file(path)["w"]
    os.unlink(path)
    gc.collect()
    np.testing.assert_array_equal(w, DATA["w"])
