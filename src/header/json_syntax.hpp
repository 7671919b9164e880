// src/header/json_syntax.hpp — a position-tracking JSON syntax checker (RFC 8259).
//
// The slow path of header parsing: it runs only when the simdjson fast path
// cannot decide (an error, or a token simdjson reads differently from the
// reference), so it favours exact byte offsets and the reference's number rules
// over speed. Input must already be valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sft/result.hpp"

namespace sft::detail {

// Checks that p[0..n) is exactly one JSON value with optional surrounding
// whitespace, nesting at most max_depth containers deep. Errors are
// invalid_json or nesting_too_deep with offset = base + position.
Result<void> check_json_syntax(const char* p, std::size_t n, std::uint32_t max_depth, std::uint64_t base);

inline bool is_json_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Index of the closing quote of the string whose opening quote is at p[i]
// (the string is known to be valid JSON).
std::size_t skip_json_string(const char* p, std::size_t n, std::size_t i) noexcept;

// Append the unescaped bytes of the valid JSON string starting at p[i] (its
// opening quote) to `out`; returns the index just past the closing quote.
std::size_t unescape_json_string(const char* p, std::size_t n, std::size_t i, std::string& out);

}  // namespace sft::detail
