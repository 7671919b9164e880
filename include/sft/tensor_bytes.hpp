// sft/tensor_bytes.hpp — a tensor's bytes in every mode: a view where they are
// in memory, an owned, aligned copy where they are not.
//
// File::load(info) returns a TensorBytes whatever the File's source:
//   * mapped files and File::from_memory: a zero-copy view of the bytes in
//     memory (owned() == false), exactly what File::view() gives;
//   * pread mode, compressed checkpoints (and any source whose bytes are not
//     in memory): the bytes read (decompressed) into a buffer that this object
//     owns (owned() == true), aligned to TensorBytes::alignment (64) bytes, so
//     that as<T>() never fails on alignment there.
// File::slice(info, spec) returns one too: a view when the slice is one
// contiguous run of bytes in memory, otherwise an owned copy of the selected
// elements, with the slice's shape.
//
// The same checked, typed access as TensorView: as<T>() (dtype_mismatch,
// misaligned_data; sft/element_types.hpp lists the T of every dtype). A view
// of a misaligned tensor is copied to aligned memory with to_owned().
//
// Lifetime: a TensorBytes must not outlive the File it came from (info()
// points into the File's header, and a view into its memory), even when it
// owns its bytes. It is move-only; the accessors that would return pointers
// into a temporary TensorBytes are deleted, and so is operator-> on a
// temporary Result<TensorBytes>: name the Result first
// (`auto t = file.load(info); t->as<float>()`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sft/dtype.hpp"
#include "sft/element_types.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"
#include "sft/tensor_view.hpp"

namespace sft {

namespace detail {
struct TensorBytesAccess;  // src/file/tensor_bytes_access.hpp builds them
}

class TensorBytes {
 public:
  // Alignment of owned bytes.
  static constexpr std::size_t alignment = 64;

  TensorBytes() noexcept = default;  // holds no tensor (info() must not be called)
  TensorBytes(TensorBytes&& other) noexcept;
  TensorBytes& operator=(TensorBytes&& other) noexcept;
  TensorBytes(const TensorBytes&) = delete;
  TensorBytes& operator=(const TensorBytes&) = delete;
  ~TensorBytes();

  // The tensor's entry in its File's header (for a slice: the sliced tensor's).
  const TensorInfo& info() const noexcept { return *info_; }
  std::string_view name() const noexcept { return info_->name; }
  DType dtype() const noexcept { return info_->dtype; }
  // The shape of these bytes: the tensor's, or the slice's.
  std::span<const std::uint64_t> shape() const& noexcept { return shape_; }
  std::span<const std::uint64_t> shape() && = delete;
  std::uint64_t element_count() const noexcept {
    std::uint64_t n = 1;
    for (auto d : shape_) n *= d;
    return n;
  }
  std::span<const std::byte> bytes() const& noexcept { return bytes_; }
  std::span<const std::byte> bytes() && = delete;
  const std::byte* data() const& noexcept { return bytes_.data(); }
  const std::byte* data() && = delete;
  std::size_t size_bytes() const noexcept { return bytes_.size(); }
  // True when the bytes are a copy held by this object (aligned to
  // `alignment`); false for a view of the File's memory.
  bool owned() const noexcept { return owned_; }

  // The elements as T, checked as TensorView::as<T>() checks them.
  template <class T>
  Result<std::span<const T>> as() const& {
    return detail::typed_span<T>(info_->name, info_->dtype, bytes_);
  }
  template <class T>
  Result<std::span<const T>> as() && = delete;

  // These bytes as a TensorView (same info, shape and bytes); valid while
  // this object and its File live.
  TensorView view() const& noexcept { return TensorView(info_, bytes_, shape_); }
  TensorView view() && = delete;

  // An owned copy aligned to `alignment` bytes (even when this one is owned
  // already); out_of_memory if it cannot be allocated.
  Result<TensorBytes> to_owned() const;

 private:
  friend struct detail::TensorBytesAccess;
  void release() noexcept;

  const TensorInfo* info_ = nullptr;
  std::span<const std::byte> bytes_;
  std::span<const std::uint64_t> shape_;
  void* storage_ = nullptr;  // one aligned allocation: a slice's shape, then owned bytes; null if neither
  bool owned_ = false;
};

template <>
inline constexpr bool result_owns_views<TensorBytes> = true;

}  // namespace sft
