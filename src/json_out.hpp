// src/json_out.hpp — the JSON the writer emits, spelled as the reference spells it.
//
// Internal. The reference serialises its header with serde_json, whose compact
// output escapes only what JSON requires: `"` and `\`, the five short escapes
// \b \t \n \f \r, and every other control character below 0x20 as \u00xx in
// lower-case hex. DEL (0x7f), '/' and all non-ASCII UTF-8 stay raw.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sft::detail {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF),
// the rule Rust's String enforces.
bool is_valid_utf8(std::string_view s) noexcept;

// Byte offset of the first byte that makes `s` invalid UTF-8, or s.size().
std::size_t utf8_error_offset(std::string_view s) noexcept;

// Append `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

// Append an unsigned integer in decimal.
void append_json_uint(std::string& out, std::uint64_t v);

}  // namespace sft::detail
