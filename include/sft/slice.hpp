// sft/slice.hpp — slicing along leading dimensions, like the reference's get_slice.
//
// A slice is a list of per-dimension selections applied to the leading
// dimensions; dimensions not named are taken whole. A selection is a half-open
// range [start, stop) or a single index (which drops that dimension from the
// result shape). The plan describes the selected bytes as `run_count` runs of
// `run_bytes` contiguous bytes each, in row-major order; it is compact (its
// size grows with the rank, not with the number of runs), and for_each_run()
// or ranges() enumerate the runs.
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
  static SliceSpec index(std::uint64_t i) noexcept { return {Kind::index, i, i}; }
};

struct ByteRange {
  std::uint64_t begin = 0;  // relative to the tensor's first byte
  std::uint64_t end = 0;
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

struct SlicePlan {
  std::vector<std::uint64_t> shape;  // shape of the result
  std::uint64_t byte_size = 0;       // bytes selected (run_count * run_bytes)
  std::uint64_t run_bytes = 0;       // bytes in one contiguous run
  std::uint64_t run_count = 0;       // number of runs
  std::uint64_t first = 0;           // offset of the first run within the tensor

  // The dimensions before the contiguous part: each selects `count` indices
  // whose runs are `stride` bytes apart (outermost first).
  struct Outer { std::uint64_t count; std::uint64_t stride; };
  std::vector<Outer> outer;

  // Calls f(ByteRange) for every run, in order. Adjacent runs are not merged.
  template <class F>
  void for_each_run(F&& f) const {
    if (run_count == 0) return;
    std::vector<std::uint64_t> idx(outer.size(), 0);
    for (std::uint64_t r = 0; r < run_count; ++r) {
      std::uint64_t at = first;
      for (std::size_t k = 0; k < outer.size(); ++k) at += idx[k] * outer[k].stride;
      f(ByteRange{at, at + run_bytes});
      for (std::size_t k = outer.size(); k-- > 0;) {
        if (++idx[k] < outer[k].count) break;
        idx[k] = 0;
      }
    }
  }

  // Every run as a list. The list has run_count entries: for slices of large
  // tensors along inner dimensions prefer for_each_run.
  std::vector<ByteRange> ranges() const {
    std::vector<ByteRange> out;
    out.reserve(static_cast<std::size_t>(run_count));
    for_each_run([&](ByteRange r) { out.push_back(r); });
    return out;
  }
};

// Errors: slice_too_many_indices, slice_out_of_range, slice_bad_range,
// slice_subbyte (for F4 / F6 when a run does not start and end on a byte).
Result<SlicePlan> plan_slice(const TensorInfo& tensor, std::span<const SliceSpec> spec);

}  // namespace sft
