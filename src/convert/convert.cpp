// Narrow float formats <-> float (see sft/convert.hpp for the semantics).
//
// One generic encoder covers every target: the float is split into an integer
// significand and a power of two, the exponent of the target's quantum at that
// magnitude is chosen (the minimum normal exponent below which the target's
// subnormals live), the significand is shifted right with round-to-nearest-even,
// and the code is assembled so that a carry out of the mantissa bumps the
// exponent by itself. Targets differ only in what they do with Inf, NaN and
// overflow, and in their sign handling. BF16 (a plain rounding addition) and
// F8_E8M0 (powers of two only, rounded on the value) have encoders of their own.
#include "sft/convert.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

namespace sft {

namespace {

enum class Kind { ieee, fn, fnuz, e8m0 };

// Exponent bits, mantissa bits, bias and special-value style of one format.
template <unsigned E, unsigned M, int Bias, Kind K>
struct Fmt {
  static constexpr unsigned exp_bits = E;
  static constexpr unsigned man_bits = M;
  static constexpr int bias = Bias;
  static constexpr Kind kind = K;
  static constexpr std::uint32_t exp_all = (1u << E) - 1;
  static constexpr std::uint32_t sign_bit = K == Kind::e8m0 ? 0 : 1u << (E + M);
  // The largest finite code (magnitude).
  static constexpr std::uint32_t max_finite =
      K == Kind::ieee ? (exp_all << M) - 1
      : K == Kind::fn ? (exp_all << M) | ((1u << M) - 2)
      : K == Kind::fnuz ? (1u << (E + M)) - 1
                        : 0xfe;
};

using F16 = Fmt<5, 10, 15, Kind::ieee>;
using BF16 = Fmt<8, 7, 127, Kind::ieee>;
using E5M2 = Fmt<5, 2, 15, Kind::ieee>;
using E4M3 = Fmt<4, 3, 7, Kind::fn>;
using E4M3FNUZ = Fmt<4, 3, 8, Kind::fnuz>;
using E5M2FNUZ = Fmt<5, 2, 16, Kind::fnuz>;
using E8M0 = Fmt<8, 0, 127, Kind::e8m0>;

template <class F>
constexpr std::uint32_t nan_code(std::uint32_t sign, std::uint32_t f32_mantissa) {
  if constexpr (F::kind == Kind::fnuz) return 0x80;
  else if constexpr (F::kind == Kind::e8m0) return 0xff;
  else if constexpr (F::kind == Kind::fn) return (sign ? F::sign_bit : 0) | (F::exp_all << F::man_bits) | ((1u << F::man_bits) - 1);
  else if constexpr (F::man_bits == 10)  // F16: numpy keeps the top payload bits, never 0
    return (sign ? F::sign_bit : 0) | 0x7c00 | std::max<std::uint32_t>(1, f32_mantissa >> 13);
  else  // BF16, E5M2: the quiet NaN, payload dropped (ml_dtypes)
    return (sign ? F::sign_bit : 0) | (F::exp_all << F::man_bits) | (1u << (F::man_bits - 1));
}

template <class F>
std::uint32_t encode(float value) noexcept {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = u >> 31;
  const std::uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) {  // Inf or NaN
    if (a == 0x7f800000u && F::kind == Kind::ieee) return (sign ? F::sign_bit : 0) | (F::exp_all << F::man_bits);
    return nan_code<F>(sign, a & 0x7fffffu);
  }
  if (a == 0) return F::kind == Kind::fnuz || !sign ? 0 : F::sign_bit;

