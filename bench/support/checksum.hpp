// bench/support/checksum.hpp — the byte checksum every benchmark uses to touch data.
//
// The sum, modulo 2^64, of the buffer read as little-endian 64-bit words, plus
// the bytes of the last partial word. bench/compare.py computes the same value
// with numpy (uint64 view + tail), so the C++ driver and the reference package
// can be checked to have read identical bytes; and it is cheap enough that
// "touch every byte" measures memory and page faults rather than arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace sft::bench {

inline std::uint64_t byte_checksum(std::span<const std::byte> bytes) noexcept {
  const std::byte* p = bytes.data();
  const std::size_t words = bytes.size() / 8;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w;
    std::memcpy(&w, p + i * 8, 8);  // unaligned-safe; compiles to a plain load
    sum += w;                       // little-endian host assumed (x86, arm64)
  }
  for (std::size_t i = words * 8; i < bytes.size(); ++i) sum += static_cast<std::uint8_t>(p[i]);
  return sum;
}

}  // namespace sft::bench
