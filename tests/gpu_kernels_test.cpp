// The kernels on each backend: checksum against the host digest, conversions
// on chosen values and round trips over every 16-bit pattern, MXFP4 against a
// scalar reference, GEMV against a double-precision reference. The exhaustive
// comparison with ml_dtypes is tests/py/gpu_convert_vs_ml_dtypes.py.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gpu_support.hpp"
#include "sft/gpu/checksum.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"
#include "sft/gpu/tune.hpp"

using namespace sft;
using namespace sft::gpu;

namespace {

class GpuKernels : public ::testing::TestWithParam<std::string> {};

// Upload `bytes` at `offset` of a fresh buffer of `offset + bytes.size()` bytes.
template <class T>
Buffer upload(const Device& dev, Queue& q, const std::vector<T>& v, std::uint64_t offset = 0) {
  std::uint64_t n = v.size() * sizeof(T);
  auto b = dev.alloc(offset + n + 1);
  EXPECT_TRUE(b) << b.error().to_string();
  if (n) EXPECT_TRUE(q.write(*b, offset, v.data(), n));
  EXPECT_TRUE(q.finish());
  return std::move(*b);
}

template <class T>
std::vector<T> download(Queue& q, const Buffer& b, std::size_t count, std::uint64_t offset = 0) {
  std::vector<T> out(count);
  if (count) EXPECT_TRUE(q.read(b, offset, out.data(), count * sizeof(T)));
  EXPECT_TRUE(q.finish());
  return out;
}

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Convert `in` (count elements of src) to dst on the device.
template <class O, class I>
std::vector<O> run_convert(const Device& dev, Queue& q, const std::vector<I>& in, DType src, DType dst,
                           std::size_t count, const LaunchConfig& cfg = {}) {
  Buffer a = upload(dev, q, in);
  auto b = dev.alloc(count * sizeof(O) + 8);
  EXPECT_TRUE(b);
  auto e = convert(q, In{a}, src, Out{*b}, dst, count, cfg);
  EXPECT_TRUE(e) << e.error().to_string();
  return download<O>(q, *b, count);
}

std::vector<std::uint16_t> all_u16() {
  std::vector<std::uint16_t> v(65536);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint16_t>(i);
  return v;
}

}  // namespace

// ------------------------------------------------------------------ checksum

TEST(GpuChecksumHost, DefinitionIsStable) {
  // The digest is a format (it may be stored next to a file): pin it.
  std::vector<std::byte> data(10000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 251);
  EXPECT_EQ(digest(data), 0x919e721a8c97b14dull) << std::hex << digest(data);
}

TEST(GpuChecksumHost, SensitiveToEveryByteLengthAndSeed) {
  auto data = random_bytes(3 * 4096 + 100, 1);
  std::uint64_t d0 = digest(data);
  for (std::size_t pos : {std::size_t{0}, std::size_t{4095}, std::size_t{4096}, data.size() - 1}) {
    auto copy = data;
    copy[pos] ^= std::byte{1};
    EXPECT_NE(digest(copy), d0) << "flip at " << pos;
  }
  auto shorter = std::span(data).first(data.size() - 1);
  EXPECT_NE(digest(shorter), d0);
  // Trailing zero bytes are not the same as no bytes (the length is hashed).
  std::vector<std::byte> a(5), b(6);
  EXPECT_NE(digest(a), digest(b));
  EXPECT_NE(block_hash(a, 0), block_hash(a, 1));
  // Two blocks swapped change the digest.
  auto swapped = data;
  std::swap_ranges(swapped.begin(), swapped.begin() + 4096, swapped.begin() + 4096);
  EXPECT_NE(digest(swapped), d0);
}

