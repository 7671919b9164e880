// plan_slice: Python's slice semantics (slice.indices) on each leading
// dimension, then the compact description of the selected bytes.
#include "sft/slice.hpp"

#include <string>

namespace sft {

namespace {

// One dimension's selection, normalised: `count` indices first, first + step, ...
struct Pick {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  std::int64_t step = 1;
  bool keep = true;  // false for an index, which drops the dimension
};

// |v| of a negative int64 (v != INT64_MIN is not required: -(v + 1) + 1 cannot overflow).
std::uint64_t magnitude(std::int64_t v) noexcept { return static_cast<std::uint64_t>(-(v + 1)) + 1; }

// Python's slice(start, stop, step).indices(n) and len(range(...)), without
// forming any value outside 64 bits (a dimension may exceed INT64_MAX when the
// tensor has no elements).
Pick range_pick(const SliceSpec& s, std::uint64_t n) {
  Pick p;
  p.step = s.step;
  if (s.step > 0) {
    // Positions in [0, n].
    auto pos = [&](std::int64_t b, std::uint64_t omitted) -> std::uint64_t {
      if (b == SliceSpec::none) return omitted;
      if (b >= 0) return static_cast<std::uint64_t>(b) < n ? static_cast<std::uint64_t>(b) : n;
      const std::uint64_t m = magnitude(b);
      return m <= n ? n - m : 0;
    };
    const std::uint64_t start = pos(s.start, 0), stop = pos(s.stop, n);
    const auto st = static_cast<std::uint64_t>(s.step);
    p.first = start;
    p.count = stop > start ? (stop - start - 1) / st + 1 : 0;
    return p;
  }
  // A negative step: positions in [-1, n - 1], held as q = position + 1 in [0, n].
  auto q = [&](std::int64_t b, std::uint64_t omitted) -> std::uint64_t {
    if (b == SliceSpec::none) return omitted;
    if (b >= 0) return static_cast<std::uint64_t>(b) < n ? static_cast<std::uint64_t>(b) + 1 : n;
    const std::uint64_t m = magnitude(b);
    return m <= n ? n - m + 1 : 0;
  };
  const std::uint64_t start = q(s.start, n), stop = q(s.stop, 0);
  const std::uint64_t st = magnitude(s.step);
  p.count = start > stop ? (start - stop - 1) / st + 1 : 0;
  p.first = p.count ? start - 1 : 0;
  return p;
}

}  // namespace

Result<SlicePlan> plan_slice(const TensorInfo& t, std::span<const SliceSpec> spec) {
  const std::size_t rank = t.shape.size();
  auto fail = [&](Errc code, std::string message) {
    return Error(code, std::move(message), Error::no_offset, std::string(t.name));
  };
  if (spec.size() > rank)
    return fail(Errc::slice_too_many_indices,
                std::to_string(spec.size()) + " indices for a tensor of rank " + std::to_string(rank));

  std::vector<Pick> picks(rank);
  SlicePlan plan;
  std::uint64_t total = 1;  // elements selected; 0 as soon as one dimension selects none
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint64_t n = t.shape[d];
    Pick& p = picks[d];
    const SliceSpec s = d < spec.size() ? spec[d] : SliceSpec::all_of();
    switch (s.kind) {
      case SliceSpec::Kind::all:
        p.count = n;
        break;
      case SliceSpec::Kind::index: {
        const bool neg = s.start < 0;
        const std::uint64_t m = neg ? magnitude(s.start) : static_cast<std::uint64_t>(s.start);
        if (neg ? m > n : m >= n)
          return fail(Errc::slice_out_of_range, "index " + std::to_string(s.start) + " out of range for dimension " +
                                                    std::to_string(d) + " of size " + std::to_string(n));
        p.first = neg ? n - m : m;
        p.count = 1;
        p.keep = false;
        break;
      }
      case SliceSpec::Kind::range:
        if (s.step == 0) return fail(Errc::slice_bad_range, "slice step 0 on dimension " + std::to_string(d));
        p = range_pick(s, n);
        break;
      default:
        return fail(Errc::invalid_argument, "unknown SliceSpec kind on dimension " + std::to_string(d));
    }
    if (p.keep) plan.shape.push_back(p.count);
    if (p.count == 0) total = 0;
  }
  if (total == 0) return plan;  // nothing selected: no runs (and no stride is computed)

  // Every dimension selects at least one index, so every dimension of the
  // tensor is at least 1 and its element count, validated with the header,
  // bounds every product below.
  std::vector<std::uint64_t> stride(rank, 1);  // elements, row-major
  for (std::size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * t.shape[d];
  for (const Pick& p : picks) total *= p.count;
  auto whole = [&](std::size_t d) { return picks[d].first == 0 && picks[d].step == 1 && picks[d].count == t.shape[d]; };

  // The contiguous part: the innermost dimensions taken whole, plus the one
  // above them if it walks forwards one index at a time (or takes one index).
  std::size_t j = rank;  // dimensions >= j are whole
  while (j > 0 && whole(j - 1)) --j;
  std::uint64_t run_elems;
  std::size_t outer_dims;  // dimensions [0, outer_dims) enumerate the runs
  if (j == 0) {
    run_elems = t.element_count();
    outer_dims = 0;
  } else if (picks[j - 1].step == 1 || picks[j - 1].count == 1) {
    run_elems = picks[j - 1].count * stride[j - 1];
    outer_dims = j - 1;
  } else {
    run_elems = stride[j - 1];
    outer_dims = j;
  }
  std::uint64_t first_elem = 0;
  for (std::size_t d = 0; d < rank; ++d) first_elem += picks[d].first * stride[d];

  // Sub-byte dtypes: every run must start and end on a byte.
  const unsigned b = bits(t.dtype);
  bool on_bytes = (run_elems * b) % 8 == 0 && (first_elem * b) % 8 == 0;
  for (std::size_t d = 0; d < outer_dims && on_bytes; ++d) {
    // Runs of dimension d start |step| x stride elements apart (taken modulo 8 bits, so nothing overflows).
    const std::uint64_t step_mod = (picks[d].step < 0 ? magnitude(picks[d].step) : static_cast<std::uint64_t>(picks[d].step)) % 8;
    if (picks[d].count > 1 && ((stride[d] * b) % 8) * step_mod % 8 != 0) on_bytes = false;
  }
  if (!on_bytes)
    return fail(Errc::slice_subbyte,
                "the slice does not start and end on byte boundaries for " + std::string(name(t.dtype)));

  plan.run_bytes = run_elems * b / 8;
  plan.run_count = total / run_elems;
  plan.byte_size = plan.run_bytes * plan.run_count;
  plan.first = first_elem * b / 8;
  for (std::size_t d = 0; d < outer_dims; ++d) {
    if (picks[d].count == 1) continue;  // contributes to `first` only
    // |step| < dimension here (count > 1), so |step| x stride lies within the tensor's bytes.
    const auto bytes_per_index = static_cast<std::int64_t>(stride[d] * b / 8);
    plan.outer.push_back({picks[d].count, picks[d].step * bytes_per_index});
  }
  return plan;
}

}  // namespace sft
