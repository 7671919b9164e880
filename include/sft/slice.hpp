// sft/slice.hpp — slicing along leading dimensions, like the reference's get_slice.
//
// A slice is a list of per-dimension selections applied to the leading
// dimensions; dimensions not named are taken whole. A selection is a half-open
// range [start, stop) or a single index (which drops that dimension from the
// result shape). The result is a list of contiguous byte ranges of the tensor,
// in row-major order, which can be copied out or read in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

struct SliceSpec {
  enum class Kind : std::uint8_t { all, range, index };
  Kind kind = Kind::all;
  std::uint64_t start = 0;  // range: first index; index: the index
  std::uint64_t stop = 0;   // range: one past the last index

  static SliceSpec all_of() noexcept { return {}; }
  static SliceSpec range(std::uint64_t start, std::uint64_t stop) noexcept { return {Kind::range, start, stop}; }
  static SliceSpec index(std::uint64_t i) noexcept { return {Kind::index, i, i + 1}; }
};

struct ByteRange {
  std::uint64_t begin = 0;  // relative to the tensor's first byte
  std::uint64_t end = 0;
};

struct SlicePlan {
  std::vector<std::uint64_t> shape;   // shape of the result
  std::vector<ByteRange> ranges;      // contiguous runs, coalesced, in order
  std::uint64_t byte_size = 0;        // sum of the ranges
};

// Errors: slice_too_many_indices, slice_out_of_range, slice_bad_range,
// slice_subbyte (for F4 / F6 when a run does not start and end on a byte).
Result<SlicePlan> plan_slice(const TensorInfo& tensor, std::span<const SliceSpec> spec);

}  // namespace sft
