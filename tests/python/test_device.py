"""load_to_device through sft_gpu's CPU backend."""

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import needs_ml_dtypes, needs_torch


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "g.safetensors"
    sft.numpy.save_file({"w": np.arange(24, dtype=np.float32).reshape(4, 6), "i": np.arange(5, dtype=np.int64),
                         "e": np.zeros((0, 2), np.float32)}, p)
    return p


def test_numpy_cpu(path):
    got = sft.load_to_device(path, "cpu", framework="np", verify=True)
    want = sft.numpy.load_file(path)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
        np.testing.assert_array_equal(got[k], want[k])
        assert not np.shares_memory(got[k], want[k])


def test_names_and_checkpoint(path, tmp_path):
    got = sft.load_to_device(path, "cpu", framework="np", names=["i"])
    assert list(got) == ["i"]
    with sft.Checkpoint(path) as c:
        got = sft.load_to_device(c, "cpu", framework="np")
    assert set(got) == {"w", "i", "e"}
    with pytest.raises(sft.SafetensorError) as e:
        sft.load_to_device(path, "cpu", framework="np", names=["nope"])
    assert e.value.code == sft.Errc.not_found


@needs_torch
def test_torch_cpu_and_conversion(path):
    import torch

    got = sft.load_to_device(path, "cpu")
    assert torch.equal(got["w"], torch.arange(24, dtype=torch.float32).reshape(4, 6))
    bf = sft.load_to_device(path, "cpu", convert_to="BF16")
    assert bf["w"].dtype == torch.bfloat16 and torch.equal(bf["w"], got["w"].to(torch.bfloat16))
    assert bf["i"].dtype == torch.int64  # integers are not converted


def test_bad_device(path):
    with pytest.raises(sft.SafetensorError) as e:
        sft.load_to_device(path, "tpu:0", framework="np")
    assert e.value.code in (sft.Errc.gpu_no_backend, sft.Errc.invalid_argument)
