#include "compress/byte_planes.hpp"

#include <algorithm>
#include <cstring>

namespace sft::detail {

std::vector<FileRange> sixteen_bit_ranges(const Header& header) {
  std::vector<FileRange> r;
  const std::uint64_t ds = header.data_start();
  for (const TensorInfo& t : header.tensors())
    if (bits(t.dtype) == 16 && t.byte_size() >= 2)
      r.push_back({ds + t.data_offsets.begin, ds + t.data_offsets.end});
  return r;
}

void plane_segments(std::span<const FileRange> ranges, std::uint64_t a, std::uint64_t b,
                    std::vector<FileRange>& out) {
  out.clear();
  // First range that ends after a (ranges are disjoint and sorted).
  auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                             [](std::uint64_t v, const FileRange& r) { return v < r.end; });
  for (; it != ranges.end() && it->begin < b; ++it) {
    // Start at the first element boundary of the tensor at or after a.
    std::uint64_t s = it->begin >= a ? it->begin : it->begin + ((a - it->begin + 1) & ~std::uint64_t{1});
    std::uint64_t e = std::min(it->end, b);
    if (s >= e || e - s < 2) continue;
    e = s + ((e - s) & ~std::uint64_t{1});
    out.push_back({s - a, e - a});
  }
}

void planes_split(std::span<const std::byte> in, std::span<std::byte> out,
                  std::span<const FileRange> segments) noexcept {
  std::size_t pairs = 0;
  for (const auto& s : segments) pairs += static_cast<std::size_t>((s.end - s.begin) / 2);
  std::byte* rest = out.data();
  std::byte* lo = out.data() + (in.size() - 2 * pairs);
  std::byte* hi = lo + pairs;
  std::size_t pos = 0;
  for (const auto& s : segments) {
    const auto b = static_cast<std::size_t>(s.begin), e = static_cast<std::size_t>(s.end);
    std::memcpy(rest, in.data() + pos, b - pos);
    rest += b - pos;
    for (std::size_t i = b; i < e; i += 2) {
      *lo++ = in[i];
      *hi++ = in[i + 1];
    }
    pos = e;
  }
  std::memcpy(rest, in.data() + pos, in.size() - pos);
}

void planes_join(std::span<const std::byte> in, std::span<std::byte> out,
                 std::span<const FileRange> segments) noexcept {
  std::size_t pairs = 0;
  for (const auto& s : segments) pairs += static_cast<std::size_t>((s.end - s.begin) / 2);
  const std::byte* rest = in.data();
  const std::byte* lo = in.data() + (in.size() - 2 * pairs);
  const std::byte* hi = lo + pairs;
  std::size_t pos = 0;
  for (const auto& s : segments) {
    const auto b = static_cast<std::size_t>(s.begin), e = static_cast<std::size_t>(s.end);
    std::memcpy(out.data() + pos, rest, b - pos);
    rest += b - pos;
    for (std::size_t i = b; i < e; i += 2) {
      out[i] = *lo++;
      out[i + 1] = *hi++;
    }
    pos = e;
  }
  std::memcpy(out.data() + pos, rest, out.size() - pos);
}

}  // namespace sft::detail
