// sft/tensor_view.hpp — a zero-copy view of one tensor's bytes.
//
// A TensorView points into bytes that are in memory — a File's mapping, or
// the buffer given to File::from_memory — and into the File's Header; it must
// not outlive the File. File::view() hands one out only where the bytes are in
// memory (it reports not_mapped otherwise, never an empty view); File::load()
// works in every mode (sft/tensor_bytes.hpp). File deletes the overloads that
// would hand out views of a temporary File, so `File::open(p)->tensor("w")`
// does not compile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sft/dtype.hpp"
#include "sft/element_types.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

class TensorBytes;

class TensorView {
 public:
  TensorView() = default;
  // The bytes of the whole tensor `*info`.
  TensorView(const TensorInfo* info, std::span<const std::byte> bytes) noexcept
      : info_(info), bytes_(bytes), shape_(info->shape) {}
  // Bytes with a shape of their own (a slice of `*info`).
  TensorView(const TensorInfo* info, std::span<const std::byte> bytes, std::span<const std::uint64_t> shape) noexcept
      : info_(info), bytes_(bytes), shape_(shape) {}

  // The tensor's entry in its File's header (for a slice: the sliced tensor's).
  const TensorInfo& info() const noexcept { return *info_; }
  std::string_view name() const noexcept { return info_->name; }
  DType dtype() const noexcept { return info_->dtype; }
  // The shape of these bytes: the tensor's, or a slice's.
  std::span<const std::uint64_t> shape() const noexcept { return shape_; }
  std::uint64_t element_count() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape_) n *= d;
    return n;
  }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  const std::byte* data() const noexcept { return bytes_.data(); }
  std::size_t size_bytes() const noexcept { return bytes_.size(); }

  // The elements as T (sft/element_types.hpp lists the T of every dtype),
  // after checking that T stands for this tensor's dtype (dtype_mismatch) and
  // that the bytes are aligned for T (misaligned_data: safetensors does not
  // align its data buffer, so a header whose length is not a multiple of
  // alignof(T), or a preceding tensor of odd size, leaves data misaligned;
  // to_owned() then gives an aligned copy).
  template <class T>
  Result<std::span<const T>> as() const {
    return detail::typed_span<T>(info_->name, info_->dtype, bytes_);
  }

  // A copy of these bytes in a buffer aligned to TensorBytes::alignment (64)
  // bytes, so that as<T>() cannot fail on alignment; out_of_memory if it
  // cannot be allocated. Defined with TensorBytes (sft/tensor_bytes.hpp).
  Result<TensorBytes> to_owned() const;

 private:
  const TensorInfo* info_ = nullptr;
  std::span<const std::byte> bytes_;
  std::span<const std::uint64_t> shape_;
};

}  // namespace sft
