// python/src/slicing.hpp — get_slice(name)[key]: Python indexing of a tensor.
//
// Accepted keys, as in the reference: an int (negative counts from the end;
// the dimension is dropped), a slice with any step (negative steps and
// negative bounds with Python's meaning), one Ellipsis, an empty list (selects
// nothing along that dimension), or a tuple of those; dimensions not named are
// taken whole. The key becomes the library's SliceSpecs (sft/slice.hpp), which
// plan and copy the selection.
//
// The binding keeps the reference's bounds: where the library (like numpy)
// clamps a slice bound beyond the dimension, the reference raises, and its
// tests check that, so a bound outside [-n, n] is a SafetensorError here,
// worded as the reference words it; so are an int outside [-n, n), a
// non-empty list, None, a second Ellipsis and more indices than dimensions.
// One deliberate difference: a slice starting at n selects nothing (Python's
// meaning) where the reference raises.
//
// F4 / F6 tensors can be sliced where every contiguous run of the result
// starts and ends on a byte (slice_subbyte otherwise).
#pragma once

#include <vector>

#include "common.hpp"
#include "sft/header.hpp"
#include "sft/slice.hpp"

namespace sftpy {

// The library's selection for `key` against the tensor's shape; raises
// SafetensorError for what the reference refuses.
std::vector<sft::SliceSpec> parse_selection(nb::handle key, const sft::TensorInfo& info);

}  // namespace sftpy