TEST_P(GpuKernels, ChecksumMatchesTheHostDigest) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  // Sizes around block and lane boundaries, and one that needs three levels.
  for (std::size_t n : {0, 1, 7, 8, 31, 32, 33, 4095, 4096, 4097, 3 * 4096 + 5, 600 * 4096 + 17}) {
    for (std::uint64_t offset : {0, 3}) {
      auto data = random_bytes(n, static_cast<unsigned>(n));
      Buffer b = upload(dev, *q, data, offset);
      std::vector<std::uint64_t> level0;
      auto d = device_digest(*q, In{b, offset}, n, {}, &level0);
      ASSERT_TRUE(d) << d.error().to_string();
      EXPECT_EQ(*d, digest(data)) << "n=" << n << " offset=" << offset;
      std::vector<std::uint64_t> host0(checksum_block_count(n));
      block_hashes(data, 0, host0);
      EXPECT_EQ(level0, host0) << "n=" << n;
    }
  }
}

TEST_P(GpuKernels, ChecksumConfigurationsAgree) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  auto data = random_bytes(200 * 4096 + 9, 5);
  Buffer b = upload(dev, *q, data);
  for (LaunchConfig c : {LaunchConfig{1, 1, 1}, LaunchConfig{64, 4, 1}, LaunchConfig{256, 64, 1}}) {
    auto d = device_digest(*q, In{b}, data.size(), c);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, digest(data)) << c.local_size << "/" << c.items_per_thread;
  }
}

// ------------------------------------------------------------------- convert

TEST_P(GpuKernels, ConvertChosenValues) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  auto f = [](std::uint32_t u) { return std::bit_cast<float>(u); };
  // F16 -> F32.
  std::vector<std::uint16_t> h = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x7E00};
  auto hf = run_convert<float>(dev, *q, h, DType::F16, DType::F32, h.size());
  EXPECT_EQ(hf[0], 1.0f);
  EXPECT_EQ(hf[1], -2.0f);
  EXPECT_EQ(hf[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(hf[3], std::ldexp(1023.0f, -24));
  EXPECT_EQ(hf[4], 65504.0f);
  EXPECT_TRUE(std::isinf(hf[5]) && hf[5] > 0);
  EXPECT_TRUE(std::isinf(hf[6]) && hf[6] < 0);
  EXPECT_TRUE(hf[7] == 0.0f && std::signbit(hf[7]));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(hf[8]), 0x7FC00000u);
  // F32 -> F16: ties to even, overflow, subnormals.
  std::vector<float> x = {1.0f + std::ldexp(1.0f, -11),   // tie between 1 and 1+2^-10: even (1)
                          1.0f + 3 * std::ldexp(1.0f, -11),  // tie: up to the even 1+2^-9
                          65519.0f, 65520.0f, std::ldexp(1.0f, -25), std::ldexp(1.5f, -25), -0.0f,
                          f(0x7F800001u)};
  auto xh = run_convert<std::uint16_t>(dev, *q, x, DType::F32, DType::F16, x.size());
  EXPECT_EQ(xh[0], 0x3C00);
  EXPECT_EQ(xh[1], 0x3C02);
  EXPECT_EQ(xh[2], 0x7BFF);
  EXPECT_EQ(xh[3], 0x7C00);
  EXPECT_EQ(xh[4], 0x0000);  // 2^-25 is half the smallest subnormal: ties to 0
  EXPECT_EQ(xh[5], 0x0001);
  EXPECT_EQ(xh[6], 0x8000);
  EXPECT_EQ(xh[7], 0x7C01);  // a NaN stays a NaN although its top payload bits are 0
  // F32 -> BF16.
  std::vector<float> y = {f(0x3F808000u), f(0x3F818000u), f(0x7F7FFFFFu), f(0xFFC12345u)};
  auto yb = run_convert<std::uint16_t>(dev, *q, y, DType::F32, DType::BF16, y.size());
  EXPECT_EQ(yb[0], 0x3F80);
  EXPECT_EQ(yb[1], 0x3F82);
  EXPECT_EQ(yb[2], 0x7F80);
  EXPECT_EQ(yb[3], 0xFFC0);
  // F8 formats -> F32.
  std::vector<std::uint8_t> e4 = {0x7E, 0x01, 0x38, 0xFF, 0x80};
  auto e4f = run_convert<float>(dev, *q, e4, DType::F8_E4M3, DType::F32, e4.size());
  EXPECT_EQ(e4f[0], 448.0f);
  EXPECT_EQ(e4f[1], std::ldexp(1.0f, -9));
  EXPECT_EQ(e4f[2], 1.0f);
  EXPECT_EQ(std::bit_cast<std::uint32_t>(e4f[3]), 0xFFC00000u);
  EXPECT_TRUE(e4f[4] == 0.0f && std::signbit(e4f[4]));
  std::vector<std::uint8_t> e5 = {0x7B, 0x7C, 0x7D, 0x01};
  auto e5f = run_convert<float>(dev, *q, e5, DType::F8_E5M2, DType::F32, e5.size());
  EXPECT_EQ(e5f[0], 57344.0f);
  EXPECT_TRUE(std::isinf(e5f[1]));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(e5f[2]), 0x7FC00000u);
  EXPECT_EQ(e5f[3], std::ldexp(1.0f, -16));
  std::vector<std::uint8_t> e8 = {127, 0, 254, 255, 130};
  auto e8f = run_convert<float>(dev, *q, e8, DType::F8_E8M0, DType::F32, e8.size());
  EXPECT_EQ(e8f[0], 1.0f);
  EXPECT_EQ(e8f[1], std::ldexp(1.0f, -127));
  EXPECT_EQ(e8f[2], std::ldexp(1.0f, 127));
  EXPECT_EQ(std::bit_cast<std::uint32_t>(e8f[3]), 0x7FC00000u);
  EXPECT_EQ(e8f[4], 8.0f);
}

