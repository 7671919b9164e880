#include "remote/range_plan.hpp"

#include <algorithm>

namespace sft::detail {

std::vector<RangeRequest> plan_ranges(std::span<const RangePiece> wants, std::uint64_t coalesce_gap,
                                      std::uint64_t part_bytes) {
  std::vector<RangePiece> sorted;
  sorted.reserve(wants.size());
  for (const auto& w : wants)
    if (w.size > 0) sorted.push_back(w);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const RangePiece& a, const RangePiece& b) { return a.offset < b.offset; });
  if (part_bytes == 0) part_bytes = 1;

  std::vector<RangeRequest> out;
  std::size_t i = 0;
  while (i < sorted.size()) {
    // One group: pieces whose gaps are all within coalesce_gap.
    const std::size_t first = i;
    const std::uint64_t begin = sorted[i].offset;
    std::uint64_t end = begin + sorted[i].size;
    for (++i; i < sorted.size(); ++i) {
      const auto& p = sorted[i];
      if (p.offset > end && p.offset - end > coalesce_gap) break;
      end = std::max(end, p.offset + p.size);
    }
    // Split the group into parts of (almost) equal length, none over part_bytes.
    const std::uint64_t length = end - begin;
    const std::uint64_t parts = (length + part_bytes - 1) / part_bytes;
    const std::uint64_t step = (length + parts - 1) / parts;
    for (std::uint64_t pb = begin; pb < end; pb += step) {
      const std::uint64_t pe = std::min(end, pb + step);
      RangeRequest r;
      r.begin = pb;
      r.end = pe;
      for (std::size_t k = first; k < i; ++k) {
        const auto& p = sorted[k];
        const std::uint64_t lo = std::max(p.offset, pb), hi = std::min(p.offset + p.size, pe);
        if (lo >= hi) continue;
        r.pieces.push_back({lo, p.dst + (lo - p.offset), static_cast<std::size_t>(hi - lo)});
      }
      // Trim discarded bytes at either end (a part may begin or end in a gap).
      if (r.pieces.empty()) continue;
      r.begin = r.pieces.front().offset;
      std::uint64_t last = 0;
      for (const auto& p : r.pieces) last = std::max(last, p.offset + p.size);
      r.end = last;
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace sft::detail
