"""sft.Checkpoint: safe_open's API across shards, and the index's rules."""

import json

import numpy as np
import pytest

import sft
import sft.numpy


def make_checkpoint(root, shards, index_extra=None, total_size=True):
    """shards: {file name: {tensor: array}}; writes the shards and the index."""
    root.mkdir(parents=True, exist_ok=True)
    weight_map, total = {}, 0
    for fname, tensors in shards.items():
        sft.numpy.save_file(tensors, root / fname, metadata={"format": "np"})
        for k, v in tensors.items():
            weight_map[k] = fname
            total += v.nbytes
    index = {"metadata": {"total_size": total} if total_size else {}, "weight_map": weight_map}
    index.update(index_extra or {})
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    return root


SHARDS = {
    "model-00001-of-00002.safetensors": {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, np.int64)},
    "model-00002-of-00002.safetensors": {"c": np.full((3, 2), 7, np.int16)},
}
ALL = {k: v for t in SHARDS.values() for k, v in t.items()}


def test_reads_across_shards(tmp_path):
    root = make_checkpoint(tmp_path / "ckpt", SHARDS)
    for path in (root, root / "model.safetensors.index.json"):
        with sft.Checkpoint(path) as c:
            assert c.sharded and len(c) == 3 and "c" in c and "zz" not in c
            assert c.keys() == ["a", "b", "c"]
            assert c.offset_keys() == ["b", "a", "c"]  # shard order, then data order (I64 before F32)
            assert c.metadata() == {"format": "np"}
            assert [p.rsplit("/", 1)[-1] for p in c.shards] == list(SHARDS)
            for k, v in ALL.items():
                np.testing.assert_array_equal(c.get_tensor(k), v)
            got = c.get_tensors()
            assert got.keys() == {"a", "b", "c"}
            np.testing.assert_array_equal(c.get_slice("a")[:, ::-1], ALL["a"][:, ::-1])
            assert c.get_slice("c").get_shape() == [3, 2] and c.get_slice("c").get_dtype() == "I16"
            errors, warnings = c.check()
            assert errors == [] and warnings == []
        with pytest.raises(sft.SafetensorError, match="closed"):
            c.get_tensor("a")


def test_single_file_and_directory_of_one(tmp_path):
    (tmp_path / "one").mkdir()
    sft.numpy.save_file({"x": np.arange(3)}, tmp_path / "one" / "only.safetensors")
    for path in (tmp_path / "one", tmp_path / "one" / "only.safetensors"):
        with sft.Checkpoint(path, "np") as c:
            assert not c.sharded and c.keys() == ["x"]
            np.testing.assert_array_equal(c.get_tensor("x"), np.arange(3))


def test_missing_tensor_and_shard(tmp_path):
    root = make_checkpoint(tmp_path / "c", SHARDS)
    with sft.Checkpoint(root) as c, pytest.raises(sft.SafetensorError) as e:
        c.get_tensor("nope")
    assert e.value.code == sft.Errc.not_found
    (root / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(sft.SafetensorError) as e:
        sft.Checkpoint(root)
    assert e.value.code == sft.Errc.shard_missing


def test_index_maps_tensor_to_wrong_shard(tmp_path):
    root = make_checkpoint(tmp_path / "c", SHARDS)
    index = json.loads((root / "model.safetensors.index.json").read_text())
    index["weight_map"]["c"] = "model-00001-of-00002.safetensors"
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    with sft.Checkpoint(root) as c:
        with pytest.raises(sft.SafetensorError) as e:
            c.get_tensor("c")
        assert e.value.code == sft.Errc.shard_missing_tensor
        errors, _ = c.check()
        assert [x.code for x in errors] == [sft.Errc.shard_missing_tensor]  # the other shard is no longer listed
    r = sft.validate(root)
    assert not r and r.status == "invalid" and r.checkpoint


@pytest.mark.parametrize("shard", ["../evil.safetensors", "/etc/passwd.safetensors", "sub/x.safetensors"])
def test_hostile_index(tmp_path, shard):
    root = tmp_path / "c"
    root.mkdir()
    (root / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": shard}}))
    with pytest.raises(sft.SafetensorError) as e:
        sft.Checkpoint(root)
    assert e.value.code == sft.Errc.shard_path


def test_bad_index_json(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    (root / "model.safetensors.index.json").write_text('{"weight_map": {"a": "x.safetensors"}, "weight_map": {}}')
    with pytest.raises(sft.SafetensorError) as e:
        sft.Checkpoint(root)
    assert e.value.code == sft.Errc.duplicate_key
    (root / "model.safetensors.index.json").write_text("[1, 2")
    with pytest.raises(sft.SafetensorError) as e:
        sft.Checkpoint(root)
    assert e.value.code == sft.Errc.bad_index


def test_total_size_warning(tmp_path):
    root = make_checkpoint(tmp_path / "c", SHARDS, total_size=False)
    r = sft.validate(root)
    assert r.ok and [w.code for w in r.warnings] == [sft.Errc.total_size_mismatch]
    r = sft.validate(root, strict=True)
    assert not r.ok and sft.Errc.total_size_mismatch in [e.code for e in r.errors]
