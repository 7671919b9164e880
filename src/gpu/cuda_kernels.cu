// The kernels of kernels.inc compiled by nvcc: the generic build of each
// kernel (SFT_V = 0) and a fixed set of variants, template instantiations
// chosen for GPUs (the default configurations among them, so that nothing a
// caller gets without tuning needs NVRTC). The host side (cuda_backend.cpp)
// finds them by kernel and variant and launches them with cudaLaunchKernel;
// NVRTC builds every other variant at run time where libnvrtc is present.
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "kernels/kernels.inc"
#include "variant_bits.hpp"

namespace {

using sft::gpu::detail::LaunchFacts;
using sft::gpu::detail::VariantParams;
using sft::gpu::detail::variant_of;

// sft::gpu::Kernel's numbers (its header is C++20; this file is C++17).
enum class Kernel : int { convert = 0, mxfp4 = 1, gemv = 2, checksum = 3 };
constexpr std::uint64_t variant_of(Kernel k, const VariantParams& c, const LaunchFacts& f) {
  return variant_of(static_cast<int>(k), c, f);
}

constexpr VariantParams cfg(std::uint32_t l, std::uint32_t e, std::uint32_t v, std::uint32_t m = 0, std::uint32_t u = 1,
                            std::uint32_t k = 1, bool w = false) {
  VariantParams p;
  p.local_size = l, p.items_per_thread = e, p.vector_width = v, p.mapping = m, p.unroll = u, p.split = k;
  p.wide_loads = w;
  return p;
}
constexpr LaunchFacts aligned{0, 0, true};

// Element-wise kernels: the work-group size is a launch parameter, not part of the variant.
constexpr auto convert_variants() {
  std::array<std::uint64_t, 12> out{};
  std::size_t n = 0;
  for (std::uint32_t e : {1u, 4u, 8u})
    for (std::uint32_t v : {1u, 4u})
      for (bool w : {false, true}) out[n++] = variant_of(Kernel::convert, cfg(128, e, v, 0, 1, 1, w), aligned);
  return out;
}
constexpr auto mxfp4_variants() {
  std::array<std::uint64_t, 12> out{};
  std::size_t n = 0;
  for (std::uint32_t e : {1u, 4u, 8u})
    for (std::uint32_t v : {1u, 4u}) out[n++] = variant_of(Kernel::mxfp4, cfg(128, e, v, 0), {});
  for (std::uint32_t e : {1u, 2u, 4u})
    for (bool w : {false, true}) out[n++] = variant_of(Kernel::mxfp4, cfg(128, e, 1, 2, 1, 1, w), aligned);
  return out;
}
// Group kernels: a variant per work-group size. The default (64, 1, 4) and
// warp-per-row shapes (split 32) with a few widths.
constexpr auto gemv_variants() {
  std::array<std::uint64_t, 27> out{};
  std::size_t n = 0;
  out[n++] = variant_of(Kernel::gemv, cfg(64, 1, 4), {});
  for (std::uint32_t l : {128u, 256u})
    for (std::uint32_t k : {1u, 8u, 32u})
      for (std::uint32_t e : {1u, 2u})
        for (bool w : {false, true}) out[n++] = variant_of(Kernel::gemv, cfg(l, e, 4, 0, 2, k, w), aligned);
  for (std::uint32_t l : {128u, 256u})
    out[n++] = variant_of(Kernel::gemv, cfg(l, 1, 8, 0, 2, 32, true), aligned);
  return out;
}
constexpr auto checksum_variants() {
  std::array<std::uint64_t, 17> out{};
  std::size_t n = 0;
  out[n++] = variant_of(Kernel::checksum, cfg(64, 1, 1), {});
  for (std::uint32_t l : {128u, 256u})
    for (std::uint32_t k : {1u, 4u})
      for (std::uint32_t u : {1u, 4u})
        for (bool w : {false, true}) out[n++] = variant_of(Kernel::checksum, cfg(l, 1, 1, 0, u, k, w), aligned);
  return out;
}
constexpr auto kConvert = convert_variants();
constexpr auto kMxfp4 = mxfp4_variants();
constexpr auto kGemv = gemv_variants();
constexpr auto kChecksum = checksum_variants();

// The defaults of sft/gpu/tune.hpp are among them (checked at compile time).
template <class List>
constexpr bool has(const List& list, std::uint64_t v) {
  for (auto x : list)
    if (x == v) return true;
  return false;
}
static_assert(has(kConvert, variant_of(Kernel::convert, cfg(128, 4, 1), {})));
static_assert(has(kMxfp4, variant_of(Kernel::mxfp4, cfg(128, 4, 1), {})));
static_assert(has(kGemv, variant_of(Kernel::gemv, cfg(64, 1, 4), {})));
static_assert(has(kChecksum, variant_of(Kernel::checksum, cfg(64, 1, 1), {})));

struct Compiled {
  std::uint64_t variant;
  const void* fn;
};

template <Kernel K, std::uint64_t V>
const void* fn() {
  if constexpr (K == Kernel::convert) return reinterpret_cast<const void*>(&sft_convert<V>);
  else if constexpr (K == Kernel::mxfp4) return reinterpret_cast<const void*>(&sft_mxfp4<V>);
  else if constexpr (K == Kernel::gemv) return reinterpret_cast<const void*>(&sft_gemv<V>);
  else return reinterpret_cast<const void*>(&sft_checksum<V>);
}

template <Kernel K, const auto& List, std::size_t... I>
std::array<Compiled, sizeof...(I) + 1> table(std::index_sequence<I...>) {
  return {Compiled{0, fn<K, 0>()}, Compiled{List[I], fn<K, List[I]>()}...};
}

template <Kernel K, const auto& List>
const void* find(std::uint64_t variant) {
  static const auto t = table<K, List>(std::make_index_sequence<List.size()>{});
  for (const Compiled& c : t)
    if (c.variant == variant) return c.fn;
  return nullptr;
}

}  // namespace

// The compiled kernel for (kernel k, variant), or null: variant 0 is the generic one.
extern "C" const void* sft_gpu_cuda_kernel(int k, unsigned long long variant) {
  switch (k) {
    case 0: return find<Kernel::convert, kConvert>(variant);
    case 1: return find<Kernel::mxfp4, kMxfp4>(variant);
    case 2: return find<Kernel::gemv, kGemv>(variant);
    case 3: return find<Kernel::checksum, kChecksum>(variant);
    default: return nullptr;
  }
}
