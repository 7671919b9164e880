// src/core/utf8.hpp — UTF-8 validation (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
#pragma once

#include <cstddef>

namespace sft::detail {

inline constexpr std::size_t utf8_ok = static_cast<std::size_t>(-1);

// Offset of the first byte of the first invalid sequence, or utf8_ok.
std::size_t find_invalid_utf8(const unsigned char* p, std::size_t n) noexcept;

inline bool is_valid_utf8(const char* p, std::size_t n) noexcept {
  return find_invalid_utf8(reinterpret_cast<const unsigned char*>(p), n) == utf8_ok;
}

}  // namespace sft::detail
