// tests/support/slice_oracle.hpp — the expected result of a slice, element by element.
//
// Written from Python's definition (CPython's slice.indices and numpy's
// basic indexing), independently of plan_slice: each dimension's indices are
// listed one by one, then every selected element is copied in row-major
// order. Whole-byte dtypes only (sub-byte elements have no byte of their own).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sft/dtype.hpp"
#include "sft/header.hpp"
#include "sft/slice.hpp"

namespace sft::test {

struct ExpectedSlice {
  std::vector<std::uint64_t> shape;
  std::vector<std::byte> bytes;
};

// The indices one selection takes from a dimension of size n, or nullopt if
// Python refuses it (an index out of range, a step of 0).
inline std::optional<std::vector<std::int64_t>> python_indices(const SliceSpec& s, std::int64_t n) {
  std::vector<std::int64_t> out;
  switch (s.kind) {
    case SliceSpec::Kind::all:
      for (std::int64_t i = 0; i < n; ++i) out.push_back(i);
      return out;
    case SliceSpec::Kind::index: {
      const std::int64_t i = s.start < 0 ? s.start + n : s.start;
      if (i < 0 || i >= n) return std::nullopt;
      out.push_back(i);
      return out;
    }
    case SliceSpec::Kind::range: {
      if (s.step == 0) return std::nullopt;
      const std::int64_t lo = s.step > 0 ? 0 : -1, hi = s.step > 0 ? n : n - 1;
      auto adjust = [&](std::int64_t v, std::int64_t omitted) {
        if (v == SliceSpec::none) return omitted;
        if (v < 0) return std::max(v + n, lo);
        return std::min(v, hi);
      };
      const std::int64_t start = adjust(s.start, s.step > 0 ? lo : hi);
      const std::int64_t stop = adjust(s.stop, s.step > 0 ? hi : lo);
      for (std::int64_t i = start; s.step > 0 ? i < stop : i > stop; i += s.step) out.push_back(i);
      return out;
    }
  }
  return std::nullopt;
}

// nullopt when the slice is refused (too many indices, as above).
inline std::optional<ExpectedSlice> expected_slice(const TensorInfo& t, std::span<const std::byte> data,
                                                   std::span<const SliceSpec> spec) {
  const std::size_t rank = t.shape.size();
  if (spec.size() > rank) return std::nullopt;
  const std::uint64_t esize = element_size(t.dtype);
  std::vector<std::vector<std::int64_t>> picks(rank);
  ExpectedSlice e;
  for (std::size_t d = 0; d < rank; ++d) {
    const SliceSpec s = d < spec.size() ? spec[d] : SliceSpec::all_of();
    auto p = python_indices(s, static_cast<std::int64_t>(t.shape[d]));
    if (!p) return std::nullopt;
    picks[d] = std::move(*p);
    if (s.kind != SliceSpec::Kind::index) e.shape.push_back(picks[d].size());
  }
  for (const auto& p : picks)
    if (p.empty()) return e;
  std::vector<std::size_t> idx(rank, 0);
  while (true) {
    std::uint64_t linear = 0;
    for (std::size_t d = 0; d < rank; ++d) linear = linear * t.shape[d] + static_cast<std::uint64_t>(picks[d][idx[d]]);
    auto at = data.begin() + static_cast<std::ptrdiff_t>(linear * esize);
    e.bytes.insert(e.bytes.end(), at, at + static_cast<std::ptrdiff_t>(esize));
    std::size_t d = rank;
    while (d > 0) {
      --d;
      if (++idx[d] < picks[d].size()) break;
      idx[d] = 0;
      if (d == 0) return e;
    }
    if (rank == 0) return e;
  }
}

}  // namespace sft::test
