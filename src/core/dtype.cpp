#include "sft/dtype.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace sft {

namespace {
constexpr std::array<std::string_view, dtype_count> kNames = {
    "BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
    "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"};
}

std::string_view name(DType t) noexcept {
  auto i = static_cast<std::size_t>(t);
  return i < kNames.size() ? kNames[i] : std::string_view("?");
}

namespace {
std::uint64_t first8(std::string_view s) noexcept {
  std::uint64_t k = 0;
  std::memcpy(&k, s.data(), s.size() < 8 ? s.size() : 8);
  return k;
}
struct Key {
  std::uint64_t first8;
  std::size_t size;
};
const std::array<Key, dtype_count>& keys() noexcept {
  static const std::array<Key, dtype_count> k = [] {
    std::array<Key, dtype_count> out{};
    for (std::size_t i = 0; i < kNames.size(); ++i) out[i] = {first8(kNames[i]), kNames[i].size()};
    return out;
  }();
  return k;
}
}  // namespace

std::optional<DType> parse_dtype(std::string_view s) noexcept {
  // Called once per tensor while parsing: compare the first eight bytes as one
  // integer (every name but the two FNUZ ones fits), not byte strings.
  if (s.empty() || s.size() > 11) return std::nullopt;
  const std::uint64_t k = first8(s);
  const auto& table = keys();
  for (std::size_t i = 0; i < table.size(); ++i)
    if (table[i].first8 == k && table[i].size == s.size() &&
        (s.size() <= 8 || kNames[i].substr(8) == s.substr(8)))
      return static_cast<DType>(i);
  return std::nullopt;
}

}  // namespace sft
