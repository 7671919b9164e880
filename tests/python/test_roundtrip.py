"""Against the reference package, both ways: the same bytes written, the same tensors read."""

import numpy as np
import pytest

import sft
import sft.numpy
from conftest import has, needs_reference, needs_torch

if has("torch"):
    import sft.torch

pytestmark = needs_reference


def numpy_dicts():
    rng = np.random.default_rng(11)
    dicts = [
        {"test": np.zeros((2, 2), np.int32)},
        {"a": rng.standard_normal((3, 4)), "b": rng.integers(0, 9, (2, 3), dtype=np.uint8), "c": np.array(True)},
        {n: rng.standard_normal(5).astype(dt) for n, dt in
         [("f16", np.float16), ("f32", np.float32), ("f64", np.float64), ("c64", np.complex64)]},
        {n: rng.integers(-50, 50, 7).astype(dt) for n, dt in
         [("i8", np.int8), ("i16", np.int16), ("i32", np.int32), ("i64", np.int64)]},
        {n: rng.integers(0, 50, 7).astype(dt) for n, dt in
         [("u8", np.uint8), ("u16", np.uint16), ("u32", np.uint32), ("u64", np.uint64)]},
        {"empty": np.zeros((0, 4), np.float32), "scalar": np.array(1.5), "big_endian": np.arange(4, dtype=">i4")},
        {"ünïcode": np.ones(3, np.float32), "名前": np.zeros(2, np.int8)},
    ]
    if has("ml_dtypes"):
        import ml_dtypes

        dicts.append({n: rng.standard_normal(6).astype(getattr(ml_dtypes, n)) for n in
                      ["bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"]})
    return dicts


@pytest.mark.parametrize("index", range(len(numpy_dicts())))
@pytest.mark.parametrize("metadata", [None, {}, {"format": "np"}])
def test_numpy_same_bytes(tmp_path, index, metadata):
    import safetensors.numpy as ref

    d = numpy_dicts()[index]
    ours = sft.numpy.save(d, metadata=metadata)
    assert ours == ref.save(d, metadata=metadata)
    sft.numpy.save_file(d, tmp_path / "a.safetensors", metadata=metadata)
    ref.save_file(d, tmp_path / "b.safetensors", metadata=metadata)
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes() == ours


@pytest.mark.parametrize("index", range(len(numpy_dicts())))
def test_numpy_read_each_others_files(tmp_path, index):
    import safetensors
    import safetensors.numpy as ref

    d = numpy_dicts()[index]
    ref.save_file(d, tmp_path / "ref.safetensors")
    sft.numpy.save_file(d, tmp_path / "sft.safetensors")
    # The reference's numpy reader has no bfloat16 or float8 (they need ml_dtypes).
    reference_reads = all(v.dtype.kind != "V" and v.dtype.name in np.sctypeDict for v in d.values())
    for path in ("ref.safetensors", "sft.safetensors"):
        ours = sft.numpy.load_file(tmp_path / path)
        assert ours.keys() == d.keys()
        for k in d:
            want = np.asarray(d[k], d[k].dtype.newbyteorder("<"))
            assert ours[k].dtype == want.dtype and ours[k].shape == want.shape, k
            assert ours[k].tobytes() == want.tobytes(), k
        if reference_reads:
            with safetensors.safe_open(tmp_path / path, "np") as f:
                theirs = {k: f.get_tensor(k) for k in f.keys()}
            assert theirs.keys() == d.keys()
            for k in d:
                assert theirs[k].dtype == ours[k].dtype and theirs[k].tobytes() == ours[k].tobytes(), k


def test_deserialize_like_the_reference():
    import safetensors

    d = numpy_dicts()[1]
    data = sft.numpy.save(d, metadata={"k": "v"})
    assert dict(sft.deserialize(data)) == dict(safetensors.deserialize(data))
    loaded = sft.numpy.load(data)
    for k in d:
        np.testing.assert_array_equal(loaded[k], d[k])