  // value = sig * 2^sexp exactly, sig > 0.
  const std::uint32_t fe = a >> 23;
  std::uint64_t sig = a & 0x7fffffu;
  int sexp = -149;
  if (fe != 0) {
    sig |= 0x800000u;
    sexp = static_cast<int>(fe) - 150;
  }
  const int ev = sexp + (63 - std::countl_zero(sig));   // floor(log2 |value|)
  const int te = std::max(ev, 1 - F::bias);              // exponent of the target's binade (or subnormal range)
  const int shift = te - static_cast<int>(F::man_bits) - sexp;  // >= 0 for every format here
  std::uint64_t r;
  if (shift == 0) {
    r = sig;
  } else if (shift > 40) {
    r = 0;  // far below half a quantum
  } else {
    r = sig >> shift;
    const std::uint64_t rem = sig & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half = std::uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
  }
  // A carry out of the mantissa (r == 2^(M+1)) lands in the exponent field by itself.
  std::uint64_t code = (static_cast<std::uint64_t>(te + F::bias - 1) << F::man_bits) + r;
  if (code > F::max_finite) {
    if constexpr (F::kind == Kind::ieee) return (sign ? F::sign_bit : 0) | (F::exp_all << F::man_bits);
    else return nan_code<F>(sign, 0);
  }
  if constexpr (F::kind == Kind::fnuz) return code == 0 ? 0 : static_cast<std::uint32_t>(code) | (sign ? 0x80u : 0u);
  return static_cast<std::uint32_t>(code) | (sign ? F::sign_bit : 0);
}

// BF16 shares float's exponent: rounding to nearest even is one addition on
// the bits (a carry into the exponent gives the next binade or Inf).
template <>
std::uint32_t encode<BF16>(float value) noexcept {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return nan_code<BF16>(u >> 31, 0);
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// F8_E8M0 holds the powers of two 2^-127 (0x00) .. 2^127 (0xfe) and NaN (0xff):
// no sign, no zero, no subnormals. A positive finite value rounds to the
// nearest of them measured on the value, ties upward (1.5 * 2^e -> 2^(e+1)):
// exactly float8_e8m0fnu of ml_dtypes 0.7.0, checked against it over all 2^32
// floats. Normal inputs need only their top mantissa bit. A subnormal input
// lies in (0, 2^-126): 2^-127 is the nearest code up to 1.5 * 2^-127 (mantissa
// 0x600000), and there is nothing below 2^-127 to round to. (Treating the
// input's exponent field like a normal one, as torch 2.15 does, would give
// 2^-126 from just above 2^-127: docs/format.md.) Zero, negative values
// (-0.0 too), infinities and NaN give NaN.
template <>
std::uint32_t encode<E8M0>(float value) noexcept {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(value);
  if (u == 0 || u >= 0x7f800000u) return 0xff;  // +0; sign bit set; Inf or NaN
  const std::uint32_t exp = u >> 23, man = u & 0x7fffffu;
  if (exp == 0) return man >= 0x600000u ? 0x01 : 0x00;
  const std::uint32_t code = exp + (man >= 0x400000u ? 1u : 0u);
  return code > 0xfe ? 0xff : code;  // from 1.5 * 2^127 up: NaN, as ml_dtypes
}

template <class F>
float decode_slow(std::uint32_t code) noexcept {
  if constexpr (F::kind == Kind::e8m0) {
    if (code == 0xff) return std::bit_cast<float>(0x7fc00000u);
    return std::ldexp(1.0f, static_cast<int>(code) - 127);
  } else {
    if constexpr (F::kind == Kind::fnuz) {
      if (code == 0x80) return std::bit_cast<float>(0xffc00000u);
    }
    const bool neg = (code & F::sign_bit) != 0;
    const std::uint32_t e = (code >> F::man_bits) & F::exp_all;
    const std::uint32_t m = code & ((1u << F::man_bits) - 1);
    if constexpr (F::kind == Kind::ieee) {
      if (e == F::exp_all)
        return m == 0 ? (neg ? -INFINITY : INFINITY) : std::bit_cast<float>(neg ? 0xffc00000u : 0x7fc00000u);
    }
    if constexpr (F::kind == Kind::fn) {
      if (e == F::exp_all && m == (1u << F::man_bits) - 1) return std::bit_cast<float>(neg ? 0xffc00000u : 0x7fc00000u);
    }
    float v = e == 0 ? std::ldexp(static_cast<float>(m), 1 - F::bias - static_cast<int>(F::man_bits))
                     : std::ldexp(static_cast<float>((1u << F::man_bits) + m), static_cast<int>(e) - F::bias - static_cast<int>(F::man_bits));
    return neg ? -v : v;
  }
}

// The 8-bit formats decode through a table built once.
template <class F>
const std::array<float, 256>& table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> r{};
    for (std::uint32_t i = 0; i < 256; ++i) r[i] = decode_slow<F>(i);
    return r;
  }();
  return t;
}

