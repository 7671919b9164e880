"""sft.Checkpoint: safe_open's API across the shards of a checkpoint."""

import os
from typing import Any, Dict, List, Optional, Union

from ._sft import _Checkpoint


class CheckpointSlice:
    """A tensor of a checkpoint to index, as safe_open's get_slice."""

    def __init__(self, checkpoint: "_Checkpoint", name: str):
        self._c = checkpoint
        self._name = name
        self._shape, self._dtype = checkpoint.slice_info(name)

    def get_shape(self) -> List[int]:
        return list(self._shape)

    def get_dtype(self) -> str:
        return self._dtype

    def __getitem__(self, key) -> Any:
        return self._c.get_slice_item(self._name, key)

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        return f"CheckpointSlice({self._name!r}, dtype={self._dtype}, shape={self._shape})"


class Checkpoint:
    """A model stored as one file or as shards with an index, read with
    safe_open's API: keys(), offset_keys(), metadata(), get_tensor(),
    get_tensors(), get_slice(), a context manager.

    `path` is a .safetensors file, an index (*.json: shards live beside it) or
    a directory holding model.safetensors.index.json, exactly one
    *.safetensors.index.json, or exactly one *.safetensors file. The index is
    untrusted input and is checked when opened (docs/checkpoints.md); a shard
    is opened the first time one of its tensors is asked for.

    follow_external_symlinks: accept shards that are symlinks leading outside
    the checkpoint's directory (the Hugging Face cache links snapshot files to
    ../../blobs/); refused by default.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike],
        framework: str = "np",
        device: Union[str, int] = "cpu",
        *,
        backend: str = "mmap",
        follow_external_symlinks: bool = False,
    ):
        self._c = _Checkpoint(path, framework, device, backend, follow_external_symlinks)
        self.path = os.fspath(path)

    def keys(self) -> List[str]:
        """Every tensor name of the index (or the single file), sorted."""
        return self._c.keys()

    def offset_keys(self) -> List[str]:
        """Tensor names in shard order, then data order within each shard."""
        return self._c.offset_keys()

    def metadata(self) -> Optional[Dict[str, str]]:
        """The __metadata__ of the first shard (transformers writes the same in each), or None."""
        return self._c.metadata()

    def get_tensor(self, name: str, *, copy: bool = False) -> Any:
        """One tensor, from the shard the index maps it to (opened if needed)."""
        return self._c.get_tensor(name, copy)

    def get_tensors(self, *, copy: bool = False, prefetch: Optional[bool] = None) -> Dict[str, Any]:
        """Every tensor of every shard, shard by shard."""
        return self._c.get_tensors(copy, prefetch)

    def get_slice(self, name: str) -> CheckpointSlice:
        return CheckpointSlice(self._c, name)

    @property
    def shards(self) -> List[str]:
        """Paths of the shard files, sorted by name (one for a single file)."""
        return self._c.shard_paths()

    @property
    def sharded(self) -> bool:
        """Opened through an index."""
        return self._c.sharded()

    @property
    def index_path(self) -> Optional[str]:
        return self._c.index_path() or None

    def check(self, strict: bool = False):
        """Opens every shard and checks every rule (docs/checkpoints.md):
        (errors, warnings), lists of SafetensorError. With strict, a total_size
        problem is an error rather than a warning."""
        return self._c.check(strict)

    def close(self) -> None:
        """Closes every shard; tensors handed out stay valid."""
        self._c.close()

    @property
    def closed(self) -> bool:
        return self._c.closed

    def __len__(self) -> int:
        return self._c.size()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._c.contains(name)

    def __iter__(self):
        return iter(self.keys())

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpoint({self.path!r}, shards={len(self.shards)}, tensors={len(self)})"
