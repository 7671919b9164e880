// tools/number_arg.hpp — decimal option values (-l 19, --threads 4, --frame-size 65536).
#pragma once

#include <charconv>
#include <optional>
#include <string_view>

namespace sft::cli {

// The whole of `s` as a decimal integer of type T (a leading '-' only for
// signed T), or nullopt.
template <class T>
std::optional<T> number_arg(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace sft::cli