template <class T>
T load(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void store(std::byte* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

// Bulk loops with the dtype switch hoisted out: one instantiation per type.
template <class Out, class Fn>
void decode_loop(const std::byte* in, std::size_t n, std::size_t es, Out* out, Fn fn) {
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(fn(in + i * es));
}

template <class Out>
void decode_n(DType t, const std::byte* in, std::size_t n, Out* out) {
  switch (t) {
    case DType::F32: return decode_loop(in, n, 4, out, [](const std::byte* p) { return load<float>(p); });
    case DType::F16: return decode_loop(in, n, 2, out, [](const std::byte* p) { return f16_to_float(load<std::uint16_t>(p)); });
    case DType::BF16: return decode_loop(in, n, 2, out, [](const std::byte* p) { return bf16_to_float(load<std::uint16_t>(p)); });
    default: {
      const float* tab = t == DType::F8_E4M3 ? table<E4M3>().data()
                         : t == DType::F8_E5M2 ? table<E5M2>().data()
                         : t == DType::F8_E4M3FNUZ ? table<E4M3FNUZ>().data()
                         : t == DType::F8_E5M2FNUZ ? table<E5M2FNUZ>().data()
                                                   : table<E8M0>().data();
      return decode_loop(in, n, 1, out, [tab](const std::byte* p) { return tab[load<std::uint8_t>(p)]; });
    }
  }
}

template <class F, class T>
void encode_loop(const float* in, std::size_t n, std::byte* out) {
  for (std::size_t i = 0; i < n; ++i) store(out + i * sizeof(T), static_cast<T>(encode<F>(in[i])));
}

void encode_n(DType t, const float* in, std::size_t n, std::byte* out) {
  switch (t) {
    case DType::F32: if (n) std::memcpy(out, in, n * 4); return;
    case DType::F16: return encode_loop<F16, std::uint16_t>(in, n, out);
    case DType::BF16: return encode_loop<BF16, std::uint16_t>(in, n, out);
    case DType::F8_E4M3: return encode_loop<E4M3, std::uint8_t>(in, n, out);
    case DType::F8_E5M2: return encode_loop<E5M2, std::uint8_t>(in, n, out);
    case DType::F8_E4M3FNUZ: return encode_loop<E4M3FNUZ, std::uint8_t>(in, n, out);
    case DType::F8_E5M2FNUZ: return encode_loop<E5M2FNUZ, std::uint8_t>(in, n, out);
    case DType::F8_E8M0: return encode_loop<E8M0, std::uint8_t>(in, n, out);
    default: return;
  }
}

Error unsupported(DType t, const char* what) {
  return Error(Errc::unsupported_dtype, std::string(name(t)) + " cannot be " + what);
}

// Number of whole elements in `bytes`, or invalid_argument.
Result<std::size_t> element_count(DType t, std::size_t bytes) {
  const std::size_t es = element_size(t);
  if (bytes % es != 0)
    return Error(Errc::invalid_argument,
                 std::to_string(bytes) + " bytes are not a whole number of " + std::string(name(t)) + " elements");
  return bytes / es;
}

Error too_small(std::size_t need, std::size_t have) {
  return Error(Errc::buffer_too_small,
               "output holds " + std::to_string(have) + " elements, " + std::to_string(need) + " needed");
}

}  // namespace

float f16_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1fu;
  const std::uint32_t m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 0x1p-24f;  // exact: m < 2^10
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(v) | sign);
  }
  if (e == 31) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));  // Inf, or NaN keeping its payload
  return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}

float bf16_to_float(std::uint16_t b) noexcept { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }
float f8_e4m3_to_float(std::uint8_t b) noexcept { return table<E4M3>()[b]; }
float f8_e5m2_to_float(std::uint8_t b) noexcept { return table<E5M2>()[b]; }
float f8_e4m3fnuz_to_float(std::uint8_t b) noexcept { return table<E4M3FNUZ>()[b]; }
float f8_e5m2fnuz_to_float(std::uint8_t b) noexcept { return table<E5M2FNUZ>()[b]; }
float f8_e8m0_to_float(std::uint8_t b) noexcept { return table<E8M0>()[b]; }

