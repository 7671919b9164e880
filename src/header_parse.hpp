// src/header_parse.hpp — the two JSON front ends of parse_header (internal).
//
// parse_header() first tries the fast front end (simdjson's DOM parser, run-time
// dispatched to the best SIMD kernel). It declines (nullopt) on anything
// irregular: a syntax error, a token simdjson reads differently from the
// reference ("-0", integers beyond 64 bits in ignored fields), or any schema or
// layout error. The slow front end then decides with exact byte offsets. Both
// are exposed here so that the differential fuzzer can check that whenever the
// fast one accepts, the slow one accepts with an identical Header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "sft/header.hpp"

namespace sft::detail {

// Bytes simdjson may read past the end of its input.
std::size_t json_padding() noexcept;

// json[0..n) is the header; json[n..n+json_padding()) must be readable.
std::optional<Header> parse_header_fast(const char* json, std::size_t n, std::uint64_t file_size, const Limits& limits);

// Authoritative: json[0..n) only. Offsets in errors are file offsets (8 + index).
Result<Header> parse_header_slow(const char* json, std::size_t n, std::uint64_t file_size, const Limits& limits);

// True when json may contain a "-0" number token, which simdjson reads as the
// integer 0 while the reference reads a float (rejected in shape/offsets).
bool may_contain_negative_zero(const char* json, std::size_t n) noexcept;

}  // namespace sft::detail