// F16 -> F32 -> F16 is the identity on all 65536 patterns (NaN payloads kept);
// BF16 -> F32 -> BF16 on all but the NaNs, which come back canonical.
TEST_P(GpuKernels, SixteenBitRoundTripsOverEveryPattern) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  auto all = all_u16();
  auto h32 = run_convert<float>(dev, *q, all, DType::F16, DType::F32, all.size());
  auto h16 = run_convert<std::uint16_t>(dev, *q, h32, DType::F32, DType::F16, all.size());
  EXPECT_EQ(h16, all);
  auto b32 = run_convert<float>(dev, *q, all, DType::BF16, DType::F32, all.size());
  auto b16 = run_convert<std::uint16_t>(dev, *q, b32, DType::F32, DType::BF16, all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool nan = (i & 0x7F80) == 0x7F80 && (i & 0x7F) != 0;
    std::uint16_t want = nan ? static_cast<std::uint16_t>((i & 0x8000) | 0x7FC0) : all[i];
    ASSERT_EQ(b16[i], want) << "bf16 pattern " << i;
  }
}

TEST_P(GpuKernels, ConvertConfigurationsAgreeAndUnalignedSourcesWork) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const std::size_t n = 10007;
  auto raw = random_bytes(n * 2, 9);
  Buffer src = upload(dev, *q, raw, 1);  // odd offset: the kernels read bytes
  std::vector<std::uint32_t> first;
  for (LaunchConfig c : {LaunchConfig{128, 1, 1}, LaunchConfig{64, 4, 2}, LaunchConfig{256, 2, 8}, LaunchConfig{1, 64, 8}}) {
    auto dst = dev.alloc(n * 4);
    ASSERT_TRUE(dst);
    auto e = convert(*q, In{src, 1}, DType::BF16, Out{*dst}, DType::F32, n, c);
    ASSERT_TRUE(e) << e.error().to_string();
    auto out = download<std::uint32_t>(*q, *dst, n);
    for (std::size_t i = 0; i < n; ++i) {
      std::uint32_t bits = (std::to_integer<std::uint32_t>(raw[2 * i]) | std::to_integer<std::uint32_t>(raw[2 * i + 1]) << 8) << 16;
      ASSERT_EQ(out[i], bits) << i;
    }
    if (first.empty()) first = out;
    EXPECT_EQ(out, first);
  }
}

