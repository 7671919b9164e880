"""Turning numpy arrays, torch tensors and bytes-like objects into what the
native writer takes: a dtype name, a shape, and the address and length of
contiguous little-endian bytes (plus the object that keeps them alive)."""

import sys

from ._sft import SafetensorError, TensorSpec, _buffer_address, serialize, serialize_file

_LITTLE = sys.byteorder == "little"


def _numpy_bytes(array):
    """A C-contiguous, little-endian version of `array` (a copy only when needed)."""
    import numpy as np

    # Not np.ascontiguousarray: it turns 0-d arrays (scalars) into 1-d ones.
    a = array if array.flags.c_contiguous else array.copy(order="C")
    order = a.dtype.byteorder
    if order == ">" or (order == "=" and not _LITTLE):
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a


def numpy_spec(array):
    """(TensorSpec, keepalive) for a numpy array. Dtypes from ml_dtypes
    (bfloat16, float8_*) are written as the matching safetensors dtype."""
    a = _numpy_bytes(array)
    spec = TensorSpec(dtype=a.dtype.name, shape=a.shape, data_ptr=a.ctypes.data, data_len=a.nbytes)
    return spec, a


def torch_dtype_name(dtype):
    """'float32' for torch.float32: the spelling TensorSpec takes."""
    return str(dtype).rsplit(".", 1)[-1]


def torch_spec(tensor):
    """(TensorSpec, keepalive) for a dense, contiguous torch tensor (moved to
    the CPU first when it lives elsewhere)."""
    t = tensor
    if t.device.type != "cpu":
        t = t.to("cpu")
    nbytes = t.numel() * t.element_size()
    spec = TensorSpec(dtype=torch_dtype_name(t.dtype), shape=t.shape, data_ptr=t.data_ptr() if nbytes else 0,
                      data_len=nbytes)
    return spec, t


def any_spec(obj):
    """(TensorSpec, keepalive) for a numpy array or a torch tensor."""
    mod = type(obj).__module__
    if mod.startswith("torch"):
        t = obj.detach()
        if not t.is_contiguous():
            t = t.contiguous()
        return torch_spec(t)
    if mod.startswith("numpy"):
        return numpy_spec(obj)
    raise TypeError(f"expected a numpy array or a torch tensor, not {type(obj).__name__}")


def raw_bytes(obj):
    """(address, length, keepalive) of the bytes of an array, a tensor (in
    row-major order) or any bytes-like object."""
    mod = type(obj).__module__
    if mod.startswith("torch"):
        spec, keep = any_spec(obj)
        return spec.data_ptr, spec.data_len, keep
    if mod.startswith("numpy"):
        a = _numpy_bytes(obj)
        return a.ctypes.data, a.nbytes, a
    try:
        address, length = _buffer_address(obj)
    except TypeError:
        raise TypeError(f"expected an array, a tensor or a bytes-like object, not {type(obj).__name__}") from None
    return address, length, obj


def dtype_name(dtype):
    """The spelling of a dtype argument that TensorSpec takes: a str as given,
    a numpy dtype (or type) by its name, a torch.dtype by its attribute name."""
    if isinstance(dtype, str):
        return dtype
    if type(dtype).__module__.startswith("torch"):
        return torch_dtype_name(dtype)
    try:
        import numpy as np

        return np.dtype(dtype).name
    except Exception:
        raise SafetensorError(f"not a dtype: {dtype!r}") from None


def write_specs(specs, keep, metadata, filename=None):
    """serialize (filename None: the bytes) or serialize_file, keeping the
    arrays in `keep` alive until the bytes are written."""
    try:
        if filename is None:
            return serialize(specs, metadata=metadata)
        serialize_file(specs, filename, metadata=metadata)
        return None
    finally:
        del keep
