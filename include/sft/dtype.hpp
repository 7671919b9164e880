// sft/dtype.hpp — the 22 element types of the safetensors format.
//
// The enumerators are numbered in the reference implementation's own order (its
// Rust enum), which is also the order its writer sorts by (descending), so
// `static_cast<int>(a) > static_cast<int>(b)` means "a is written before b".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sft {

enum class DType : std::uint8_t {
  BOOL = 0,
  F4 = 1,        // float4 e2m1, two per byte (low nibble first)
  F6_E2M3 = 2,   // float6, packed
  F6_E3M2 = 3,
  U8 = 4,
  I8 = 5,
  F8_E5M2 = 6,
  F8_E4M3 = 7,   // e4m3fn: no infinities, one NaN pattern per sign
  F8_E8M0 = 8,   // exponent only (microscaling block scale)
  F8_E4M3FNUZ = 9,
  F8_E5M2FNUZ = 10,
  I16 = 11,
  U16 = 12,
  F16 = 13,
  BF16 = 14,
  I32 = 15,
  U32 = 16,
  F32 = 17,
  C64 = 18,      // complex of two F32
  F64 = 19,
  I64 = 20,
  U64 = 21,
};

inline constexpr int dtype_count = 22;

// Bits per element: 4 for F4, 6 for the F6 types, otherwise 8 x bytes.
constexpr unsigned bits(DType t) noexcept {
  switch (t) {
    case DType::F4: return 4;
    case DType::F6_E2M3: case DType::F6_E3M2: return 6;
    case DType::BOOL: case DType::U8: case DType::I8: case DType::F8_E5M2: case DType::F8_E4M3:
    case DType::F8_E8M0: case DType::F8_E4M3FNUZ: case DType::F8_E5M2FNUZ: return 8;
    case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 16;
    case DType::I32: case DType::U32: case DType::F32: return 32;
    case DType::C64: case DType::F64: case DType::I64: case DType::U64: return 64;
  }
  return 0;
}

// Bytes per element rounded up (1 for the sub-byte types); the natural alignment.
constexpr unsigned element_size(DType t) noexcept { return (bits(t) + 7) / 8; }

// True for F4 and the F6 types, whose sizes must come to whole bytes.
constexpr bool is_subbyte(DType t) noexcept { return bits(t) % 8 != 0; }

// True for every floating-point dtype (including C64 and the F8/F6/F4 types).
constexpr bool is_floating(DType t) noexcept {
  switch (t) {
    case DType::BOOL: case DType::U8: case DType::I8: case DType::I16: case DType::U16:
    case DType::I32: case DType::U32: case DType::I64: case DType::U64: return false;
    default: return true;
  }
}

// The exact spelling used in headers, e.g. "BF16", "F8_E4M3".
std::string_view name(DType t) noexcept;

// The dtype spelled exactly `s` (case-sensitive, as the reference), or nullopt.
std::optional<DType> parse_dtype(std::string_view s) noexcept;

}  // namespace sft
