// sft/slice.hpp — slicing along leading dimensions, with Python's semantics.
//
// A slice is a list of per-dimension selections applied to the leading
// dimensions; dimensions not named are taken whole. Each selection is, as in
// Python and numpy:
//   * all_of()                  `:`  the whole dimension;
//   * index(i)                  `i`  one index, which drops the dimension from
//                                    the result; a negative i counts from the
//                                    end (-1 is the last); outside [-n, n) it is
//                                    slice_out_of_range;
//   * range(start, stop, step)  `start:stop:step`  the indices start,
//                                    start + step, ... before stop; negative
//                                    bounds count from the end, bounds beyond
//                                    the dimension are clamped (so a range is
//                                    never out of range: it may be empty),
//                                    step may be negative (walks backwards) but
//                                    not 0 (slice_bad_range); SliceSpec::none
//                                    stands for an omitted bound (`::-1`).
// So `t[1:-1, ::2, 3]` is {range(1, -1), range(none, none, 2), index(3)}, and
// the result has the shape numpy gives.
//
// Differences from the reference's get_slice (safetensors 0.8.0), which are
// all cases it rejects and sft accepts, as numpy does: negative bounds (its
// Python binding cannot convert them), negative steps, bounds beyond the
// dimension (it reports them out of bounds instead of clamping), a range
// starting at the dimension's size, and start > stop (it fails with a
// SystemError; numpy and sft give an empty selection). Everything it accepts
// gives the same shape and bytes in sft (tests/py/conformance.py checks both).
//
// The plan describes the selected bytes as `run_count` runs of `run_bytes`
// contiguous bytes each, in row-major order of the result; it is compact (its
// size grows with the rank, not with the number of runs): for_each_run() or
// ranges() enumerate the runs. A plan with run_count <= 1 is one contiguous
// range of the tensor's bytes: File::slice() hands it out as a view where the
// bytes are in memory. Sub-byte dtypes (F4, F6_*): every run must start and
// end on a byte (slice_subbyte otherwise).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "sft/header.hpp"
#include "sft/result.hpp"

namespace sft {

struct SliceSpec {
  // An omitted range bound (Python's None): from the first index (last, for
  // a negative step), to past the last (first).
  static constexpr std::int64_t none = std::numeric_limits<std::int64_t>::min();

  enum class Kind : std::uint8_t { all, range, index };
  Kind kind = Kind::all;
  std::int64_t start = 0;  // range: first index (or none); index: the index
  std::int64_t stop = 0;   // range: the index to stop before (or none)
  std::int64_t step = 1;   // range: the distance between selected indices (not 0)

  static SliceSpec all_of() noexcept { return {}; }
  static SliceSpec range(std::int64_t start, std::int64_t stop, std::int64_t step = 1) noexcept {
    return {Kind::range, start, stop, step};
  }
  static SliceSpec index(std::int64_t i) noexcept { return {Kind::index, i, i, 1}; }
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
  // whose runs are `stride` bytes apart (outermost first; negative for a
  // negative step).
  struct Outer { std::uint64_t count; std::int64_t stride; };
  std::vector<Outer> outer;

  // True when the selected bytes are one range of the tensor's bytes (or none).
  bool contiguous() const noexcept { return run_count <= 1; }

  // Calls f(ByteRange) for every run, in order. Adjacent runs are not merged.
  template <class F>
  void for_each_run(F&& f) const {
    if (run_count == 0) return;
    std::vector<std::uint64_t> idx(outer.size(), 0);
    for (std::uint64_t r = 0; r < run_count; ++r) {
      std::uint64_t at = first;
      for (std::size_t k = 0; k < outer.size(); ++k)
        at += idx[k] * static_cast<std::uint64_t>(outer[k].stride);  // modulo 2^64: a negative stride subtracts
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

// Errors (each naming the tensor): slice_too_many_indices, slice_out_of_range
// (an index outside [-n, n)), slice_bad_range (a step of 0), slice_subbyte.
Result<SlicePlan> plan_slice(const TensorInfo& tensor, std::span<const SliceSpec> spec);

}  // namespace sft
