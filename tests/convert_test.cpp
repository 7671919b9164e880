// Float conversions (sft/convert.hpp): known values, the special-value rules,
// every code round-tripping, and rounding checked against a brute-force
// nearest-value search that shares no code with the library.
// (Bit-exactness against ml_dtypes is tests/py/convert_ml_dtypes.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "sft/convert.hpp"

namespace {

using sft::DType;

std::uint32_t bits_of(float f) { return std::bit_cast<std::uint32_t>(f); }
float from_bits(std::uint32_t u) { return std::bit_cast<float>(u); }

TEST(Convert, F16KnownValues) {
  EXPECT_EQ(sft::f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(sft::f16_to_float(0xc000), -2.0f);
  EXPECT_EQ(sft::f16_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(sft::f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(sft::f16_to_float(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(bits_of(sft::f16_to_float(0x8000)), 0x80000000u);
  EXPECT_EQ(sft::f16_to_float(0x7c00), INFINITY);
  EXPECT_EQ(bits_of(sft::f16_to_float(0x7c01)), 0x7f802000u);  // payload kept, as numpy
  EXPECT_EQ(sft::float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(sft::float_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(sft::float_to_f16(65519.0f), 0x7bff);  // below the halfway point to 65536
  EXPECT_EQ(sft::float_to_f16(65520.0f), 0x7c00);  // the halfway point rounds to even: Inf
  EXPECT_EQ(sft::float_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: to even (0)
  EXPECT_EQ(sft::float_to_f16(std::ldexp(3.0f, -26)), 0x0001);  // 0.75 of it: up
  EXPECT_EQ(sft::float_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 steps: to even (2)
  EXPECT_EQ(sft::float_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(sft::float_to_f16(from_bits(0x7f800001)), 0x7c01);  // payload lost: still a NaN
  EXPECT_EQ(sft::float_to_f16(from_bits(0xffc00000)), 0xfe00);
}

TEST(Convert, BF16KnownValues) {
  EXPECT_EQ(sft::bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(bits_of(sft::bf16_to_float(0x7f81)), 0x7f810000u);
  EXPECT_EQ(sft::float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x7f7fffff)), 0x7f80);  // overflow: Inf
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x7f800001)), 0x7fc0);  // NaN: quiet, payload dropped
  EXPECT_EQ(sft::float_to_bf16(from_bits(0xffa00000)), 0xffc0);
  EXPECT_EQ(sft::float_to_bf16(from_bits(0x00018000)), 0x0002);  // subnormal tie to even
}

TEST(Convert, F8KnownValues) {
  EXPECT_EQ(sft::f8_e4m3_to_float(0x7e), 448.0f);
  EXPECT_TRUE(std::isnan(sft::f8_e4m3_to_float(0x7f)));
  EXPECT_TRUE(std::isnan(sft::f8_e4m3_to_float(0xff)));
  EXPECT_EQ(sft::f8_e4m3_to_float(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(sft::f8_e4m3_to_float(0x78), 256.0f);  // exponent 15 is a normal binade in e4m3fn
  EXPECT_EQ(sft::float_to_f8_e4m3(464.0f), 0x7e);  // halfway to the missing 480: to even (448)
  EXPECT_EQ(sft::float_to_f8_e4m3(464.5f), 0x7f);  // above: NaN, e4m3fn has no Inf
  EXPECT_EQ(sft::float_to_f8_e4m3(INFINITY), 0x7f);
  EXPECT_EQ(sft::float_to_f8_e4m3(-INFINITY), 0xff);
  EXPECT_EQ(sft::float_to_f8_e4m3(-0.0f), 0x80);

  EXPECT_EQ(sft::f8_e5m2_to_float(0x7b), 57344.0f);
  EXPECT_EQ(sft::f8_e5m2_to_float(0x7c), INFINITY);
  EXPECT_EQ(bits_of(sft::f8_e5m2_to_float(0xfd)), 0xffc00000u);
  EXPECT_EQ(sft::float_to_f8_e5m2(61440.0f), 0x7c);  // halfway to 65536: to even, Inf
  EXPECT_EQ(sft::float_to_f8_e5m2(61439.0f), 0x7b);
  EXPECT_EQ(sft::float_to_f8_e5m2(NAN), 0x7e);

  EXPECT_EQ(sft::f8_e4m3fnuz_to_float(0x7f), 240.0f);
  EXPECT_EQ(bits_of(sft::f8_e4m3fnuz_to_float(0x80)), 0xffc00000u);
  EXPECT_EQ(sft::float_to_f8_e4m3fnuz(-0.0f), 0x00);  // no negative zero
  EXPECT_EQ(sft::float_to_f8_e4m3fnuz(INFINITY), 0x80);
  EXPECT_EQ(sft::f8_e5m2fnuz_to_float(0x7f), 57344.0f);
  EXPECT_EQ(sft::float_to_f8_e5m2fnuz(NAN), 0x80);

  EXPECT_EQ(sft::f8_e8m0_to_float(127), 1.0f);
  EXPECT_EQ(sft::f8_e8m0_to_float(0), std::ldexp(1.0f, -127));
  EXPECT_EQ(sft::f8_e8m0_to_float(254), std::ldexp(1.0f, 127));
  EXPECT_TRUE(std::isnan(sft::f8_e8m0_to_float(255)));
  EXPECT_EQ(sft::float_to_f8_e8m0(1.0f), 127);
  EXPECT_EQ(sft::float_to_f8_e8m0(1.5f), 128);  // tie between 1 and 2: upward (2)
  EXPECT_EQ(sft::float_to_f8_e8m0(3.0f), 129);  // tie between 2 and 4: upward (4), whatever the code's parity
  EXPECT_EQ(sft::float_to_f8_e8m0(1.4f), 127);
  EXPECT_EQ(sft::float_to_f8_e8m0(0.0f), 255);
  EXPECT_EQ(sft::float_to_f8_e8m0(-1.0f), 255);
  EXPECT_EQ(sft::float_to_f8_e8m0(std::ldexp(1.0f, -127)), 0);
  // Subnormal inputs round on the value like the rest (ml_dtypes 0.7.0): 2^-127
  // is the nearest code below 1.5 * 2^-127, and nothing lies below it.
  EXPECT_EQ(sft::float_to_f8_e8m0(std::ldexp(1.25f, -127)), 0);
  EXPECT_EQ(sft::float_to_f8_e8m0(std::bit_cast<float>(0x00410000u)), 0);  // BF16 0x0041 = 1.02 * 2^-127
  EXPECT_EQ(sft::float_to_f8_e8m0(std::bit_cast<float>(0x005fffffu)), 0);  // just below 1.5 * 2^-127
  EXPECT_EQ(sft::float_to_f8_e8m0(std::bit_cast<float>(0x00600000u)), 1);  // the tie: upward, 2^-126
  EXPECT_EQ(sft::float_to_f8_e8m0(std::bit_cast<float>(0x00000001u)), 0);  // the smallest float
  EXPECT_EQ(sft::float_to_f8_e8m0(-0.0f), 255);
  EXPECT_EQ(sft::float_to_f8_e8m0(-std::ldexp(1.0f, -140)), 255);
  EXPECT_EQ(sft::float_to_f8_e8m0(std::ldexp(1.5f, 127)), 255);  // rounds past 2^127
}

struct Format {
  DType dtype;
  unsigned bits;
  std::function<float(std::uint32_t)> decode;
  std::function<std::uint32_t(float)> encode;
};

std::vector<Format> formats() {
  return {
      {DType::F16, 16, [](std::uint32_t c) { return sft::f16_to_float(static_cast<std::uint16_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_f16(f)}; }},
      {DType::BF16, 16, [](std::uint32_t c) { return sft::bf16_to_float(static_cast<std::uint16_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_bf16(f)}; }},
      {DType::F8_E4M3, 8, [](std::uint32_t c) { return sft::f8_e4m3_to_float(static_cast<std::uint8_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_f8_e4m3(f)}; }},
      {DType::F8_E5M2, 8, [](std::uint32_t c) { return sft::f8_e5m2_to_float(static_cast<std::uint8_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_f8_e5m2(f)}; }},
      {DType::F8_E4M3FNUZ, 8, [](std::uint32_t c) { return sft::f8_e4m3fnuz_to_float(static_cast<std::uint8_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_f8_e4m3fnuz(f)}; }},
      {DType::F8_E5M2FNUZ, 8, [](std::uint32_t c) { return sft::f8_e5m2fnuz_to_float(static_cast<std::uint8_t>(c)); },
       [](float f) { return std::uint32_t{sft::float_to_f8_e5m2fnuz(f)}; }},
  };
}

// Every non-NaN code decodes to a value that encodes back to the same code
// (except -0 in the FNUZ formats, which have no negative zero).
TEST(Convert, EveryCodeRoundTrips) {
  for (const auto& f : formats()) {
    for (std::uint32_t c = 0; c < (1u << f.bits); ++c) {
      const float v = f.decode(c);
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(f.decode(f.encode(v)))) << sft::name(f.dtype) << " code " << c;
        continue;
      }
      EXPECT_EQ(f.encode(v), c) << sft::name(f.dtype) << " code " << c << " value " << v;
    }
  }
}

// Rounding against a brute-force search: the finite values of the format,
// sorted; for a float x in range the result must be the nearest, ties to the
// code whose last bit is 0.
TEST(Convert, RoundingMatchesNearestSearch) {
  for (const auto& f : formats()) {
    std::vector<std::pair<double, std::uint32_t>> values;  // value, code (positive, finite)
    for (std::uint32_t c = 0; c < (1u << f.bits); ++c) {
      const float v = f.decode(c);
      if (std::isfinite(v) && !std::signbit(v)) values.emplace_back(v, c);
    }
    std::sort(values.begin(), values.end());
    const double max = values.back().first;
    std::uint64_t checked = 0;
    // Sample floats densely around every value of the format and its midpoints.
    for (std::size_t i = 0; i + 1 < values.size(); ++i) {
      const double lo = values[i].first, hi = values[i + 1].first;
      for (double t : {0.0, 0.25, 0.5, 0.75}) {
        const float x = static_cast<float>(lo + (hi - lo) * t);
        for (float y : {std::nextafter(x, 0.0f), x, std::nextafter(x, INFINITY)}) {
          if (y < 0 || y > max) continue;
          auto it = std::lower_bound(values.begin(), values.end(), std::make_pair(double(y), 0u));
          std::uint32_t want;
          if (it == values.begin()) {
            want = it->second;
          } else {
            auto below = it - 1;
            if (it == values.end()) {
              want = below->second;
            } else {
              const double dl = double(y) - below->first, dh = it->first - double(y);
              want = dl < dh ? below->second : dh < dl ? it->second : ((below->second & 1) == 0 ? below->second : it->second);
            }
          }
          ASSERT_EQ(f.encode(y), want) << sft::name(f.dtype) << " x=" << y;
          ++checked;
        }
      }
    }
    EXPECT_GT(checked, 100u) << sft::name(f.dtype);
  }
}

// F8_E8M0 against a search over its 255 powers of two, on the value: every
// subnormal float (in steps), and the floats around every code and every
// midpoint between neighbouring codes. Ties go upward; from 1.5 * 2^127 on the
// result is NaN (0xff).
TEST(Convert, E8M0RoundsToNearestPowerOfTwoOnTheValue) {
  const auto want = [](float x) -> std::uint32_t {
    const double v = x;
    if (v >= std::ldexp(1.5, 127)) return 255;
    std::uint32_t best = 0;
    for (std::uint32_t c = 1; c < 255; ++c) {
      const double d = std::abs(v - std::ldexp(1.0, static_cast<int>(c) - 127));
      const double db = std::abs(v - std::ldexp(1.0, static_cast<int>(best) - 127));
      if (d <= db) best = c;  // `<=`: a tie goes to the larger power
    }
    return best;
  };
  std::vector<float> xs;
  for (std::uint32_t m = 1; m < 0x800000u; m += 0x1fff) xs.push_back(std::bit_cast<float>(m));
  for (int e = -127; e <= 127; ++e) {
    for (double t : {1.0, 1.25, 1.5, 1.75}) {
      const float x = static_cast<float>(std::ldexp(t, e));
      xs.insert(xs.end(), {std::nextafter(x, 0.0f), x, std::nextafter(x, INFINITY)});
    }
  }
  for (float x : xs) ASSERT_EQ(sft::float_to_f8_e8m0(x), want(x)) << "x=" << x << " bits=" << std::bit_cast<std::uint32_t>(x);
}

TEST(Convert, BulkDecodeHandlesUnalignedInput) {
  std::vector<std::byte> raw(1 + 3 * 2);
  const std::uint16_t h[3] = {0x3c00, 0xc000, 0x7c00};
  std::memcpy(raw.data() + 1, h, sizeof h);  // odd address
  std::vector<float> out(3);
  ASSERT_TRUE(sft::decode_to_float(DType::F16, std::span(raw).subspan(1), out));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], INFINITY);
}

TEST(Convert, BulkErrors) {
  std::vector<std::byte> raw(6);
  std::vector<float> two(2);
  auto r = sft::decode_to_float(DType::F16, raw, two);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sft::Errc::buffer_too_small);
  r = sft::decode_to_float(DType::F32, raw, two);  // 6 bytes: 1.5 floats
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sft::Errc::invalid_argument);
  r = sft::decode_to_float(DType::I32, std::span(raw).first(4), two);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sft::Errc::unsupported_dtype);
  std::vector<std::byte> out(2);
  r = sft::convert(DType::F64, std::span(raw).first(0), DType::F16, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sft::Errc::unsupported_dtype);
  r = sft::convert(DType::F16, raw, DType::F8_E4M3, out);  // needs 3 bytes
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sft::Errc::buffer_too_small);
  EXPECT_FALSE(sft::encodes_from_float(DType::I8));
  EXPECT_TRUE(sft::decodes_to_double(DType::C64));
  EXPECT_FALSE(sft::decodes_to_float(DType::F64));
}

TEST(Convert, Bf16ToF16NanIsCanonical) {
  const std::uint16_t in[3] = {0x7f81, 0xffa1, 0x3f80};
  std::uint16_t out[3];
  ASSERT_TRUE(sft::convert(DType::BF16, std::as_bytes(std::span(in)), DType::F16, std::as_writable_bytes(std::span(out))));
  EXPECT_EQ(out[0], 0x7e00);
  EXPECT_EQ(out[1], 0xfe00);
  EXPECT_EQ(out[2], 0x3c00);
}

TEST(Convert, SameDtypeCopiesBits) {
  const std::uint16_t in[2] = {0x7c01, 0x1234};  // a NaN payload survives a same-type "conversion"
  std::uint16_t out[2] = {};
  ASSERT_TRUE(sft::convert(DType::F16, std::as_bytes(std::span(in)), DType::F16, std::as_writable_bytes(std::span(out))));
  EXPECT_EQ(out[0], 0x7c01);
  EXPECT_EQ(out[1], 0x1234);
}

TEST(Convert, DecodeToDoubleF64AndC64) {
  const double d[2] = {1.0 / 3.0, -1e300};
  std::vector<double> out(4);
  ASSERT_TRUE(sft::decode_to_double(DType::F64, std::as_bytes(std::span(d)), out));
  EXPECT_EQ(out[0], d[0]);
  EXPECT_EQ(out[1], d[1]);
  const float c[4] = {1.5f, -2.0f, 0.25f, 8.0f};  // two complex elements
  ASSERT_TRUE(sft::decode_to_double(DType::C64, std::as_bytes(std::span(c)), out));
  EXPECT_EQ(out[0], 1.5);
  EXPECT_EQ(out[1], -2.0);
  EXPECT_EQ(out[3], 8.0);
}

TEST(Convert, EncodeFromFloatBulk) {
  const float in[3] = {1.0f, 448.0f, -INFINITY};
  std::vector<std::byte> out(3);
  ASSERT_TRUE(sft::encode_from_float(DType::F8_E4M3, in, out));
  EXPECT_EQ(out[0], std::byte{0x38});
  EXPECT_EQ(out[1], std::byte{0x7e});
  EXPECT_EQ(out[2], std::byte{0xff});
}

}  // namespace
