// src/header/header_parse.hpp — the two JSON front ends of parse_header (internal).
//
// parse_header() first tries the fast front end (simdjson's stage 1, run-time
// dispatched to the best SIMD kernel, plus a walk over the structural indexes
// that accepts only the exact header shape). It declines (nullopt) on anything
// irregular: escapes, unknown fields, any number but a plain unsigned integer,
// any schema or layout error. The slow front end then decides, with exact byte
// offsets and the reference's rules for every JSON value. Both
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

}  // namespace sft::detail
