"""sft.load_to_device: files through sft's GPU loading layer (sft_gpu)."""

import os
from typing import Any, Dict, Iterable, Optional, Union

from ._checkpoint import Checkpoint
from ._sft import _Checkpoint, _load_to_device


def load_to_device(
    path_or_checkpoint: Union[str, os.PathLike, Checkpoint],
    device: str = "cpu",
    *,
    framework: str = "pt",
    names: Optional[Iterable[str]] = None,
    verify: bool = False,
    convert_to: Optional[str] = None,
    follow_external_symlinks: bool = False,
) -> Dict[str, Any]:
    """Every tensor (or those in `names`) of a file or checkpoint, uploaded
    through sft's GPU layer and returned as framework tensors on the device.

    device: "cpu" (the CPU backend: host memory), "cuda" / "cuda:N" (torch
    CUDA tensors, handed over through DLPack without a copy), or "auto" (the
    first CUDA device, else the CPU; OpenCL memory cannot be handed to torch
    or numpy). The upload reads the files in order through a pipeline of
    pinned staging buffers (docs/gpu.md); verify=True checks every region on
    the device against the file's bytes; convert_to="BF16" (or "F16", "F32")
    converts every floating-point tensor on the device.
    """
    if isinstance(path_or_checkpoint, Checkpoint):
        ckpt = path_or_checkpoint._c
    else:
        ckpt = _Checkpoint(path_or_checkpoint, "dlpack", "cpu", "pread", follow_external_symlinks)
    paths = ckpt.shard_paths()
    return _load_to_device(paths, device, framework, None if names is None else list(names), verify, convert_to)
