"""numpy arrays to and from safetensors files: the reference's ``safetensors.numpy``.

Arrays loaded from a file (``load_file``, ``safe_open(..., "np")``) are
zero-copy views of a private, copy-on-write mapping of it: writing to them
works and never reaches the file, and they stay valid after the file is
closed. ``copy=True`` gives arrays with memory of their own. bfloat16 and the
float8 dtypes come as ml_dtypes arrays; F4 and F6 as packed uint8 bytes
(docs/python.md).
"""

import os
from typing import Dict, Optional, Union

import numpy as np

from ._sft import _load_bytes, safe_open
from ._tensors import numpy_spec, write_specs

__all__ = ["save", "save_file", "load", "load_file"]


def _specs(tensor_dict):
    if not isinstance(tensor_dict, dict):
        raise ValueError(f"Expected a dict of [str, np.ndarray] but received {type(tensor_dict)}")
    specs, keep = {}, []
    for name, array in tensor_dict.items():
        if not isinstance(array, np.ndarray):
            array = np.asarray(array)
        spec, k = numpy_spec(array)
        specs[name] = spec
        keep.append(k)
    return specs, keep


def save(tensor_dict: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """The safetensors file of `tensor_dict` as bytes, byte-identical to the
    reference's (big-endian arrays are written little-endian)."""
    return write_specs(*_specs(tensor_dict), metadata)


def save_file(
    tensor_dict: Dict[str, np.ndarray],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
) -> None:
    """Writes `tensor_dict` to `filename` atomically (a temporary file renamed
    over it: on failure the target is untouched)."""
    write_specs(*_specs(tensor_dict), metadata, filename)


def load(data: bytes) -> Dict[str, np.ndarray]:
    """Every tensor of an in-memory file, as arrays of their own."""
    return _load_bytes(data, "numpy")


def load_file(
    filename: Union[str, os.PathLike], *, backend: str = "mmap", copy: bool = False
) -> Dict[str, np.ndarray]:
    """Every tensor of a file, in the order of their data. With the mmap
    backend (and copy=False) the arrays are zero-copy views; with
    backend="pread" or copy=True each has its own memory, read in parallel."""
    with safe_open(filename, framework="np", backend=backend) as f:
        return f._load_all(copy)