@needs_torch
def test_torch_same_bytes_and_values(tmp_path):
    import safetensors.torch as ref
    import torch

    d = {
        "f32": torch.randn(3, 4),
        "bf16": torch.randn(5, dtype=torch.bfloat16),
        "f16": torch.randn(2, 2).half(),
        "bool": torch.tensor([True, False, True]),
        "c64": torch.randn(2, dtype=torch.complex64),
        "i64": torch.arange(4),
        "u16": torch.tensor([0, 1, 65535], dtype=torch.uint16),
        "f8": torch.randn(4).to(torch.float8_e4m3fn),
        "f8b": torch.randn(4).to(torch.float8_e5m2),
        "e8m0": torch.tensor([0.5, 4.0]).to(torch.float8_e8m0fnu),
        "f4": torch.zeros(2, 3, dtype=torch.uint8).view(torch.float4_e2m1fn_x2),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 3),
    }
    ours = sft.torch.save(d, metadata={"format": "pt"})
    assert ours == ref.save(d, metadata={"format": "pt"})
    sft.torch.save_file(d, tmp_path / "a.safetensors")
    ref.save_file(d, tmp_path / "b.safetensors")
    assert (tmp_path / "a.safetensors").read_bytes() == (tmp_path / "b.safetensors").read_bytes()
    ours_loaded = sft.torch.load_file(tmp_path / "b.safetensors")
    theirs = ref.load_file(tmp_path / "a.safetensors")
    for k, v in d.items():
        for got in (ours_loaded[k], theirs[k]):
            assert got.dtype == v.dtype and got.shape == v.shape, k
            assert got.reshape(-1).view(torch.uint8).numpy().tobytes() == v.reshape(-1).view(torch.uint8).numpy().tobytes(), k
    loaded = sft.torch.load(ours)
    assert loaded.keys() == d.keys()


@needs_torch
def test_save_model_load_model_with_shared_tensors(tmp_path):
    import safetensors.torch as ref
    import torch

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(4, 4)
            self.b = self.a  # shared parameters

    m = Tied()
    sft.torch.save_model(m, tmp_path / "ours.safetensors")
    ref.save_model(m, tmp_path / "theirs.safetensors")
    # Two metadata keys: the reference's order of them is random, sft sorts
    # them, so the headers may differ in order only; the tensors are equal.
    with sft.safe_open(tmp_path / "ours.safetensors", "pt") as f, sft.safe_open(tmp_path / "theirs.safetensors", "pt") as g:
        assert f.keys() == g.keys() == ["a.bias", "a.weight"]
        assert f.metadata() == g.metadata() == {"b.bias": "a.bias", "b.weight": "a.weight"}
        assert all(torch.equal(f.get_tensor(k), g.get_tensor(k)) for k in f.keys())
    m2 = Tied()
    missing, unexpected = sft.torch.load_model(m2, tmp_path / "theirs.safetensors")
    assert not missing and not unexpected
    assert torch.equal(m2.b.weight, m.a.weight)
    with pytest.raises(RuntimeError, match="share memory"):
        sft.torch.save_file(m.state_dict(), tmp_path / "x.safetensors")


@needs_torch
def test_shared_tensor_helpers_agree_with_the_reference():
    import safetensors.torch as ref
    import torch

    A = torch.zeros((4, 4))
    cases = [
        {"A": A, "B": A[:1]},
        {"B": A[:2], "C": A[2:]},
        {"B": A[:2], "C": A[1:], "D": A[3:]},
        {"x": torch.zeros(3), "y": torch.zeros(3)},
        {"m": torch.zeros(2, device="meta")},
    ]
    for sd in cases:
        assert sft.torch._find_shared_tensors(sd) == ref._find_shared_tensors(sd)
    for sd in cases[:1]:
        assert sft.torch._remove_duplicate_names(sd) == ref._remove_duplicate_names(sd)
    for t in (A, A[1:], A[::2], A.t(), torch.zeros(0), torch.zeros(16)[::4]):
        assert sft.torch._is_complete(t) == ref._is_complete(t)
        if t.is_contiguous() or t.dim() == 1:  # the reference's _end_ptr needs view(-1)
            assert sft.torch._end_ptr(t) == ref._end_ptr(t)
    assert sft.torch._end_ptr(A.t()) == A.data_ptr() + 16 * 4


@needs_torch
def test_torch_save_refusals(tmp_path):
    import torch

    with pytest.raises(ValueError, match="non contiguous"):
        sft.torch.save({"t": torch.zeros(3, 3).t()})
    with pytest.raises(ValueError, match="sparse"):
        sft.torch.save({"s": torch.zeros(2, 2).to_sparse()})
    with pytest.raises(ValueError, match="Expected a dict"):
        sft.torch.save("nope")
    with pytest.raises(RuntimeError, match="meta"):
        sft.torch.save({"m": torch.zeros(2, device="meta")})
