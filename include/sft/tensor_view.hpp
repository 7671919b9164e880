// sft/tensor_view.hpp — a zero-copy view of one tensor's bytes.
//
// A TensorView points into a File's mapping (or the memory given to
// File::from_memory) and into its Header; it must not outlive the File. File
// deletes the overloads that would hand out views of a temporary File, so
// `File::open(p)->tensor("w")` does not compile.
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

#include "sft/dtype.hpp"
#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

// Storage types for the 16-bit floats, so that as<T>() can tell F16 from BF16
// from U16. They hold the raw bits; sft/convert.hpp (when present) decodes them.
struct float16 { std::uint16_t bits; };
struct bfloat16 { std::uint16_t bits; };
static_assert(sizeof(float16) == 2 && sizeof(bfloat16) == 2);

// The dtype a C++ element type stands for in as<T>(); specialised below.
template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::BOOL; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::U8; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::I8; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::I16; };
template <> struct dtype_of<std::uint16_t> { static constexpr DType value = DType::U16; };
template <> struct dtype_of<float16> { static constexpr DType value = DType::F16; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<std::uint32_t> { static constexpr DType value = DType::U32; };
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<std::complex<float>> { static constexpr DType value = DType::C64; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<std::uint64_t> { static constexpr DType value = DType::U64; };

class TensorView {
 public:
  TensorView() = default;
  TensorView(const TensorInfo* info, std::span<const std::byte> bytes) noexcept : info_(info), bytes_(bytes) {}

  const TensorInfo& info() const noexcept { return *info_; }
  std::string_view name() const noexcept { return info_->name; }
  DType dtype() const noexcept { return info_->dtype; }
  std::span<const std::uint64_t> shape() const noexcept { return info_->shape; }
  std::uint64_t element_count() const noexcept { return info_->element_count(); }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }
  const std::byte* data() const noexcept { return bytes_.data(); }
  std::size_t size_bytes() const noexcept { return bytes_.size(); }

  // The elements as T, after checking that T is this tensor's dtype
  // (dtype_mismatch) and that the bytes are aligned for T (misaligned_data:
  // safetensors does not align its data buffer, so a header whose length is not
  // a multiple of alignof(T), or a preceding tensor of odd size, leaves
  // data misaligned; copy it out with File::read instead).
  template <class T>
  Result<std::span<const T>> as() const {
    static_assert(std::is_trivially_copyable_v<T>, "as<T>() needs a trivially copyable T");
    if (dtype_of<T>::value != info_->dtype)
      return Error(Errc::dtype_mismatch,
                   std::string("tensor has dtype ") + std::string(sft::name(info_->dtype)) +
                       ", not " + std::string(sft::name(dtype_of<T>::value)),
                   Error::no_offset, std::string(info_->name));
    if (reinterpret_cast<std::uintptr_t>(bytes_.data()) % alignof(T) != 0)
      return Error(Errc::misaligned_data,
                   "tensor data is not aligned to " + std::to_string(alignof(T)) + " bytes",
                   Error::no_offset, std::string(info_->name));
    return std::span<const T>(reinterpret_cast<const T*>(bytes_.data()), bytes_.size() / sizeof(T));
  }

 private:
  const TensorInfo* info_ = nullptr;
  std::span<const std::byte> bytes_;
};

}  // namespace sft
