// python/src/frameworks.hpp — building numpy arrays, torch tensors and DLPack
// tensors in native code.
//
// Per-tensor Python overhead is what loading a checkpoint of many small
// tensors costs, so every array is made with one call into the framework and
// no Python-level code:
//   torch   a DLPack capsule (shape and dtype filled in here, the bytes'
//           owner in its manager context) handed to torch's own C
//           importer (torch._C._from_dlpack);
//   numpy   numpy.ndarray(shape, dtype, buffer, offset) over one buffer
//           object per mapping (or per owned copy), so the array's .base
//           keeps the bytes alive;
//   dlpack  nanobind's array object, which implements __dlpack__ and
//           __dlpack_device__ (JAX, CuPy, TensorFlow, numpy's from_dlpack
//           take it without a copy) and the buffer protocol.
//
// Dtypes: numpy gets bfloat16 and the float8 types from ml_dtypes; torch its
// native dtypes. F4 and F6 elements are packed (two F4 or four F6 per one or
// three bytes): numpy and DLPack see them as packed uint8 bytes, torch sees F4
// as float4_e2m1fn_x2 and F6 as uint8; the last dimension of the shape is then
// its byte count (F4: the header's last dimension / 2, F6: x 3/4) when it packs
// into whole bytes, and the array is flat (its byte count) otherwise.
//
// The framework APIs (modules, dtype objects) are looked up once per process
// and published atomically; they are never modified afterwards, so threads
// need no lock to use them (free-threaded Python included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "sft/dtype.hpp"

namespace sftpy {

enum class Framework : std::uint8_t { numpy, torch, dlpack };

// "np"/"numpy", "pt"/"torch", "dlpack"; SafetensorError for anything else.
Framework parse_framework(std::string_view name);
std::string_view framework_name(Framework f) noexcept;

// What keeps a tensor's bytes alive: the Source of a mapping (shared by all
// its views) or the OwnedBuffer of a copy.
using Keep = std::shared_ptr<const void>;

// A tensor's bytes in host memory, with its logical (header) shape.
struct HostTensor {
  std::byte* data = nullptr;
  std::size_t nbytes = 0;
  sft::DType dtype = sft::DType::U8;
  std::span<const std::uint64_t> shape;
};

// The shape a framework sees (see the packing rule above).
std::vector<std::int64_t> storage_shape(sft::DType dtype, std::span<const std::uint64_t> shape, std::size_t nbytes);

// A region of memory as a Python object exporting it as uint8 bytes (buffer
// protocol and DLPack), kept alive by `keep`: the base of numpy views.
nb::object region_object(std::byte* data, std::size_t nbytes, Keep keep, bool writable);

// Makes framework objects; construct with the GIL held (it imports the
// framework on first use).
class Emitter {
 public:
  explicit Emitter(Framework fw);
  Framework framework() const noexcept { return fw_; }

  // A view of t (whose bytes lie inside the region that `numpy_base` exports,
  // starting at region_start). `keep` must keep the bytes alive.
  nb::object view(const HostTensor& t, const Keep& keep, nb::handle numpy_base, const std::byte* region_start,
                  bool writable) const;
  // An array that owns its bytes through `keep` (a copy).
  nb::object owned(const HostTensor& t, Keep keep) const;

 private:
  Framework fw_;
  const void* api_ = nullptr;  // NumpyApi / TorchApi
};

// A tensor in device memory (DLPack device type: 2 CUDA), for torch or as a
// DLPack tensor; its bytes are kept alive by `keep`.
nb::object device_tensor(Framework fw, const HostTensor& t, Keep keep, int device_type, int device_id);

// The torch.dtype object for an sft dtype (for Python-side helpers), or None.
nb::object torch_dtype(sft::DType dtype);

}  // namespace sftpy
