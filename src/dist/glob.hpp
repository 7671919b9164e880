// src/dist/glob.hpp — the pattern language of tensor-parallel plans (internal).
//
// `*` any run of bytes, `?` one byte, `{e}` (experts rules only) a maximal
// run of decimal digits; everything else matches itself. Plain patterns use
// the greedy single-backtrack algorithm (linear for the usual "*.suffix"
// patterns, at most name x pattern steps); patterns with `{e}` use two
// dynamic-programming passes (prefix and suffix of the `{e}`), also bounded by
// name x pattern steps, so no pattern can make matching blow up.
#pragma once

#include <cstdint>
#include <string_view>

namespace sft::detail {

inline constexpr std::string_view expert_token = "{e}";

bool glob_match_plain(std::string_view pattern, std::string_view name) noexcept;

// `pattern` holds exactly one {e}. On a match, *expert receives the leftmost
// digit run that makes the whole name match (~0 when it exceeds 64 bits).
bool glob_match_expert(std::string_view pattern, std::string_view name, std::uint64_t* expert);

}  // namespace sft::detail
