"""Shared fixtures of the Python package's tests (tests/python/).

The suite tests `sft` as installed (tests/python.cmake installs it into the
build directory and points PYTHONPATH there). numpy is required; torch,
ml_dtypes and the reference package `safetensors` widen it, and the tests
that need one skip with the reason when it is missing.
"""

import importlib.util
import os
import struct

import pytest

FIXTURES = os.environ.get(
    "SFT_FIXTURES_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "fixtures")
)


def has(module):
    return importlib.util.find_spec(module) is not None


needs_torch = pytest.mark.skipif(not has("torch"), reason="torch is not installed")
needs_ml_dtypes = pytest.mark.skipif(not has("ml_dtypes"), reason="ml_dtypes is not installed")
needs_reference = pytest.mark.skipif(not has("safetensors"), reason="the reference package safetensors is not installed")


def raw_file(header: bytes, data: bytes = b"", n=None) -> bytes:
    """A file from a header's JSON bytes: 8-byte length (n, or the JSON's), JSON, data."""
    return struct.pack("<Q", len(header) if n is None else n) + header + data


@pytest.fixture
def write_raw(tmp_path):
    """write_raw(name, header_bytes, data=b"", n=None) -> path of a hand-made file."""

    def make(name, header, data=b"", n=None):
        p = tmp_path / name
        p.write_bytes(raw_file(header, data, n))
        return str(p)

    return make