TEST_P(GpuKernels, ConvertArgumentsAreChecked) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  auto a = dev.alloc(64), b = dev.alloc(64);
  ASSERT_TRUE(q && a && b);
  auto r1 = convert(*q, In{*a}, DType::I32, Out{*b}, DType::F32, 4);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, Errc::gpu_unsupported);
  auto r2 = convert(*q, In{*a}, DType::F16, Out{*b}, DType::F8_E4M3, 4);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::gpu_unsupported);
  auto r3 = convert(*q, In{*a}, DType::F16, Out{*b, 2}, DType::F32, 4);  // misaligned output
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, Errc::gpu_bad_argument);
  auto r4 = convert(*q, In{*a}, DType::F16, Out{*b}, DType::F32, 17);  // 68 bytes out of 64
  ASSERT_FALSE(r4);
  EXPECT_EQ(r4.error().code, Errc::gpu_bad_argument);
  auto r5 = convert(*q, In{*a}, DType::F32, Out{*b}, DType::F32, ~std::uint64_t{0} / 2);  // size overflows
  ASSERT_FALSE(r5);
  EXPECT_EQ(r5.error().code, Errc::gpu_bad_argument);
  auto r6 = convert(*q, In{*a}, DType::F16, Out{*b}, DType::F32, 4, LaunchConfig{100, 1, 1});
  ASSERT_FALSE(r6);
  EXPECT_EQ(r6.error().code, Errc::gpu_bad_argument);
}

// --------------------------------------------------------------------- MXFP4

namespace {
// The scalar reference: the OCP MX definition with the C library's ldexp.
float mxfp4_reference(std::uint8_t code, std::uint8_t scale) {
  static const float values[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  if (scale == 0xFF) return std::bit_cast<float>(0x7FC00000u);
  float v = std::ldexp(values[code & 7], scale - 127);
  return (code & 8) ? -v : v;
}
}  // namespace

TEST_P(GpuKernels, Mxfp4MatchesTheScalarReference) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const std::size_t n = 32 * 300 + 10;  // a partial last block
  auto packed = random_bytes(n / 2, 3);
  std::vector<std::uint8_t> scales((n + 31) / 32);
  std::mt19937 rng(4);
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = static_cast<std::uint8_t>(rng());
  // Every extreme scale at least once.
  const std::uint8_t edges[] = {0, 1, 2, 126, 127, 128, 253, 254, 255};
  for (std::size_t i = 0; i < sizeof edges; ++i) scales[i] = edges[i];
  Buffer pb = upload(dev, *q, packed, 5);
  Buffer sb = upload(dev, *q, scales, 3);
  auto out32 = dev.alloc(n * 4), out16 = dev.alloc(n * 2);
  ASSERT_TRUE(out32 && out16);
  ASSERT_TRUE(dequantize_mxfp4(*q, In{pb, 5}, In{sb, 3}, Out{*out32}, DType::F32, n));
  ASSERT_TRUE(dequantize_mxfp4(*q, In{pb, 5}, In{sb, 3}, Out{*out16}, DType::BF16, n, LaunchConfig{64, 3, 4}));
  auto got32 = download<std::uint32_t>(*q, *out32, n);
  auto got16 = download<std::uint16_t>(*q, *out16, n);
  for (std::size_t i = 0; i < n; ++i) {
    auto byte = std::to_integer<std::uint8_t>(packed[i / 2]);
    std::uint8_t code = (i % 2) ? byte >> 4 : byte & 15;
    float want = mxfp4_reference(code, scales[i / 32]);
    std::uint32_t want_bits = std::bit_cast<std::uint32_t>(want);
    ASSERT_EQ(got32[i], want_bits) << "element " << i << " code " << int(code) << " scale " << int(scales[i / 32]);
    // BF16 holds every MXFP4 value exactly: its top half.
    ASSERT_EQ(got16[i], static_cast<std::uint16_t>(want_bits >> 16)) << "element " << i;
  }
}

