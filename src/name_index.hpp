// src/name_index.hpp — open-addressing hash index from tensor name to position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sft/header.hpp"

namespace sft::detail {

inline constexpr std::size_t no_duplicate = static_cast<std::size_t>(-1);

std::uint64_t hash_name(std::string_view name) noexcept;

// The hasher for every std::unordered_set / map keyed by strings from a file.
// std::hash has a fixed seed and, in libstdc++, can be inverted block by
// block: a header can hold a million keys with one std::hash value, which turns
// each set insertion into a scan of all earlier keys (hours for a 100 MB
// header). hash_name's per-process seed cannot be built against in advance.
struct NameHash {
  std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(hash_name(s)); }
};

// Fill `table` (power-of-two size, entries are position + 1, 0 = empty).
// Returns the position of the first tensor whose name was already present, or no_duplicate.
std::size_t build_name_index(std::span<const TensorInfo> tensors, std::vector<std::uint32_t>& table);

// Position of `name` in `tensors`, or no_duplicate when absent.
std::size_t lookup_name(std::span<const TensorInfo> tensors, std::span<const std::uint32_t> table,
                        std::string_view name) noexcept;

}  // namespace sft::detail
