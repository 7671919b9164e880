// sft/element_types.hpp — the C++ element type of every dtype, for typed access.
//
// TensorView::as<T>() and TensorBytes::as<T>() hand out a tensor's bytes as
// std::span<const T> after checking that T stands for the tensor's dtype
// (dtype_mismatch) and that the bytes are aligned for T (misaligned_data).
// Every dtype has such a T:
//
//   dtype        T                                  elements in the span
//   BOOL, U8     std::uint8_t                       one per element
//   I8 .. U64    std::int8_t .. std::uint64_t       one per element
//   F16, BF16    float16, bfloat16                  one per element
//   F32, F64     float, double                      one per element
//   C64          std::complex<float>                one per element
//   F8_*         float8_e5m2, float8_e4m3,          one per element
//                float8_e8m0, float8_e4m3fnuz,
//                float8_e5m2fnuz
//   F4           float4_e2m1x2                      one per byte: two elements,
//                                                   the first in the low nibble
//   F6_E2M3,     float6_e2m3_packed,                one per byte: four elements
//   F6_E3M2      float6_e3m2_packed                 in every three bytes
//                                                   (docs/format.md gives the packing)
//
// The narrow float types are storage types: they hold the raw bits, so that a
// span of them says which format its bytes are in. sft/convert.hpp decodes
// them to float. BOOL is read as std::uint8_t, not bool: a file may hold any
// byte in a BOOL tensor, and a bool whose byte is neither 0 nor 1 is undefined
// behaviour in C++, so sft never forms one from file bytes (compare with 0).
#pragma once

#include <complex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>

#include "sft/dtype.hpp"
#include "sft/result.hpp"

namespace sft {

// 16-bit floats.
struct float16 { std::uint16_t bits; };
struct bfloat16 { std::uint16_t bits; };
// 8-bit floats, named as ml_dtypes names them (float8_e4m3 is e4m3fn).
struct float8_e5m2 { std::uint8_t bits; };
struct float8_e4m3 { std::uint8_t bits; };
struct float8_e8m0 { std::uint8_t bits; };
struct float8_e4m3fnuz { std::uint8_t bits; };
struct float8_e5m2fnuz { std::uint8_t bits; };
// Bytes of a sub-byte dtype: each byte holds packed elements of dtype D.
template <DType D>
struct packed_byte {
  static_assert(is_subbyte(D), "packed_byte is for the sub-byte dtypes F4, F6_E2M3 and F6_E3M2");
  std::uint8_t bits;
};
using float4_e2m1x2 = packed_byte<DType::F4>;
using float6_e2m3_packed = packed_byte<DType::F6_E2M3>;
using float6_e3m2_packed = packed_byte<DType::F6_E3M2>;

static_assert(sizeof(float16) == 2 && sizeof(bfloat16) == 2 && sizeof(float8_e4m3) == 1 && sizeof(float4_e2m1x2) == 1);

// The dtype a C++ element type stands for; specialised below. There is
// deliberately none for bool (see above).
template <class T> struct dtype_of;
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
template <> struct dtype_of<float8_e5m2> { static constexpr DType value = DType::F8_E5M2; };
template <> struct dtype_of<float8_e4m3> { static constexpr DType value = DType::F8_E4M3; };
template <> struct dtype_of<float8_e8m0> { static constexpr DType value = DType::F8_E8M0; };
template <> struct dtype_of<float8_e4m3fnuz> { static constexpr DType value = DType::F8_E4M3FNUZ; };
template <> struct dtype_of<float8_e5m2fnuz> { static constexpr DType value = DType::F8_E5M2FNUZ; };
template <DType D> struct dtype_of<packed_byte<D>> { static constexpr DType value = D; };

// True when as<T>() accepts a tensor of dtype `d`: dtype_of<T>, and for
// std::uint8_t also BOOL.
template <class T>
constexpr bool accepts_dtype(DType d) noexcept {
  if constexpr (std::is_same_v<T, std::uint8_t>) return d == DType::U8 || d == DType::BOOL;
  else return d == dtype_of<T>::value;
}

namespace detail {

// The checks behind as<T>(): the bytes of tensor `tensor` (dtype `dtype`) as T.
template <class T>
Result<std::span<const T>> typed_span(std::string_view tensor, DType dtype, std::span<const std::byte> bytes) {
  static_assert(std::is_trivially_copyable_v<T>, "as<T>() needs a trivially copyable T");
  if (!accepts_dtype<T>(dtype))
    return Error(Errc::dtype_mismatch,
                 std::string("tensor has dtype ") + std::string(sft::name(dtype)) + ", not " +
                     std::string(sft::name(dtype_of<T>::value)),
                 Error::no_offset, std::string(tensor));
  if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(T) != 0)
    return Error(Errc::misaligned_data,
                 "tensor data is not aligned to " + std::to_string(alignof(T)) +
                     " bytes (to_owned() makes an aligned copy)",
                 Error::no_offset, std::string(tensor));
  return std::span<const T>(reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T));
}

}  // namespace detail

}  // namespace sft