TEST_P(GpuKernels, Mxfp4ArgumentsAreChecked) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  auto a = dev.alloc(64), s = dev.alloc(2), o = dev.alloc(1024);
  ASSERT_TRUE(q && a && s && o);
  auto odd = dequantize_mxfp4(*q, In{*a}, In{*s}, Out{*o}, DType::F32, 33);
  ASSERT_FALSE(odd);
  EXPECT_EQ(odd.error().code, Errc::gpu_bad_argument);
  auto few_scales = dequantize_mxfp4(*q, In{*a}, In{*s}, Out{*o}, DType::BF16, 66);  // needs 3 scales
  ASSERT_FALSE(few_scales);
  EXPECT_EQ(few_scales.error().code, Errc::gpu_bad_argument);
  auto f16 = dequantize_mxfp4(*q, In{*a}, In{*s}, Out{*o}, DType::F16, 64);
  ASSERT_FALSE(f16);
  EXPECT_EQ(f16.error().code, Errc::gpu_unsupported);
}

// ---------------------------------------------------------------------- GEMV

namespace {
float decode_weight(const std::vector<std::uint16_t>& w, std::size_t i, DType t) {
  std::uint16_t h = w[i];
  if (t == DType::BF16) return std::bit_cast<float>(std::uint32_t{h} << 16);
  int e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0 ? std::ldexp(float(m), -24) : std::ldexp(float(1024 + m), e - 25);
  return (h & 0x8000) ? -v : v;
}
}  // namespace

// |y - y_ref| <= cols * 2^-24 * sum |w_i x_i|: the classical bound for F32
// recursive summation (with any order of partial sums), against a double reference.
TEST_P(GpuKernels, GemvWithinTheFloatSummationBound) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const std::size_t rows = 67, cols = 1003;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(cols);
  for (auto& v : x) v = normal(rng);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<float> w32(rows * cols);
    std::vector<std::uint16_t> w16(rows * cols);
    for (std::size_t i = 0; i < w32.size(); ++i) {
      w32[i] = normal(rng) * 0.5f;
      std::uint32_t bits = std::bit_cast<std::uint32_t>(w32[i]);
      // Finite, normal 16-bit values: BF16 by truncation; F16 from a small integer grid.
      w16[i] = t == DType::BF16 ? static_cast<std::uint16_t>(bits >> 16)
                                : static_cast<std::uint16_t>(0x3000 + (rng() % 0x1800) + ((rng() & 1) << 15));
    }
    Buffer wb = t == DType::F32 ? upload(dev, *q, w32, 3) : upload(dev, *q, w16, 3);
    Buffer xb = upload(dev, *q, x, 1);
    for (LaunchConfig c : {LaunchConfig{64, 1, 1}, LaunchConfig{32, 2, 4}, LaunchConfig{128, 1, 8},
                           LaunchConfig{64, 2, 4, 0, 4, 16, 0, true}, LaunchConfig{128, 1, 2, 1, 2, 8, 1}}) {
      auto y = dev.alloc(rows * 4);
      ASSERT_TRUE(y);
      auto e = gemv(*q, In{wb, 3}, t, In{xb, 1}, Out{*y}, rows, cols, c);
      ASSERT_TRUE(e) << e.error().to_string();
      auto got = download<float>(*q, *y, rows);
      for (std::size_t r = 0; r < rows; ++r) {
        double ref = 0, mag = 0;
        for (std::size_t k = 0; k < cols; ++k) {
          double wv = t == DType::F32 ? w32[r * cols + k] : decode_weight(w16, r * cols + k, t);
          ref += wv * x[k];
          mag += std::fabs(wv * x[k]);
        }
        double bound = double(cols) * std::ldexp(1.0, -24) * mag;
        ASSERT_LE(std::fabs(got[r] - ref), bound)
            << name(t) << " row " << r << " config " << c.local_size << "/" << c.items_per_thread << "/" << c.vector_width;
      }
    }
  }
}

TEST_P(GpuKernels, GemvArgumentsAreChecked) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto q = dev.queue();
  auto w = dev.alloc(4 * 4 * 4), x = dev.alloc(16), y = dev.alloc(16);
  ASSERT_TRUE(q && w && x && y);
  ASSERT_TRUE(gemv(*q, In{*w}, DType::F32, In{*x}, Out{*y}, 4, 4));
  auto big = gemv(*q, In{*w}, DType::F32, In{*x}, Out{*y}, 4, 5);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::gpu_bad_argument);
  auto i8 = gemv(*q, In{*w}, DType::I8, In{*x}, Out{*y}, 4, 4);
  ASSERT_FALSE(i8);
  EXPECT_EQ(i8.error().code, Errc::gpu_unsupported);
  auto mis = gemv(*q, In{*w}, DType::F32, In{*x}, Out{*y, 2}, 3, 4);
  ASSERT_FALSE(mis);
  EXPECT_EQ(mis.error().code, Errc::gpu_bad_argument);
  ASSERT_TRUE(q->finish());
}

