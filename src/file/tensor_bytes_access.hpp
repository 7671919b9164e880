// src/file/tensor_bytes_access.hpp — how File builds TensorBytes (internal).
#pragma once

#include <cstdint>
#include <span>

#include "sft/tensor_bytes.hpp"

namespace sft::detail {

struct TensorBytesAccess {
  // A view of bytes in memory with the shape of `info` (no allocation).
  static TensorBytes view(const TensorInfo& info, std::span<const std::byte> bytes) noexcept;
  // A view of bytes in memory with a shape of its own, copied into a small
  // allocation (a slice); out_of_memory if that fails.
  static Result<TensorBytes> view(const TensorInfo& info, std::span<const std::uint64_t> shape,
                                  std::span<const std::byte> bytes);
  // An owned, uninitialised buffer of `n` bytes aligned to TensorBytes::alignment;
  // the shape is `info`'s when `shape` is null, else a copy of *shape.
  // Fill it through writable(). out_of_memory if it cannot be allocated.
  static Result<TensorBytes> allocate(const TensorInfo& info, const std::span<const std::uint64_t>* shape,
                                      std::uint64_t n);
  static std::span<std::byte> writable(TensorBytes& t) noexcept {
    return {const_cast<std::byte*>(t.bytes_.data()), t.bytes_.size()};
  }
};

}  // namespace sft::detail
