#include "sft/dtype.hpp"

#include <array>

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

std::optional<DType> parse_dtype(std::string_view s) noexcept {
  // Called once per tensor while parsing: compare only the names of the same
  // length and first byte (at most three candidates), not all 22.
  if (s.empty() || s.size() > 11) return std::nullopt;
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i].size() == s.size() && kNames[i][0] == s[0] && kNames[i] == s) return static_cast<DType>(i);
  return std::nullopt;
}

}  // namespace sft
