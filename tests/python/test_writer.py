"""sft.Writer: streaming, atomic, the reference's layout."""

import os

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import has, needs_torch

if has("torch"):
    import sft.torch


def leftovers(directory):
    return [n for n in os.listdir(directory) if "sft-tmp" in n]


def test_streamed_file_equals_serialize(tmp_path):
    big = np.arange(1000, dtype=np.float32).reshape(10, 100)
    small = np.arange(5, dtype=np.int64)
    p = tmp_path / "w.safetensors"
    with sft.Writer(p, metadata={"format": "pt"}) as w:
        w.add("small", small)
        w.declare("big", "F32", big.shape)
        w.declare("late", np.float32, (2,))
        for row in range(10):  # appended row by row
            w.write("big", big[row])
        w.write_at("late", 4, np.array([2.0], np.float32))  # out of order
        w.write_at("late", 0, np.array([1.0], np.float32).tobytes())
        assert w.remaining() == 0
    want = sft.numpy.save({"small": small, "big": big, "late": np.array([1.0, 2.0], np.float32)},
                          metadata={"format": "pt"})
    assert p.read_bytes() == want
    assert leftovers(tmp_path) == []


def test_added_only(tmp_path):
    p = tmp_path / "a.safetensors"
    d = {"x": np.ones((3, 3)), "y": np.zeros(2, np.uint8)}
    with sft.Writer(p) as w:
        for k, v in d.items():
            w.add(k, v)
    assert p.read_bytes() == sft.numpy.save(d)


def test_exception_leaves_target_untouched(tmp_path):
    p = tmp_path / "t.safetensors"
    p.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="boom"):
        with sft.Writer(p) as w:
            w.declare("x", "F32", [4])
            w.write("x", np.zeros(2, np.float32))
            raise RuntimeError("boom")
    assert p.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []


def test_missing_data_is_an_error(tmp_path):
    p = tmp_path / "m.safetensors"
    w = sft.Writer(p)
    w.declare("x", "F32", [4])
    w.write("x", np.zeros(2, np.float32))
    with pytest.raises(sft.SafetensorError) as e:
        w.commit()
    assert e.value.code == sft.Errc.missing_data and e.value.tensor == "x"
    assert not p.exists() and leftovers(tmp_path) == []


def test_state_errors(tmp_path):
    w = sft.Writer(tmp_path / "s.safetensors")
    w.declare("x", "U8", [2])
    w.write("x", b"\x01")
    with pytest.raises(sft.SafetensorError) as e:
        w.add("y", np.zeros(1))
    assert e.value.code == sft.Errc.writer_state
    with pytest.raises(sft.SafetensorError) as e:
        w.write("x", b"\x01\x02")  # past the end
    assert e.value.code == sft.Errc.data_size_mismatch
    with pytest.raises(sft.SafetensorError) as e:
        w.write("nope", b"\x01")
    assert e.value.code == sft.Errc.not_found
    w.write("x", b"\x02")
    w.commit()
    with pytest.raises(sft.SafetensorError):
        w.commit()
    assert sft.numpy.load_file(tmp_path / "s.safetensors")["x"].tolist() == [1, 2]


def test_abort(tmp_path):
    p = tmp_path / "a.safetensors"
    w = sft.Writer(p)
    w.declare("x", "U8", [1])
    w.write("x", b"\x00")
    w.abort()
    assert not p.exists() and leftovers(tmp_path) == [] and w.closed


def test_alignment(tmp_path):
    p = tmp_path / "al.safetensors"
    with sft.Writer(p, alignment=4096) as w:
        w.add("x", np.arange(3, dtype=np.int32))
    data = p.read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert (8 + n) % 4096 == 0
    np.testing.assert_array_equal(sft.numpy.load_file(p)["x"], np.arange(3))


@needs_torch
def test_torch_tensors(tmp_path):
    import torch

    p = tmp_path / "t.safetensors"
    x = torch.arange(6, dtype=torch.bfloat16).reshape(2, 3)
    with sft.Writer(p) as w:
        w.add("x", x)
        w.declare("y", torch.float16, [2, 2])
        w.write("y", torch.ones(2, 2, dtype=torch.float16)[0])
        w.write("y", torch.ones(2, dtype=torch.float16))
    got = sft.torch.load_file(p)
    assert torch.equal(got["x"], x) and torch.equal(got["y"], torch.ones(2, 2, dtype=torch.float16))
