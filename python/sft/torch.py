"""torch tensors to and from safetensors files: the reference's ``safetensors.torch``.

``load_file`` builds every tensor in one native call; with the mmap backend
the tensors are zero-copy views of a private, copy-on-write mapping of the
file (as the reference's), with ``copy=True`` they own their memory.
``save_model`` / ``load_model`` handle tensors that share memory as the
reference does: only one name of each shared group is written, and the
others are recorded in the metadata.
"""

import os
from collections import defaultdict
from typing import Any, Dict, List, Optional, Set, Tuple, Union

import torch

from ._sft import _load_bytes, safe_open
from ._tensors import torch_spec, write_specs

__all__ = ["save", "save_file", "load", "load_file", "save_model", "load_model"]


# --- which tensors share memory ------------------------------------------------------

def storage_ptr(tensor: torch.Tensor) -> int:
    """Address of the tensor's storage (0 for storage-less tensors, e.g. on the meta device)."""
    try:
        return tensor.untyped_storage().data_ptr()
    except (NotImplementedError, RuntimeError):
        return 0


def storage_size(tensor: torch.Tensor) -> int:
    """Bytes in the tensor's storage."""
    try:
        return tensor.untyped_storage().nbytes()
    except (NotImplementedError, RuntimeError):
        return tensor.nelement() * tensor.element_size()


def _end_ptr(tensor: torch.Tensor) -> int:
    """One past the last byte the tensor's elements occupy."""
    start = tensor.data_ptr()
    if tensor.nelement() == 0:
        return start
    last = sum((size - 1) * stride for size, stride in zip(tensor.shape, tensor.stride()))
    return start + (last + 1) * tensor.element_size()


def _filter_shared_not_shared(tensors: List[Set[str]], state_dict: Dict[str, torch.Tensor]) -> List[Set[str]]:
    """Splits each group of names sharing a storage into groups whose byte
    ranges actually overlap (tensors side by side in one storage do not)."""
    result = []
    for group in tensors:
        if len(group) < 2:
            result.append(group)
            continue
        spans = sorted((state_dict[n].data_ptr(), _end_ptr(state_dict[n]), n) for n in group)
        current, reach = {spans[0][2]}, spans[0][1]
        for start, end, name in spans[1:]:
            if start >= reach:
                result.append(current)
                current = set()
            current.add(name)
            reach = end
        result.append(current)
    return result


def _find_shared_tensors(state_dict: Dict[str, torch.Tensor]) -> List[Set[str]]:
    """Groups of names whose tensors overlap in memory (meta tensors and empty
    storages excluded)."""
    by_storage: Dict[Tuple[Any, int, int], Set[str]] = defaultdict(set)
    for name, t in state_dict.items():
        if t.device.type == "meta":
            continue
        ptr, size = storage_ptr(t), storage_size(t)
        if ptr != 0 and size != 0:
            by_storage[(t.device, ptr, size)].add(name)
    return _filter_shared_not_shared(sorted(by_storage.values()), state_dict)


def _is_complete(tensor: torch.Tensor) -> bool:
    """True when the tensor covers its whole storage exactly."""
    return (
        tensor.data_ptr() == storage_ptr(tensor)
        and tensor.nelement() * tensor.element_size() == storage_size(tensor)
    )


def _remove_duplicate_names(
    state_dict: Dict[str, torch.Tensor],
    *,
    preferred_names: Optional[List[str]] = None,
    discard_names: Optional[List[str]] = None,
) -> Dict[str, List[str]]:
    """For each group of shared tensors, the name to keep -> the names to drop.
    The kept name covers the whole storage; among those, a preferred name
    wins, then one not to be discarded, then the first in sorted order."""
    preferred = set(preferred_names or [])
    discard = set(discard_names or [])
    removals: Dict[str, List[str]] = defaultdict(list)
    for group in _find_shared_tensors(state_dict):
        complete = {n for n in group if _is_complete(state_dict[n])}
        if not complete:
            raise RuntimeError(
                "Error while trying to find names to remove to save state dict, but found no suitable name to keep"
                f" for saving amongst: {group}. None is covering the entire storage.Refusing to save/load the model"
                " since you could be storing much more memory than needed. Please refer to"
                " https://huggingface.co/docs/safetensors/torch_shared_tensors for more information. Or open an"
                " issue."
            )
        candidates = (complete & preferred) or (complete - discard) or complete
        keep = min(candidates)
        for name in sorted(group):
            if name != keep:
                removals[keep].append(name)
    return removals


# --- saving --------------------------------------------------------------------------

