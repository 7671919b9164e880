#include "header/header_builder.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "header/name_index.hpp"

namespace sft {

void HeaderBuilder::reserve(std::size_t tensors, std::size_t header_bytes) {
  h_.tensors_.reserve(tensors);
  h_.shapes_.reserve(tensors * 4);
  h_.names_.reserve(header_bytes);
}

Result<void> HeaderBuilder::add_tensor(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                                       std::uint64_t begin, std::uint64_t end, std::uint64_t pos) {
  if (!track_positions_) pos = Error::no_offset;
  if (h_.tensors_.size() >= limits_.max_tensors)
    return Error(Errc::limit_exceeded, "more than " + std::to_string(limits_.max_tensors) + " tensors", pos,
                 std::string(name));
  if (shape.size() > limits_.max_rank)
    return Error(Errc::limit_exceeded, "rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                 std::to_string(limits_.max_rank), pos, std::string(name));
  if (name.size() > limits_.max_name_bytes)
    return Error(Errc::limit_exceeded, "name of " + std::to_string(name.size()) + " bytes exceeds the limit of " +
                 std::to_string(limits_.max_name_bytes), pos, std::string(name.substr(0, 64)));
  const std::size_t name_at = h_.names_.size(), shape_at = h_.shapes_.size();
  h_.names_.insert(h_.names_.end(), name.begin(), name.end());
  h_.shapes_.insert(h_.shapes_.end(), shape.begin(), shape.end());
  TensorInfo t;
  t.name = std::string_view(h_.names_.data() + name_at, name.size());
  t.shape = std::span<const std::uint64_t>(h_.shapes_.data() + shape_at, shape.size());
  t.dtype = dtype;
  t.data_offsets = {begin, end};
  h_.tensors_.push_back(t);
  if (track_positions_) pos_.push_back(pos);
  return {};
}

namespace {
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return __builtin_mul_overflow(a, b, &out); }
}  // namespace

Result<Header> HeaderBuilder::finish(std::uint64_t n, std::uint64_t file_size) && {
  h_.header_size_ = n;
  auto& ts = h_.tensors_;
  const std::size_t count = ts.size();

  // The arenas are final: point every view into them (insertion order is arena order).
  std::size_t name_at = 0, shape_at = 0;
  for (TensorInfo& t : ts) {
    t.name = std::string_view(h_.names_.data() + name_at, t.name.size());
    t.shape = std::span<const std::uint64_t>(h_.shapes_.data() + shape_at, t.shape.size());
    name_at += t.name.size();
    shape_at += t.shape.size();
  }

  // Data order: ascending (begin, end). Writers emit entries in that order, so
  // check before sorting; positions (slow path) follow the same permutation.
  auto less = [](const TensorInfo& a, const TensorInfo& b) {
    const auto& x = a.data_offsets;
    const auto& y = b.data_offsets;
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  };
  if (!std::is_sorted(ts.begin(), ts.end(), less)) {
    std::vector<std::size_t> perm(count);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    std::stable_sort(perm.begin(), perm.end(), [&](std::size_t a, std::size_t b) { return less(ts[a], ts[b]); });
    std::vector<TensorInfo> sorted(count);
    std::vector<std::uint64_t> sorted_pos(pos_.size());
    for (std::size_t i = 0; i < count; ++i) {
      sorted[i] = ts[perm[i]];
      if (!pos_.empty()) sorted_pos[i] = pos_[perm[i]];
    }
    ts.swap(sorted);
    pos_.swap(sorted_pos);
  }
  auto pos = [&](std::size_t i) { return pos_.empty() ? Error::no_offset : pos_[i]; };

  std::size_t dup = detail::build_name_index(ts, h_.index_);
  if (dup != detail::no_duplicate)
    return Error(Errc::duplicate_key, "tensor name appears twice in the header", pos(dup), std::string(ts[dup].name));

  std::uint64_t start = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const TensorInfo& t = ts[i];
    const auto [b, e] = t.data_offsets;
    if (b != start || e < b)
      return Error(Errc::bad_offsets,
                   "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] should " +
                       (e < b ? "not end before they begin" : "begin at " + std::to_string(start)),
                   pos(i), std::string(t.name));
    start = e;
    // Checked multiplication, left to right, exactly as the reference folds the
    // shape: [0, 2^64-1, 2] is fine (0 stays 0), [2^64-1, 2, 0] overflows first.
    std::uint64_t elems = 1;
    for (std::uint64_t d : t.shape)
      if (mul_overflows(elems, d, elems))
        return Error(Errc::size_overflow, "element count of the shape overflows 64 bits", pos(i), std::string(t.name));
    std::uint64_t nbits;
    if (mul_overflows(elems, bits(t.dtype), nbits))
      return Error(Errc::size_overflow, "size in bits of the tensor overflows 64 bits", pos(i), std::string(t.name));
    if (nbits % 8 != 0)
      return Error(Errc::misaligned_subbyte,
                   std::to_string(elems) + " elements of " + std::string(name(t.dtype)) +
                       " do not make a whole number of bytes",
                   pos(i), std::string(t.name));
    if (e - b != nbits / 8)
      return Error(Errc::size_mismatch,
                   "data_offsets span " + std::to_string(e - b) + " bytes but dtype and shape need " +
                       std::to_string(nbits / 8),
                   pos(i), std::string(t.name));
  }
  // 8 + n <= file_size was checked by parse_header_length.
  const std::uint64_t available = file_size - 8 - n;
  if (start != available)
    return Error(Errc::incomplete_buffer,
                 "tensors cover " + std::to_string(start) + " data bytes but the file holds " +
                     std::to_string(available) + (start < available ? " (trailing bytes)" : " (truncated)"),
                 8 + n + std::min(start, available));
  h_.data_size_ = start;
  return std::move(h_);
}

}  // namespace sft
