// src/gpu/variant.hpp — a LaunchConfig packed for the kernels (internal): the
// LaunchConfig and Kernel overloads of variant_bits.hpp.
#pragma once

#include <cstdint>

#include "sft/gpu/kernels.hpp"
#include "variant_bits.hpp"

namespace sft::gpu::detail {

constexpr VariantParams params(const LaunchConfig& c) noexcept {
  return VariantParams{c.local_size, c.items_per_thread, c.vector_width, c.mapping,    c.unroll,
                       c.split,      c.reduction,        c.specialize,   c.wide_loads, c.fault};
}
constexpr bool is_group_kernel(Kernel k) noexcept { return is_group_kernel(static_cast<int>(k)); }
constexpr std::uint32_t pack_cfg(const LaunchConfig& c) noexcept { return pack_cfg(params(c)); }
constexpr std::uint64_t variant_of(Kernel k, const LaunchConfig& c, const LaunchFacts& f) noexcept {
  return variant_of(static_cast<int>(k), params(c), f);
}

}  // namespace sft::gpu::detail
