// src/integrity/xxh3.hpp — XXH3-128 kernels, chosen once per process for the CPU at hand (internal).
//
// xxHash is used header-only (XXH_INLINE_ALL) so that the hash inlines into its
// loops and the library needs no xxhash link. The build's baseline on x86-64 is
// SSE2, which hashes at about half of memcpy speed on data in cache; a second
// copy of the same code compiled for AVX2 (xxh3_avx2.cpp) runs at or above
// memcpy speed. xxh3_kernel() picks AVX2 when the CPU has it. Every kernel
// computes the same function: XXH3 is specified bit for bit, whatever the
// vector width.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sft::detail {

struct Xxh3Kernel {
  const char* name;  // "avx2", "baseline"
  // One-shot hash; out[0] = high 64 bits, out[1] = low 64 bits.
  void (*oneshot)(const void* data, std::size_t size, std::uint64_t out[2]) noexcept;
  // Streaming: the state is Xxh3Hasher::state_bytes of zeroed, 64-byte
  // aligned storage; reset() makes it ready for update().
  void (*reset)(void* state) noexcept;
  void (*update)(void* state, const void* data, std::size_t size) noexcept;
  void (*digest)(const void* state, std::uint64_t out[2]) noexcept;
};

// The kernel for this CPU (decided on first use; thread-safe).
const Xxh3Kernel& xxh3_kernel() noexcept;
// The baseline kernel (tests compare it with the dispatched one).
const Xxh3Kernel& xxh3_baseline_kernel() noexcept;

}  // namespace sft::detail