std::uint16_t float_to_f16(float v) noexcept { return static_cast<std::uint16_t>(encode<F16>(v)); }
std::uint16_t float_to_bf16(float v) noexcept { return static_cast<std::uint16_t>(encode<BF16>(v)); }
std::uint8_t float_to_f8_e4m3(float v) noexcept { return static_cast<std::uint8_t>(encode<E4M3>(v)); }
std::uint8_t float_to_f8_e5m2(float v) noexcept { return static_cast<std::uint8_t>(encode<E5M2>(v)); }
std::uint8_t float_to_f8_e4m3fnuz(float v) noexcept { return static_cast<std::uint8_t>(encode<E4M3FNUZ>(v)); }
std::uint8_t float_to_f8_e5m2fnuz(float v) noexcept { return static_cast<std::uint8_t>(encode<E5M2FNUZ>(v)); }
std::uint8_t float_to_f8_e8m0(float v) noexcept { return static_cast<std::uint8_t>(encode<E8M0>(v)); }

bool decodes_to_float(DType t) noexcept {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::F8_E4M3: case DType::F8_E5M2:
    case DType::F8_E4M3FNUZ: case DType::F8_E5M2FNUZ: case DType::F8_E8M0: return true;
    default: return false;
  }
}

bool decodes_to_double(DType t) noexcept { return decodes_to_float(t) || t == DType::F64 || t == DType::C64; }

bool encodes_from_float(DType t) noexcept { return decodes_to_float(t); }

Result<void> decode_to_float(DType src, std::span<const std::byte> in, std::span<float> out) {
  if (!decodes_to_float(src)) return unsupported(src, "decoded to float");
  auto n = element_count(src, in.size());
  SFT_TRY(n);
  if (out.size() < *n) return too_small(*n, out.size());
  decode_n(src, in.data(), *n, out.data());
  return {};
}

Result<void> decode_to_double(DType src, std::span<const std::byte> in, std::span<double> out) {
  if (!decodes_to_double(src)) return unsupported(src, "decoded to double");
  auto n = element_count(src, in.size());
  SFT_TRY(n);
  const std::size_t values = src == DType::C64 ? 2 * *n : *n;
  if (out.size() < values) return too_small(values, out.size());
  if (src == DType::F64) {
    for (std::size_t i = 0; i < values; ++i) out[i] = load<double>(in.data() + 8 * i);
  } else if (src == DType::C64) {
    for (std::size_t i = 0; i < values; ++i) out[i] = load<float>(in.data() + 4 * i);
  } else {
    decode_n(src, in.data(), values, out.data());
  }
  return {};
}

Result<void> encode_from_float(DType dst, std::span<const float> in, std::span<std::byte> out) {
  if (!encodes_from_float(dst)) return unsupported(dst, "encoded from float");
  const std::size_t es = element_size(dst);
  if (out.size() / es < in.size()) return too_small(in.size(), out.size() / es);
  encode_n(dst, in.data(), in.size(), out.data());
  return {};
}

Result<void> convert(DType src, std::span<const std::byte> in, DType dst, std::span<std::byte> out) {
  if (!decodes_to_float(src)) return unsupported(src, "converted");
  if (!encodes_from_float(dst)) return unsupported(dst, "produced by a conversion");
  auto n = element_count(src, in.size());
  SFT_TRY(n);
  const std::size_t si = element_size(src), so = element_size(dst);
  if (out.size() / so < *n) return too_small(*n, out.size() / so);
  if (src == dst) {
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
    return {};
  }
  // Through a float buffer in blocks: decode (exact), then encode (one rounding).
  constexpr std::size_t block = 2048;
  float buf[block];
  for (std::size_t start = 0; start < *n; start += block) {
    const std::size_t m = std::min(block, *n - start);
    decode_n(src, in.data() + start * si, m, buf);
    encode_n(dst, buf, m, out.data() + start * so);
  }
  if (src == DType::BF16 && dst == DType::F16) {
    // ml_dtypes casts BF16 to F16 directly: NaN becomes the canonical quiet NaN.
    for (std::size_t i = 0; i < *n; ++i) {
      const std::uint16_t b = load<std::uint16_t>(in.data() + 2 * i);
      if ((b & 0x7fffu) > 0x7f80u) store(out.data() + 2 * i, static_cast<std::uint16_t>((b & 0x8000u) | 0x7e00u));
    }
  }
  return {};
}

}  // namespace sft