// ------------------------------------------------------------------ variants

namespace {

// One kernel's inputs, on the host: tricky sizes (no multiple of any group,
// block or vector), placed at `offset` bytes into their buffers.
struct Case {
  Kernel kernel;
  DType in, out;
  std::vector<std::byte> a, b;  // convert: source; mxfp4: packed, scales; gemv: W, x; checksum: data
  std::uint64_t n = 0, rows = 0, cols = 0, out_bytes = 0;
};

Case make_case(Kernel k, DType in, DType out) {
  Case c{k, in, out, {}, {}};
  std::mt19937_64 rng(static_cast<unsigned>(k) * 7 + static_cast<unsigned>(in));
  auto bytes = [&](std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& x : v) x = static_cast<std::byte>(rng());
    return v;
  };
  switch (k) {
    case Kernel::convert:
      c.n = 5003;
      c.a = bytes(c.n * element_size(in));
      c.out_bytes = c.n * element_size(out);
      break;
    case Kernel::mxfp4:
      c.n = 4102;  // a last partial block
      c.a = bytes(c.n / 2);
      c.b = bytes((c.n + 31) / 32);
      c.b[3] = std::byte{0xFF};  // a NaN scale
      c.out_bytes = c.n * element_size(out);
      break;
    case Kernel::gemv: {
      c.rows = 77, c.cols = 333;  // non-negative values: the bound is relative to y itself
      c.a.resize(c.rows * c.cols * 2);
      for (std::size_t i = 0; i < c.rows * c.cols; ++i) {
        auto v = static_cast<std::uint16_t>(rng() % 0x3F7F);  // BF16 in [0, 1)
        std::memcpy(c.a.data() + 2 * i, &v, 2);
      }
      c.b.resize(c.cols * 4);
      for (std::size_t i = 0; i < c.cols; ++i) {
        float x = static_cast<float>(rng() % 1000) / 1000.0f;
        std::memcpy(c.b.data() + 4 * i, &x, 4);
      }
      c.out_bytes = c.rows * 4;
      break;
    }
    case Kernel::checksum:
      c.n = 3 * 4096 + 123;
      c.a = bytes(c.n);
      c.out_bytes = checksum_block_count(c.n) * 8;
      break;
  }
  return c;
}

// Run the case's kernel with configuration `cfg`, inputs `offset` bytes into
// their buffers, the output poisoned first; the output bytes.
std::vector<std::byte> run_case(const Device& dev, const Case& c, const LaunchConfig& cfg, std::uint64_t offset) {
  auto q = dev.queue();
  EXPECT_TRUE(q);
  Buffer a = upload(dev, *q, c.a, offset);
  Buffer b = upload(dev, *q, c.b.empty() ? std::vector<std::byte>(8) : c.b, offset);
  auto o = dev.alloc(c.out_bytes);
  EXPECT_TRUE(o);
  std::vector<std::byte> out(c.out_bytes, std::byte{0x5A});
  EXPECT_TRUE(q->write(*o, 0, out.data(), out.size()));
  Result<Event> e = Error(Errc::internal, "unknown kernel");
  switch (c.kernel) {
    case Kernel::convert: e = convert(*q, In{a, offset}, c.in, Out{*o}, c.out, c.n, cfg); break;
    case Kernel::mxfp4: e = dequantize_mxfp4(*q, In{a, offset}, In{b, offset}, Out{*o}, c.out, c.n, cfg); break;
    case Kernel::gemv: e = gemv(*q, In{a, offset}, c.in, In{b, offset}, Out{*o}, c.rows, c.cols, cfg); break;
    case Kernel::checksum: e = checksum_blocks(*q, In{a, offset}, c.n, Out{*o}, 0, cfg); break;
  }
  EXPECT_TRUE(e) << config_string(cfg) << ": " << e.error().to_string();
  EXPECT_TRUE(q->read(*o, 0, out.data(), out.size()));
  EXPECT_TRUE(q->finish());
  return out;
}

