// The kernels of kernels.inc compiled as C++, for the CPU backend, and the
// kernel signatures, read off these C++ functions' own parameter lists.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "sft/dtype.hpp"
#include "variant.hpp"

namespace sft::gpu::detail::cpu_kernels {
#include "kernels/kernels.inc"
}  // namespace sft::gpu::detail::cpu_kernels

namespace sft::gpu::detail {
namespace {

namespace ck = cpu_kernels;
using u32 = ck::u32;  // for the SFT_CFG_* macros below

// The kernels name dtypes by sft::DType's numbers.
static_assert(SFT_DT_F4 == static_cast<unsigned>(DType::F4));
static_assert(SFT_DT_F8_E5M2 == static_cast<unsigned>(DType::F8_E5M2));
static_assert(SFT_DT_F8_E4M3 == static_cast<unsigned>(DType::F8_E4M3));
static_assert(SFT_DT_F8_E8M0 == static_cast<unsigned>(DType::F8_E8M0));
static_assert(SFT_DT_F16 == static_cast<unsigned>(DType::F16));
static_assert(SFT_DT_BF16 == static_cast<unsigned>(DType::BF16));
static_assert(SFT_DT_F32 == static_cast<unsigned>(DType::F32));

// How a C++ parameter type of a kernel maps to an argument kind.
template <class T> struct Param;
template <> struct Param<const ck::u8*> {
  static constexpr ArgKind kind = ArgKind::buffer_in;
  static const ck::u8* get(const RawArg& a) { return static_cast<const ck::u8*>(a.handle); }
};
template <> struct Param<ck::u8*> {
  static constexpr ArgKind kind = ArgKind::buffer_out;
  static ck::u8* get(const RawArg& a) { return static_cast<ck::u8*>(a.handle); }
};
template <> struct Param<ck::u64> {
  static constexpr ArgKind kind = ArgKind::u64;
  static ck::u64 get(const RawArg& a) { return a.u64; }
};
template <> struct Param<ck::u32> {
  static constexpr ArgKind kind = ArgKind::u32;
  static ck::u32 get(const RawArg& a) { return a.u32; }
};
template <> struct Param<ck::f32> {  // no kernel takes a float yet
  [[maybe_unused]] static constexpr ArgKind kind = ArgKind::f32;
  static ck::f32 get(const RawArg& a) { return a.f32; }
};

template <auto Fn> struct KernelFn;
// Run units [begin, end) of a launch: work items of an item kernel (first
// parameter sft_item), work groups of a group kernel (sft_group), whose
// items the kernel itself loops over.
template <class Pos, class... P, void (*Fn)(Pos, P...)>
struct KernelFn<Fn> {
  static constexpr std::array<ArgKind, sizeof...(P)> kinds{Param<P>::kind...};
  static constexpr bool group = std::is_same_v<Pos, ck::sft_group>;
  static void run(const RawArg* a, const LaunchDims& d, std::uint64_t begin, std::uint64_t end) {
    run_with(a, d, begin, end, std::index_sequence_for<P...>{});
  }
  template <std::size_t... I>
  static void run_with(const RawArg* a, const LaunchDims& d, std::uint64_t begin, std::uint64_t end,
                       std::index_sequence<I...>) {
    std::tuple<P...> args{Param<P>::get(a[I])...};
    for (std::uint64_t g = begin; g < end; ++g) {
      if constexpr (group)
        Fn(ck::sft_group{g, d.global / d.local, d.local}, std::get<I>(args)...);
      else
        Fn(ck::sft_item{g, d.global}, std::get<I>(args)...);
    }
  }
};

using RunFn = void (*)(const RawArg*, const LaunchDims&, std::uint64_t, std::uint64_t);

template <Kernel K, std::uint64_t V>
constexpr RunFn run_fn() {
  if constexpr (K == Kernel::convert) return &KernelFn<&ck::sft_convert<V>>::run;
  else if constexpr (K == Kernel::mxfp4) return &KernelFn<&ck::sft_mxfp4<V>>::run;
  else if constexpr (K == Kernel::gemv) return &KernelFn<&ck::sft_gemv<V>>::run;
  else return &KernelFn<&ck::sft_checksum<V>>::run;
}

// The kernels' own decoding of a configuration agrees with the host's packing.
constexpr LaunchConfig probe{256, 37, 8, 3, 4, 16, 1, false, false, 2};
static_assert(SFT_CFG_EPT(pack_cfg(probe)) == 37 && SFT_CFG_VW(pack_cfg(probe)) == 8 &&
              SFT_CFG_MAP(pack_cfg(probe)) == 3 && SFT_CFG_UNROLL(pack_cfg(probe)) == 4 &&
              SFT_CFG_SPLIT(pack_cfg(probe)) == 16 && SFT_CFG_RED(pack_cfg(probe)) == 1 &&
              SFT_CFG_LSIZE(pack_cfg(probe)) == 256 && SFT_CFG_FAULT(pack_cfg(probe)) == 2);

// The variants compiled in as C++ (docs/gpu.md, "Variants"): the parameters
// that matter on a CPU, where a work group is a loop. The dtypes are not
// fixed (a branch per element the CPU predicts perfectly) and loads stay
// bytewise (compilers merge them into one unaligned load on x86).
constexpr LaunchConfig cfg(std::uint32_t l, std::uint32_t e, std::uint32_t v, std::uint32_t m, std::uint32_t u = 1,
                           std::uint32_t k = 1, std::uint32_t r = 0) {
  return LaunchConfig{l, e, v, m, u, k, r};
}
constexpr std::uint32_t kEpt[] = {1, 2, 4, 8, 16};
constexpr std::uint32_t kVw[] = {1, 2, 4, 8};

constexpr auto convert_variants() {
  std::array<std::uint64_t, 40> out{};
  std::size_t n = 0;
  for (auto e : kEpt)
    for (auto v : kVw)
      for (std::uint32_t m = 0; m < 2; ++m) out[n++] = variant_of(Kernel::convert, cfg(64, e, v, m), {});
  return out;
}
constexpr auto mxfp4_variants() {
  std::array<std::uint64_t, 50> out{};
  std::size_t n = 0;
  for (auto e : kEpt) {
    for (auto v : kVw)
      for (std::uint32_t m = 0; m < 2; ++m) out[n++] = variant_of(Kernel::mxfp4, cfg(64, e, v, m), {});
    for (std::uint32_t m = 2; m < 4; ++m) out[n++] = variant_of(Kernel::mxfp4, cfg(64, e, 1, m), {});
  }
  return out;
}
constexpr auto gemv_variants() {
  std::array<std::uint64_t, 54> out{};
  std::size_t n = 0;
  for (std::uint32_t r : {1u, 2u, 4u})
    for (std::uint32_t v : {1u, 4u, 8u})
      for (std::uint32_t u : {1u, 4u}) {
        out[n++] = variant_of(Kernel::gemv, cfg(64, r, v, 0, u), {});
        for (std::uint32_t m = 0; m < 2; ++m) out[n++] = variant_of(Kernel::gemv, cfg(64, r, v, m, u, 4, 0), {});
      }
  return out;
}
constexpr auto checksum_variants() {
  std::array<std::uint64_t, 12> out{};
  std::size_t n = 0;
  for (std::uint32_t e : {1u, 4u})
    for (std::uint32_t m = 0; m < 2; ++m)
      for (std::uint32_t u : {1u, 2u, 4u}) out[n++] = variant_of(Kernel::checksum, cfg(64, e, 1, m, u), {});
  return out;
}
constexpr auto kConvertVariants = convert_variants();
constexpr auto kMxfp4Variants = mxfp4_variants();
constexpr auto kGemvVariants = gemv_variants();
constexpr auto kChecksumVariants = checksum_variants();

struct Compiled {
  std::uint64_t variant;
  RunFn run;
};
template <Kernel K, const auto& List, std::size_t... I>
constexpr auto table(std::index_sequence<I...>) {
  return std::array<Compiled, sizeof...(I) + 1>{Compiled{0, run_fn<K, 0>()}, Compiled{List[I], run_fn<K, List[I]>()}...};
}
constexpr auto kConvert = table<Kernel::convert, kConvertVariants>(std::make_index_sequence<kConvertVariants.size()>{});
constexpr auto kMxfp4 = table<Kernel::mxfp4, kMxfp4Variants>(std::make_index_sequence<kMxfp4Variants.size()>{});
constexpr auto kGemv = table<Kernel::gemv, kGemvVariants>(std::make_index_sequence<kGemvVariants.size()>{});
constexpr auto kChecksum = table<Kernel::checksum, kChecksumVariants>(std::make_index_sequence<kChecksumVariants.size()>{});

std::span<const Compiled> compiled(Kernel k) {
  switch (k) {
    case Kernel::convert: return kConvert;
    case Kernel::mxfp4: return kMxfp4;
    case Kernel::gemv: return kGemv;
    case Kernel::checksum: return kChecksum;
  }
  return {};
}

// The compiled instantiation of a variant, else the generic kernel (entry 0).
RunFn runner(Kernel k, std::uint64_t variant) {
  auto all = compiled(k);
  if (all.empty()) return nullptr;
  for (const Compiled& c : all)
    if (c.variant == variant) return c.run;
  return all[0].run;
}

bool group_kernel(Kernel k) { return k == Kernel::gemv || k == Kernel::checksum; }

}  // namespace

const char* kernel_entry(Kernel k) noexcept {
  switch (k) {
    case Kernel::convert: return "sft_convert";
    case Kernel::mxfp4: return "sft_mxfp4";
    case Kernel::gemv: return "sft_gemv";
    case Kernel::checksum: return "sft_checksum";
  }
  return "";
}

bool cpu_has_variant(Kernel k, std::uint64_t variant) noexcept {
  if (variant == 0) return false;
  for (const Compiled& c : compiled(k))
    if (c.variant == variant) return true;
  return false;
}

// Work items (of item kernels) and work groups (of group kernels) are
// independent, so the index space is cut into one contiguous piece per
// hardware thread.
void cpu_run_kernel(Kernel k, const LaunchDims& dims, std::span<const RawArg> args, std::uint64_t variant) {
  RunFn run = runner(k, variant);
  if (!run) return;
  const std::uint64_t units = group_kernel(k) ? dims.global / dims.local : dims.global;
  // Below this many work items a thread costs more than it saves.
  constexpr std::uint64_t min_items_per_thread = 1024;
  const std::uint64_t min_units = group_kernel(k) ? std::max<std::uint64_t>(1, min_items_per_thread / dims.local)
                                                  : min_items_per_thread;
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  auto threads = static_cast<unsigned>(std::min<std::uint64_t>(hw, (units + min_units - 1) / min_units));
  if (threads <= 1) {
    run(args.data(), dims, 0, units);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  std::uint64_t step = (units + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t) {
    std::uint64_t b = std::min(units, step * t), e = std::min(units, b + step);
    if (b >= e) continue;
    try {
      // run is a kernel: arithmetic on the arguments' buffers, no allocation,
      // nothing that throws, so the thread's body cannot end in std::terminate.
      pool.emplace_back([=]() noexcept { run(args.data(), dims, b, e); });
    } catch (...) {  // no thread to be had: do that piece here
      run(args.data(), dims, b, e);
    }
  }
  run(args.data(), dims, 0, std::min(units, step));
  for (auto& th : pool) th.join();
}

}  // namespace sft::gpu::detail

namespace sft::gpu {

std::span<const ArgKind> kernel_signature(Kernel k) noexcept {
  using namespace detail;
  switch (k) {
    case Kernel::convert: return KernelFn<&ck::sft_convert<0>>::kinds;
    case Kernel::mxfp4: return KernelFn<&ck::sft_mxfp4<0>>::kinds;
    case Kernel::gemv: return KernelFn<&ck::sft_gemv<0>>::kinds;
    case Kernel::checksum: return KernelFn<&ck::sft_checksum<0>>::kinds;
  }
  return {};
}

}  // namespace sft::gpu
