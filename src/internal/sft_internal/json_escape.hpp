// src/internal/sft_internal/json_escape.hpp — JSON string literals from raw bytes (internal, not installed).
//
// Used wherever sft emits JSON (the CLI's --json outputs, messages that quote a
// name). Escaping follows serde_json and Python's json.dumps(ensure_ascii=False),
// so the output is byte-identical to the reference's for valid UTF-8:
//   quote, backslash -> \" and \\ (two characters each)
//   BS FF LF CR TAB  -> \b \f \n \r \t
//   other bytes below 0x20 -> \u00xx (lowercase hex); NUL is \u0000
//   DEL and all valid non-ASCII UTF-8 -> copied raw
// Invalid UTF-8 (never present in a parsed header, whose bytes were validated,
// but possible in other input such as file paths) is replaced by one U+FFFD per
// byte that starts no valid sequence (as utf8.hpp decides), so the output is
// always valid UTF-8 and valid JSON.
#pragma once

#include <string>
#include <string_view>

namespace sft::detail {

// Append `s` as a JSON string literal, quotes included, to `out`.
void append_json_string(std::string& out, std::string_view s);

// `s` as a JSON string literal, quotes included.
std::string json_string(std::string_view s);

}  // namespace sft::detail
