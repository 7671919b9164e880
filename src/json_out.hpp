// src/json_out.hpp — the JSON the writer emits, spelled as the reference spells it.
//
// Internal. The reference serialises its header with serde_json, whose compact
// output escapes only what JSON requires: `"` and `\`, the five short escapes
// \b \t \n \f \r, and every other control character below 0x20 as \u00xx in
// lower-case hex. DEL (0x7f), '/' and all non-ASCII UTF-8 stay raw.
// (UTF-8 validation lives in utf8.hpp.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sft::detail {

// Append `s` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view s);

// Append an unsigned integer in decimal.
void append_json_uint(std::string& out, std::uint64_t v);

}  // namespace sft::detail
