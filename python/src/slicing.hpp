// python/src/slicing.hpp — get_slice(name)[key]: Python indexing of a tensor.
//
// Accepted keys, as in the reference: an int (negative counts from the end;
// the dimension is dropped), a slice with any step (negative steps and
// negative bounds with Python's meaning), one Ellipsis, an empty list (selects
// nothing along that dimension), or a tuple of those; dimensions not named are
// taken whole.
//
// Bounds are checked, not clamped, as the reference does: an int outside
// [-n, n), a slice bound outside [-n, n], a non-empty list, None, a second
// Ellipsis and more indices than dimensions are SafetensorErrors, worded as
// the reference words them. One deliberate difference: a slice starting at
// n selects nothing (Python's meaning) where the reference raises.
//
// F4 / F6 tensors can be sliced where every contiguous run of the result
// starts and ends on a byte (slice_subbyte otherwise).
#pragma once

#include <cstdint>
#include <vector>

#include "common.hpp"
#include "sft/header.hpp"
#include "source.hpp"

namespace sftpy {

struct Selection {
  struct Dim {
    std::int64_t start = 0;  // first index selected
    std::int64_t step = 1;   // may be negative
    std::uint64_t count = 0; // indices selected
  };
  std::vector<Dim> dims;              // one per dimension of the tensor
  std::vector<std::uint64_t> shape;   // of the result (dimensions indexed by an int dropped)
  std::uint64_t byte_size = 0;
};

// Parses `key` against the tensor's shape; raises SafetensorError.
Selection parse_selection(nb::handle key, const sft::TensorInfo& info);

// Copies the selection, row-major, into out (sel.byte_size bytes). Runs
// without the GIL. A mapped source is gathered with memcpy; otherwise the
// span covering the selection is read at once when that is at most twice the
// result (or small), and each contiguous run is read separately otherwise.
sft::Result<void> copy_selection(const Source& src, const sft::TensorInfo& info, const Selection& sel, std::byte* out);

}  // namespace sftpy
