// sft/convert.hpp — the floating-point element types decoded to and encoded from float.
//
// Scalar routines for every narrow float dtype of the format, plus bulk
// conversions over raw tensor bytes (which need not be aligned: safetensors
// does not align its data buffer). They are the single definition of these
// formats in sft: `sft convert`, `sft diff` and the GPU layer's host-side
// reference all use them.
//
// Rounding: round to nearest, ties to even, with subnormals kept (never
// flushed). Decoding is always exact (every value of these formats is a
// float). Special values follow numpy (F16) and ml_dtypes (every other type)
// bit for bit, so that `x.astype(...)` in Python and sft agree on every input:
//
//   target       +-Inf in           overflow (finite, too large)   NaN in
//   F16          +-Inf              +-Inf                          sign | 0x7c00 | max(1, top 10 payload bits)
//   BF16         +-Inf              +-Inf                          sign | 0x7fc0 (payload dropped)
//   F8_E5M2      +-Inf (0x7c/0xfc)  +-Inf                          sign | 0x7e
//   F8_E4M3      NaN (0x7f/0xff)    NaN (0x7f/0xff)                sign | 0x7f
//   F8_E4M3FNUZ  NaN (0x80)         NaN (0x80)                     0x80
//   F8_E5M2FNUZ  NaN (0x80)         NaN (0x80)                     0x80
//   F8_E8M0      NaN (0xff)         NaN (0xff)                     0xff
//
// "Overflow" means the value rounds (to nearest even, as if the exponent range
// were unbounded) to a magnitude above the largest finite value: F8_E4M3's
// largest is 448, so 464 (the halfway point to the next, missing, step) rounds
// down to 448 and anything above 464 becomes NaN. F8_E4M3 (the "fn" variant,
// ml_dtypes.float8_e4m3fn) has no infinity: infinities become NaN, as in
// ml_dtypes; there is no saturating mode. The FNUZ types have no negative zero
// (-0.0 encodes as 0x00) and one NaN, 0x80. F8_E8M0 (ml_dtypes.float8_e8m0fnu)
// holds only powers of two 2^-127 .. 2^127, no sign and no zero: zero,
// negative values, infinities and NaN encode as 0xff (NaN); a positive value
// rounds to the nearest power of two measured on the value, ties upward, as
// ml_dtypes 0.7.0 does: 1.5 * 2^e and above give 2^(e+1), and every value
// below 1.5 * 2^-127, subnormal inputs included, gives 0x00 (2^-127). torch's
// `to(torch.float8_e8m0fnu)` differs on subnormal inputs, zero and negative
// values (docs/format.md).
//
// NaN decoding: F16 and BF16 keep the payload bits (numpy / ml_dtypes do);
// every F8 NaN decodes to the quiet NaN 0x7fc00000 with its sign (FNUZ NaN:
// 0xffc00000). One conversion does not go through float: BF16 -> F16 maps NaN
// to sign | 0x7e00, as ml_dtypes does (its cast is direct).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "sft/dtype.hpp"
#include "sft/result.hpp"
#include "sft/tensor_view.hpp"

namespace sft {

// --- scalars: bits <-> float ----------------------------------------------------
float f16_to_float(std::uint16_t bits) noexcept;
float bf16_to_float(std::uint16_t bits) noexcept;
float f8_e4m3_to_float(std::uint8_t bits) noexcept;       // F8_E4M3 (e4m3fn)
float f8_e5m2_to_float(std::uint8_t bits) noexcept;       // F8_E5M2
float f8_e4m3fnuz_to_float(std::uint8_t bits) noexcept;   // F8_E4M3FNUZ (bias 8)
float f8_e5m2fnuz_to_float(std::uint8_t bits) noexcept;   // F8_E5M2FNUZ (bias 16)
float f8_e8m0_to_float(std::uint8_t bits) noexcept;       // F8_E8M0 (2^(bits-127); 0xff NaN)

std::uint16_t float_to_f16(float value) noexcept;
std::uint16_t float_to_bf16(float value) noexcept;
std::uint8_t float_to_f8_e4m3(float value) noexcept;
std::uint8_t float_to_f8_e5m2(float value) noexcept;
std::uint8_t float_to_f8_e4m3fnuz(float value) noexcept;
std::uint8_t float_to_f8_e5m2fnuz(float value) noexcept;
std::uint8_t float_to_f8_e8m0(float value) noexcept;

inline float to_float(float16 h) noexcept { return f16_to_float(h.bits); }
inline float to_float(bfloat16 h) noexcept { return bf16_to_float(h.bits); }

// --- which dtypes these routines cover ----------------------------------------------
// Every element of the dtype is exactly a float: F32, F16, BF16 and the five F8 types.
bool decodes_to_float(DType t) noexcept;
// decodes_to_float, plus F64 and C64 (decoded to double, C64 as two components
// per element): the dtypes `sft diff` compares numerically.
bool decodes_to_double(DType t) noexcept;
// Can be produced from float: F32, F16, BF16 and the five F8 types.
bool encodes_from_float(DType t) noexcept;

// --- bulk conversions over raw little-endian tensor bytes -----------------------------
// Decode in.size() / element_size(src) elements; `out` must hold that many
// (buffer_too_small). unsupported_dtype for a dtype outside decodes_to_float;
// invalid_argument when in.size() is not a whole number of elements.
Result<void> decode_to_float(DType src, std::span<const std::byte> in, std::span<float> out);
// As decode_to_float, for the dtypes of decodes_to_double; C64 yields two
// doubles (real, imaginary) per element.
Result<void> decode_to_double(DType src, std::span<const std::byte> in, std::span<double> out);
// Encode in.size() floats; out.size() must be at least in.size() * element_size(dst).
Result<void> encode_from_float(DType dst, std::span<const float> in, std::span<std::byte> out);
// Convert elements of `src` to `dst` (both in decodes_to_float / encodes_from_float):
// one rounding, the ml_dtypes result for every input. `out` needs
// (in.size() / element_size(src)) * element_size(dst) bytes. src == dst copies.
Result<void> convert(DType src, std::span<const std::byte> in, DType dst, std::span<std::byte> out);

}  // namespace sft
