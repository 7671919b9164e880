// src/header/name_index.hpp — open-addressing hash index from tensor name to position.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sft/header.hpp"
#include "sft_internal/name_hash.hpp"

namespace sft::detail {

inline constexpr std::size_t no_duplicate = static_cast<std::size_t>(-1);

std::uint64_t hash_name(std::string_view name) noexcept;

// Fill `table` (power-of-two size, entries are position + 1, 0 = empty).
// Returns the position of the first tensor whose name was already present, or no_duplicate.
std::size_t build_name_index(std::span<const TensorInfo> tensors, std::vector<std::uint32_t>& table);

// Position of `name` in `tensors`, or no_duplicate when absent.
std::size_t lookup_name(std::span<const TensorInfo> tensors, std::span<const std::uint32_t> table,
                        std::string_view name) noexcept;

}  // namespace sft::detail