def _check_for_save(tensors: Dict[str, torch.Tensor]) -> None:
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, torch.Tensor] but received {type(tensors)}")
    sparse = []
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"Key `{name}` is invalid, expected torch.Tensor but received {type(t)}")
        if t.layout != torch.strided:
            sparse.append(name)
    if sparse:
        raise ValueError(
            f"You are trying to save a sparse tensors: `{sparse}` which this library does not support."
            " You can make it a dense tensor before saving with `.to_dense()` but be aware this might"
            " make a much larger file than needed."
        )
    shared = [group for group in _find_shared_tensors(tensors) if len(group) > 1]
    if shared:
        raise RuntimeError(
            f"Some tensors share memory, this will lead to duplicate memory on disk and potential differences"
            f" when loading them again: {shared}.\n"
            "A potential way to correctly save your model is to use `save_model`.\n"
            "More information at https://huggingface.co/docs/safetensors/torch_shared_tensors"
        )


def _specs(tensors: Dict[str, torch.Tensor]):
    _check_for_save(tensors)
    specs, keep = {}, []
    for name, t in tensors.items():
        if not t.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{name}` which is not allowed. It either means you"
                " are trying to save tensors which are reference of each other in which case it's recommended to"
                " save only the full tensors, and reslice at load time, or simply call `.contiguous()` on your"
                " tensor to pack it before saving."
            )
        spec, k = torch_spec(t)
        specs[name] = spec
        keep.append(k)
    return specs, keep


def save(tensors: Dict[str, torch.Tensor], metadata: Optional[Dict[str, str]] = None) -> bytes:
    """The safetensors file of `tensors` as bytes, byte-identical to the reference's."""
    return write_specs(*_specs(tensors), metadata)


def save_file(
    tensors: Dict[str, torch.Tensor],
    filename: Union[str, os.PathLike],
    metadata: Optional[Dict[str, str]] = None,
) -> None:
    """Writes `tensors` to `filename` atomically (a temporary file renamed over
    it: on failure the target is untouched, and a file another process has
    mapped keeps its old bytes)."""
    write_specs(*_specs(tensors), metadata, filename)


def save_model(
    model: torch.nn.Module,
    filename: str,
    metadata: Optional[Dict[str, str]] = None,
    force_contiguous: bool = True,
) -> None:
    """Saves `model.state_dict()`, writing one name of each group of tensors
    that share memory; each dropped name is recorded in the metadata as
    dropped -> kept (unless the caller's metadata already has that key)."""
    state_dict = model.state_dict()
    for kept, dropped in _remove_duplicate_names(state_dict).items():
        for name in dropped:
            if metadata is None:
                metadata = {}
            metadata.setdefault(name, kept)
            del state_dict[name]
    if force_contiguous:
        state_dict = {k: v.contiguous() for k, v in state_dict.items()}
    try:
        save_file(state_dict, filename, metadata=metadata)
    except ValueError as e:
        raise ValueError(
            f"{e} Or use save_model(..., force_contiguous=True), read the docs for potential caveats."
        ) from None


# --- loading -------------------------------------------------------------------------

def load_file(
    filename: Union[str, os.PathLike],
    device: Union[str, int] = "cpu",
    *,
    backend: str = "mmap",
    copy: bool = False,
) -> Dict[str, torch.Tensor]:
    """Every tensor of a file, in the order of their data, built in one native
    call. mmap backend: zero-copy views of a private mapping (writes never
    reach the file); backend="pread" or copy=True: tensors that own their
    memory, read in parallel. `device`: where torch should put them."""
    with safe_open(filename, framework="pt", device=device, backend=backend) as f:
        return f._load_all(copy)


def load(data: bytes) -> Dict[str, torch.Tensor]:
    """Every tensor of an in-memory file, as tensors of their own."""
    return _load_bytes(data, "torch")


def load_model(
    model: torch.nn.Module,
    filename: Union[str, os.PathLike],
    strict: bool = True,
    device: Union[str, int] = "cpu",
    *,
    backend: str = "mmap",
) -> Tuple[List[str], List[str]]:
    """Loads a file written by save_model into `model`. Returns (missing,
    unexpected): names of the model the file did not fill, names of the file
    the model did not take. With strict, either being non-empty raises."""
    state_dict = load_file(filename, device=device, backend=backend)
    shared = _remove_duplicate_names(model.state_dict(), preferred_names=list(state_dict.keys()))
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = set(missing)
    for names in shared.values():
        for name in names:
            if name in missing:
                missing.remove(name)
            else:
                unexpected.append(name)
    if strict and (missing or unexpected):
        message = f"Error(s) in loading state_dict for {model.__class__.__name__}:"
        if missing:
            message += "\n    Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(missing))
        if unexpected:
            message += "\n    Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in sorted(unexpected))
        raise RuntimeError(message)
    return missing, unexpected
