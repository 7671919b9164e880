// The kernels of kernels.inc compiled as C++, for the CPU backend, and the
// kernel signatures, read off these C++ functions' own parameter lists.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "backend.hpp"
#include "sft/dtype.hpp"

namespace sft::gpu::detail::cpu_kernels {
#include "kernels/kernels.inc"
}  // namespace sft::gpu::detail::cpu_kernels

namespace sft::gpu::detail {
namespace {

namespace ck = cpu_kernels;

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
template <class... P, void (*Fn)(ck::sft_item, P...)>
struct KernelFn<Fn> {
  static constexpr std::array<ArgKind, sizeof...(P)> kinds{Param<P>::kind...};

  // Work items [begin, end) of an index space of `global` items.
  static void run(const RawArg* a, std::uint64_t begin, std::uint64_t end, std::uint64_t global) {
    run_with(a, begin, end, global, std::index_sequence_for<P...>{});
  }
  template <std::size_t... I>
  static void run_with(const RawArg* a, std::uint64_t begin, std::uint64_t end, std::uint64_t global,
                       std::index_sequence<I...>) {
    std::tuple<P...> args{Param<P>::get(a[I])...};
    for (std::uint64_t g = begin; g < end; ++g) Fn(ck::sft_item{g, global}, std::get<I>(args)...);
  }
};

using Convert = KernelFn<&ck::sft_convert>;
using Mxfp4 = KernelFn<&ck::sft_mxfp4>;
using Gemv = KernelFn<&ck::sft_gemv>;
using Checksum = KernelFn<&ck::sft_checksum>;

using RunFn = void (*)(const RawArg*, std::uint64_t, std::uint64_t, std::uint64_t);
RunFn runner(Kernel k) {
  switch (k) {
    case Kernel::convert: return &Convert::run;
    case Kernel::mxfp4: return &Mxfp4::run;
    case Kernel::gemv: return &Gemv::run;
    case Kernel::checksum: return &Checksum::run;
  }
  return nullptr;
}

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

// Work items are independent (portable.h forbids barriers), so the index space
// is cut into one contiguous piece per hardware thread.
void cpu_run_kernel(Kernel k, const LaunchDims& dims, std::span<const RawArg> args) {
  RunFn run = runner(k);
  if (!run) return;
  const std::uint64_t global = dims.global;
  // Below this many items a thread costs more than it saves.
  constexpr std::uint64_t min_items_per_thread = 1024;
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  auto threads = static_cast<unsigned>(std::min<std::uint64_t>(hw, (global + min_items_per_thread - 1) / min_items_per_thread));
  if (threads <= 1) {
    run(args.data(), 0, global, global);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  std::uint64_t step = (global + threads - 1) / threads;
  for (unsigned t = 1; t < threads; ++t) {
    std::uint64_t b = std::min(global, step * t), e = std::min(global, b + step);
    if (b >= e) continue;
    try {
      pool.emplace_back([=] { run(args.data(), b, e, global); });
    } catch (...) {  // no thread to be had: do that piece here
      run(args.data(), b, e, global);
    }
  }
  run(args.data(), 0, std::min(global, step), global);
  for (auto& th : pool) th.join();
}

}  // namespace sft::gpu::detail

namespace sft::gpu {

std::span<const ArgKind> kernel_signature(Kernel k) noexcept {
  using namespace detail;
  switch (k) {
    case Kernel::convert: return Convert::kinds;
    case Kernel::mxfp4: return Mxfp4::kinds;
    case Kernel::gemv: return Gemv::kinds;
    case Kernel::checksum: return Checksum::kinds;
  }
  return {};
}

}  // namespace sft::gpu
