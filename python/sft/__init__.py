"""sft: safetensors files from Python, a drop-in for the ``safetensors`` package.

Replace ``safetensors`` by ``sft`` in a program's imports and it runs the same
way, faster: ``sft.safe_open``, ``sft.numpy`` and ``sft.torch`` (``save``,
``save_file``, ``load``, ``load_file``, ``save_model``, ``load_model``),
``sft.serialize`` / ``serialize_file`` / ``deserialize`` / ``TensorSpec``
and ``sft.SafetensorError`` have the reference's names and arguments. Beyond
the reference:

- zero-copy numpy arrays and torch tensors over a private, copy-on-write
  mapping of the file (writes never reach the file), ``copy=True`` for a copy
  of one's own, ``framework="dlpack"`` for JAX, CuPy and others;
- ``Checkpoint`` (safe_open's API across the shards of a checkpoint),
  ``validate``, ``hash`` / ``verify`` / ``embed_digests``, the streaming
  ``Writer`` and ``load_to_device``;
- errors that say what, where and which tensor: ``SafetensorError.code``
  (an ``Errc``), ``.offset``, ``.tensor``, ``.path``.

docs/python.md describes the API, the zero-copy semantics and every
difference from the reference.
"""

from ._sft import (  # noqa: F401
    DTYPES,
    Errc,
    SafeSlice,
    SafetensorError,
    SafetensorFileNotFoundError,
    TensorSpec,
    __version__,
    check_digests,
    deserialize,
    embed_digests,
    hash,
    safe_open,
    serialize,
    serialize_file,
    verify,
)
from ._checkpoint import Checkpoint  # noqa: F401
from ._device import load_to_device  # noqa: F401
from ._validate import ValidationResult, inspect, validate  # noqa: F401
from ._writer import Writer  # noqa: F401


class _safe_open_handle(safe_open):
    """safe_open on an open file object (one with ``fileno()`` and ``name``),
    as the reference's ``_safe_open_handle``: the file is opened again by name."""

    def __init__(self, f, framework, device="cpu", *, backend="mmap"):
        f.fileno()  # a real file, not an in-memory stream
        super().__init__(f.name, framework, device, backend=backend)


__all__ = [
    "Checkpoint",
    "DTYPES",
    "Errc",
    "SafeSlice",
    "SafetensorError",
    "SafetensorFileNotFoundError",
    "TensorSpec",
    "ValidationResult",
    "Writer",
    "check_digests",
    "deserialize",
    "embed_digests",
    "hash",
    "inspect",
    "load_to_device",
    "safe_open",
    "serialize",
    "serialize_file",
    "validate",
    "verify",
]
