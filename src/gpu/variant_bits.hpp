// src/gpu/variant_bits.hpp — how a kernel configuration is packed for the kernels (internal).
//
// kernels.inc reads its tuning parameters from a u32 (`cfg`, the kernels' last
// argument) and, in a compiled variant, from SFT_V: the same u32 plus what the
// variant fixed from its launch (dtypes, alignment) and bit 63. The layout is
// documented at "Variants" in kernels.inc; cpu_kernels.cpp checks at compile
// time that pack_cfg() and the kernels' SFT_CFG_* macros agree.
//
// C++17 and free of sft's headers, so that nvcc compiles it too
// (cuda_kernels.cu lists its compiled-in variants with it); variant.hpp
// adds the LaunchConfig overloads the rest of sft_gpu uses.
#pragma once

#include <cstdint>

namespace sft::gpu::detail {

// The fields of a LaunchConfig (sft/gpu/kernels.hpp), in its order.
struct VariantParams {
  std::uint32_t local_size = 128, items_per_thread = 1, vector_width = 1, mapping = 0, unroll = 1, split = 1,
                reduction = 0;
  bool specialize = false, wide_loads = false;
  std::uint32_t fault = 0;
};

// What a compiled variant may fix from its launch, beyond the configuration.
struct LaunchFacts {
  std::uint32_t dtype1 = 0;  // convert: source; gemv: W (a DType's number), 0: not fixed
  std::uint32_t dtype2 = 0;  // convert, mxfp4: target
  bool aligned = false;      // the inputs may be read with typed loads
};

constexpr std::uint32_t log2u(std::uint32_t v) noexcept {
  std::uint32_t r = 0;
  while (v > 1) v >>= 1, ++r;
  return r;
}

// Kernels by number (sft::gpu::Kernel): convert 0, mxfp4 1, gemv 2, checksum 3.
// Group kernels' bodies are phases of a work group; their compiled variants
// fix the work-group size. The others are item kernels.
constexpr bool is_group_kernel(int k) noexcept { return k == 2 || k == 3; }

// The run-time parameters (the `cfg` argument); values assumed checked
// (check_config): powers of two where the layout stores a log2.
constexpr std::uint32_t pack_cfg(const VariantParams& c) noexcept {
  return (c.items_per_thread & 127u) | (log2u(c.vector_width) & 3u) << 7 | (c.mapping & 3u) << 9 |
         (log2u(c.unroll) & 3u) << 11 | (log2u(c.split) & 15u) << 13 | (c.reduction & 1u) << 17 |
         (log2u(c.local_size) & 15u) << 18 | (c.fault & 3u) << 22;
}

// SFT_V of the variant compiled for a launch: the configuration (without the
// work-group size for item kernels, which do not depend on it), the dtypes
// when `specialize`, alignment when `wide_loads` and the launch allows.
constexpr std::uint64_t variant_of(int k, const VariantParams& c, const LaunchFacts& f) noexcept {
  std::uint64_t v = pack_cfg(c);
  if (!is_group_kernel(k)) v &= ~(std::uint64_t{15} << 18);
  if (c.specialize) v |= std::uint64_t{f.dtype1 & 255u} << 32 | std::uint64_t{f.dtype2 & 255u} << 40;
  if (c.wide_loads && f.aligned) v |= std::uint64_t{1} << 48;
  return v | std::uint64_t{1} << 63;
}

constexpr std::uint32_t variant_fault(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 22) & 3u; }
constexpr std::uint32_t variant_local_size(std::uint64_t v) noexcept { return 1u << ((v >> 18) & 15u); }

}  // namespace sft::gpu::detail
