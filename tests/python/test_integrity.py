"""validate, inspect, hash, verify, embed_digests."""

import json
import re

import numpy as np
import pytest

import sft
import sft.numpy


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "d.safetensors"
    sft.numpy.save_file({"w": np.arange(100, dtype=np.float32), "b": np.arange(3, dtype=np.int8)}, p,
                        metadata={"format": "np"})
    return p


def test_validate(path, write_raw, tmp_path):
    r = sft.validate(path)
    assert r.ok and r.status == "valid" and r.errors == [] and bool(r)
    bad = write_raw("bad.safetensors", b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4)
    r = sft.validate(bad)
    assert not r and r.status == "invalid" and r.errors[0].code == sft.Errc.size_mismatch
    r = sft.validate(tmp_path / "missing.safetensors")
    assert r.status == "unreadable" and r.errors[0].code == sft.Errc.io_error


def test_validate_strict(write_raw):
    # Valid for the reference, but the header length is not a multiple of 8 and
    # an entry carries an unknown field.
    p = write_raw("s.safetensors", b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"note":1}}', b"\0")
    assert sft.validate(p).ok
    r = sft.validate(p, strict=True)
    assert r.status == "invalid"
    assert all(e.code == sft.Errc.strict_violation for e in r.errors)
    rules = {str(e.message).split(":")[0] for e in r.errors}
    assert {"header_alignment", "unknown_field"} <= rules


def test_inspect(path):
    info = sft.inspect(path)
    assert info["metadata"] == {"format": "np"}
    assert [t["name"] for t in info["tensors"]] == ["w", "b"]
    assert info["tensors"][0]["data_offsets"] == (0, 400) and info["tensors"][0]["shape"] == [100]
    assert info["file_bytes"] == 8 + info["header_bytes"] + info["data_bytes"] == path.stat().st_size


def test_hash_embed_verify(path, tmp_path):
    h = sft.hash(path)
    assert re.fullmatch("[0-9a-f]{32}", h["file"]) and set(h["tensors"]) == {"w", "b"}
    assert sft.hash(path) == h  # deterministic
    with pytest.raises(sft.SafetensorError) as e:
        sft.verify(path)
    assert e.value.code == sft.Errc.no_digest
    out = tmp_path / "embedded.safetensors"
    sft.embed_digests(path, out)
    md = sft.safe_open(out, "np").metadata()
    assert json.loads(md["sft.xxh3_128"]) == h["tensors"] and md["format"] == "np"
    assert sft.verify(out) == 2 and sft.verify(out, "w") == 1
    assert sft.check_digests(out)["ok"]
    # Corrupt one byte of "b"'s data: verify names it.
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(sft.SafetensorError) as e:
        sft.verify(out)
    assert e.value.code == sft.Errc.digest_mismatch and e.value.tensor == "b"
    sft.verify(out, "w")  # the other tensor is intact
    report = sft.check_digests(out)
    assert not report["ok"] and report["mismatched"] == ["b"] and report["checked"] == 2