// Bit for bit; GEMV within 2 cols 2^-24 y (two F32 sums of non-negative terms, each within cols 2^-24 y).
void expect_same(const Case& c, const std::vector<std::byte>& got, const std::vector<std::byte>& want,
                 const LaunchConfig& cfg) {
  if (c.kernel != Kernel::gemv) {
    EXPECT_TRUE(got == want) << kernel_name(c.kernel) << " " << config_string(cfg) << " differs";
    return;
  }
  for (std::size_t r = 0; r < c.rows; ++r) {
    float g, w;
    std::memcpy(&g, got.data() + 4 * r, 4);
    std::memcpy(&w, want.data() + 4 * r, 4);
    ASSERT_LE(std::fabs(double(g) - w), 2.0 * double(c.cols) * std::ldexp(1.0, -24) * w)
        << config_string(cfg) << " row " << r;
  }
}

std::vector<Case> variant_cases() {
  return {make_case(Kernel::convert, DType::F16, DType::F32), make_case(Kernel::convert, DType::F32, DType::BF16),
          make_case(Kernel::convert, DType::F8_E4M3, DType::F16), make_case(Kernel::mxfp4, DType::F4, DType::BF16),
          make_case(Kernel::gemv, DType::BF16, DType::F32), make_case(Kernel::checksum, DType::U8, DType::U64)};
}

// Variants chosen to reach every structural path of the kernels: both
// element mappings, block modes, split-K with either reduction, split
// checksum blocks, fixed dtypes, typed loads.
std::vector<LaunchConfig> structural_sample(Kernel k) {
  switch (k) {
    case Kernel::convert: return {{32, 5, 8, 1, 1, 1, 0, true, true}};
    case Kernel::mxfp4: return {{64, 2, 1, 2, 1, 1, 0, true, true}, {128, 3, 1, 3}};
    case Kernel::gemv: return {{64, 2, 4, 0, 4, 16, 0, true, true}, {128, 1, 8, 1, 2, 4, 1}, {32, 4, 2, 0, 1, 32, 0, false, true}};
    case Kernel::checksum: return {{64, 2, 1, 1, 4, 2, 0, false, true}, {128, 1, 1, 0, 8, 4}};
  }
  return {};
}

}  // namespace

// Every variant computes what the default configuration computes on the CPU
// backend: every variant compiled into the CPU backend (at an odd offset and
// an aligned one), and on the other backends a sample that reaches every
// structural path (each a build of its own: about a second on PoCL).
TEST_P(GpuKernels, EveryVariantComputesTheSameResult) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto cpu = open_device(Backend::cpu);
  ASSERT_TRUE(cpu);
  for (const Case& c : variant_cases()) {
    SCOPED_TRACE(std::string(kernel_name(c.kernel)) + " " + std::string(name(c.in)) + " -> " + std::string(name(c.out)));
    const auto want = run_case(*cpu, c, default_config(c.kernel), 0);
    if (dev.builds_variants()) {
      for (const LaunchConfig& cfg : structural_sample(c.kernel)) expect_same(c, run_case(dev, c, cfg, 8), want, cfg);
    } else {
      const auto space = config_space(dev, TuneKey{c.kernel, c.in, c.out, c.n});
      ASSERT_FALSE(space.empty());
      for (const LaunchConfig& cfg : space) {
        expect_same(c, run_case(dev, c, cfg, 8), want, cfg);
        expect_same(c, run_case(dev, c, cfg, 3), want, cfg);
      }
      for (const LaunchConfig& cfg : structural_sample(c.kernel))  // the generic kernel
        expect_same(c, run_case(dev, c, cfg, 8), want, cfg);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuKernels, ::testing::ValuesIn(sft::test::gpu_backend_names()),
                         [](const auto& info) { return info.param; });
