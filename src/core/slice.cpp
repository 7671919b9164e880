#include "sft/slice.hpp"

#include <string>

namespace sft {

Result<SlicePlan> plan_slice(const TensorInfo& t, std::span<const SliceSpec> spec) {
  const std::size_t rank = t.shape.size();
  const std::string tname(t.name);
  if (spec.size() > rank)
    return Error(Errc::slice_too_many_indices,
                 std::to_string(spec.size()) + " indices for a tensor of rank " + std::to_string(rank),
                 Error::no_offset, tname);

  // Selected [start, start + count) per dimension; unnamed dimensions whole.
  std::vector<std::uint64_t> start(rank, 0), count(t.shape.begin(), t.shape.end());
  SlicePlan plan;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint64_t dim = t.shape[d];
    if (d >= spec.size() || spec[d].kind == SliceSpec::Kind::all) {
      plan.shape.push_back(dim);
      continue;
    }
    const SliceSpec& s = spec[d];
    const std::string where = "dimension " + std::to_string(d) + " of size " + std::to_string(dim);
    if (s.kind == SliceSpec::Kind::index) {
      if (s.start >= dim)
        return Error(Errc::slice_out_of_range, "index " + std::to_string(s.start) + " out of range for " + where,
                     Error::no_offset, tname);
      start[d] = s.start;
      count[d] = 1;
      continue;  // an index drops the dimension
    }
    if (s.start > s.stop)
      return Error(Errc::slice_bad_range,
                   "range start " + std::to_string(s.start) + " after stop " + std::to_string(s.stop) + " on " + where,
                   Error::no_offset, tname);
    if (s.stop > dim)
      return Error(Errc::slice_out_of_range, "range stop " + std::to_string(s.stop) + " beyond " + where,
                   Error::no_offset, tname);
    start[d] = s.start;
    count[d] = s.stop - s.start;
    plan.shape.push_back(count[d]);
  }

  // Element strides (row-major); the tensor was validated, so none overflows.
  std::vector<std::uint64_t> stride(rank, 1);
  for (std::size_t d = rank; d-- > 1;) stride[d - 1] = stride[d] * t.shape[d];

  // The contiguous part: the innermost dimensions taken whole, plus the first
  // partially selected dimension above them.
  std::size_t j = rank;  // dims >= j are whole
  while (j > 0 && start[j - 1] == 0 && count[j - 1] == t.shape[j - 1]) --j;
  std::uint64_t run_elems = 1, total = 1, first_elem = 0;
  for (std::size_t d = 0; d < rank; ++d) {
    total *= count[d];
    first_elem += start[d] * stride[d];
  }
  if (j == 0) {
    run_elems = t.element_count();
  } else {
    run_elems = count[j - 1] * stride[j - 1];
  }
  const unsigned b = bits(t.dtype);
  const std::uint64_t runs = run_elems == 0 ? 0 : total / run_elems;
  if (total == 0) {
    plan.run_count = 0;
    plan.run_bytes = 0;
    plan.byte_size = 0;
    return plan;
  }
  // Sub-byte dtypes: every run must start and end on a byte.
  bool subbyte_ok = (run_elems * b) % 8 == 0 && (first_elem * b) % 8 == 0;
  for (std::size_t d = 0; d + 1 < j && subbyte_ok; ++d)
    if (count[d] > 1 && (stride[d] * b) % 8 != 0) subbyte_ok = false;
  if (!subbyte_ok)
    return Error(Errc::slice_subbyte, "the slice does not start and end on byte boundaries for " +
                                          std::string(name(t.dtype)),
                 Error::no_offset, tname);
  plan.run_bytes = run_elems * b / 8;
  plan.run_count = runs;
  plan.byte_size = plan.run_bytes * runs;
  plan.first = first_elem * b / 8;
  for (std::size_t d = 0; d + 1 < j; ++d) plan.outer.push_back({count[d], stride[d] * b / 8});
  return plan;
}

}  // namespace sft
