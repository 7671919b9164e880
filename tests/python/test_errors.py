"""Errors: exception types, codes, offsets, tensor names, messages."""

import os

import numpy as np
import pytest

import sft
import sft.numpy


def test_missing_file_is_file_not_found():
    with pytest.raises(FileNotFoundError) as e:
        sft.safe_open("surely/not/here.safetensors", "np")
    assert str(e.value) == "No such file or directory: surely/not/here.safetensors"
    assert isinstance(e.value, sft.SafetensorError)
    assert e.value.code == sft.Errc.io_error and e.value.path == "surely/not/here.safetensors"


def test_missing_tensor(tmp_path):
    p = tmp_path / "a.safetensors"
    sft.numpy.save_file({"a": np.zeros(1)}, p)
    with sft.safe_open(p, "np") as f:
        for call in (f.get_tensor, f.get_slice):
            with pytest.raises(sft.SafetensorError) as e:
                call("b")
            assert e.value.code == sft.Errc.not_found and e.value.tensor == "b"
            assert "b" in str(e.value)


@pytest.mark.parametrize(
    "header, data, n, code, offset, tensor",
    [
        (b"{}", b"", 1 << 40, "header_too_large", 0, None),
        (b"{}", b"", 100, "header_length", 0, None),
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}', b"", None, "invalid_json", None, None),
        (b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', b"\0" * 4, None, "size_mismatch", None, "a"),
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8, None, "bad_offsets", None, "a"),
        (b'{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4, None, "unknown_dtype", None, "a"),
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 5, None, "incomplete_buffer", None, None),
        # sft is stricter than the reference here (docs/format.md): a repeated key.
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
         b"\0" * 4, None, "duplicate_key", None, None),
    ],
)
@pytest.mark.parametrize("backend", ["mmap", "pread"])
def test_malformed_headers(write_raw, header, data, n, code, offset, tensor, backend):
    path = write_raw("bad.safetensors", header, data, n)
    with pytest.raises(sft.SafetensorError) as e:
        sft.safe_open(path, "np", backend=backend)
    err = e.value
    assert err.code == getattr(sft.Errc, code), str(err)
    assert str(err).startswith(code + ": ")
    assert err.path == path
    if offset is not None:
        assert err.offset == offset
    if tensor is not None:
        assert err.tensor == tensor
    if code in ("invalid_json", "bad_offsets", "size_mismatch", "unknown_dtype", "duplicate_key"):
        assert isinstance(err.offset, int) and 8 <= err.offset <= 8 + len(header), (code, err.offset)


def test_short_file(write_raw, tmp_path):
    p = tmp_path / "short.safetensors"
    p.write_bytes(b"\x01\x02")
    with pytest.raises(sft.SafetensorError) as e:
        sft.safe_open(p, "np")
    assert e.value.code == sft.Errc.header_too_small


def test_errc_is_an_int_enum():
    assert int(sft.Errc.header_length) == 3 and sft.Errc(41).name == "not_found"
    assert sft.Errc.io_error == 40


def test_closed_file(tmp_path):
    p = tmp_path / "a.safetensors"
    sft.numpy.save_file({"a": np.zeros(1)}, p)
    with sft.safe_open(p, "np") as f:
        pass
    assert f.closed
    for call in (f.keys, f.metadata, lambda: f.get_tensor("a"), f.get_tensors):
        with pytest.raises(sft.SafetensorError, match="File is closed"):
            call()


def test_bad_arguments(tmp_path):
    p = tmp_path / "a.safetensors"
    sft.numpy.save_file({"a": np.zeros(1)}, p)
    with pytest.raises(sft.SafetensorError, match="framework tf is not supported"):
        sft.safe_open(p, "tf")
    with pytest.raises(sft.SafetensorError, match='backend "x" is invalid'):
        sft.safe_open(p, "np", backend="x")
    with pytest.raises(sft.SafetensorError, match="Device cuda:0 is not supported for framework numpy"):
        sft.safe_open(p, "np", device="cuda:0")
    with pytest.raises(sft.SafetensorError) as e:
        sft.TensorSpec(dtype="nonsense", shape=[1], data_ptr=0, data_len=0)
    assert e.value.code == sft.Errc.invalid_argument
    with pytest.raises(TypeError):
        sft.serialize({"a": {"dtype": "float32", "shape": [1], "data_ptr": 0, "data_len": 0}})


def test_writer_errors_are_coded(tmp_path):
    x = np.zeros(2, np.float32)
    with pytest.raises(sft.SafetensorError) as e:
        sft.serialize({"a": sft.TensorSpec(dtype="float32", shape=[3], data_ptr=x.ctypes.data, data_len=8)})
    assert e.value.code == sft.Errc.data_size_mismatch and e.value.tensor == "a"
    with pytest.raises(sft.SafetensorError) as e:
        sft.numpy.save({"__metadata__": x})
    assert e.value.code == sft.Errc.reserved_name
    with pytest.raises(sft.SafetensorError) as e:
        sft.numpy.save_file({"a": x}, tmp_path / "no" / "such" / "dir.safetensors")
    assert e.value.code == sft.Errc.write_failed
    assert not os.path.exists(tmp_path / "no")


def test_truncated_under_pread(tmp_path):
    # Another process truncates the file after it was opened: a pread read is
    # an io_error, never a crash.
    p = tmp_path / "t.safetensors"
    sft.numpy.save_file({"a": np.arange(1024, dtype=np.int64)}, p)
    with sft.safe_open(p, "np", backend="pread") as f:
        os.truncate(p, 200)
        with pytest.raises(sft.SafetensorError) as e:
            f.get_tensor("a")
        assert e.value.code == sft.Errc.io_error and e.value.tensor == "a"
