"""sft.Writer: writing a safetensors file tensor by tensor, atomically."""

import os
from typing import Dict, Iterable, Optional, Union

from ._sft import _StreamWriter
from ._tensors import any_spec, dtype_name, raw_bytes


class Writer:
    """Writes one safetensors file, in the reference's layout, atomically: the
    bytes go to a temporary file beside the target, which replaces the target
    only when the writer is committed (leaving a `with` block without an
    exception); on an error or abort() the target is untouched and the
    temporary removed.

    Two ways to give tensors, which can be mixed:

    - ``add(name, tensor)``: a numpy array or torch tensor, written with the
      header (kept referenced, not copied, until then);
    - ``declare(name, dtype, shape)`` for every such tensor first, then its
      bytes with ``write(name, chunk)`` (appending) or ``write_at(name,
      offset, chunk)`` (any order), in pieces of any size. Memory stays
      bounded by the pieces, whatever the size of the file: convert or
      generate a checkpoint tensor by tensor and drop each after writing it.

    The header is written at the first write()/write_at() (so every tensor
    must be added or declared by then); commit() checks that every declared
    byte was written (missing_data otherwise).

        with sft.Writer("out.safetensors", metadata={"format": "pt"}) as w:
            for name, t in small.items():
                w.add(name, t)
            w.declare("embed", "BF16", [32000, 4096])
            for rows in produce_embedding_rows():
                w.write("embed", rows)
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        metadata: Optional[Dict[str, str]] = None,
        *,
        alignment: int = 8,
        durable: bool = True,
    ):
        self.path = os.fspath(path)
        self._w = _StreamWriter(self.path, metadata, alignment, durable)

    def add(self, name: str, tensor) -> None:
        """A tensor with its bytes (numpy array or torch tensor)."""
        spec, keep = any_spec(tensor)
        self._w.add(name, spec, keep)

    def declare(self, name: str, dtype, shape: Iterable[int]) -> None:
        """A tensor whose bytes come later through write()/write_at(). dtype:
        a header spelling ("BF16"), a numpy or torch dtype or its name."""
        self._w.declare(name, dtype_name(dtype), [int(d) for d in shape])

    def write(self, name: str, data) -> None:
        """Appends bytes to a declared tensor: an array or tensor (its bytes in
        row-major order) or any bytes-like object."""
        address, length, keep = raw_bytes(data)
        self._w.write(name, address, length)
        del keep

    def write_at(self, name: str, offset: int, data) -> None:
        """Writes bytes at `offset` within a declared tensor's bytes."""
        address, length, keep = raw_bytes(data)
        self._w.write_at(name, offset, address, length)
        del keep

    def remaining(self) -> int:
        """Bytes of declared tensors not written yet (after the first write)."""
        return self._w.remaining()

    def commit(self) -> None:
        """Finishes the file and moves it into place."""
        self._w.commit()

    def abort(self) -> None:
        """Drops the file: the target is untouched, the temporary removed."""
        self._w.abort()

    @property
    def closed(self) -> bool:
        return self._w.closed

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._w.closed:
            return
        if exc_type is None:
            self._w.commit()
        else:
            self._w.abort()
