#include "header_builder.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <string>

#include "name_index.hpp"

namespace sft {

void HeaderBuilder::reserve(std::size_t tensors) {
  raw_.reserve(tensors);
  h_.shapes_.reserve(tensors * 2);
  h_.names_.reserve(tensors * 48);
}

Result<void> HeaderBuilder::add_tensor(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                                       std::uint64_t begin, std::uint64_t end, std::uint64_t pos) {
  if (raw_.size() >= limits_.max_tensors)
    return Error(Errc::limit_exceeded, "more than " + std::to_string(limits_.max_tensors) + " tensors", pos,
                 std::string(name));
  if (shape.size() > limits_.max_rank)
    return Error(Errc::limit_exceeded, "rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                 std::to_string(limits_.max_rank), pos, std::string(name));
  if (name.size() > limits_.max_name_bytes)
    return Error(Errc::limit_exceeded, "name of " + std::to_string(name.size()) + " bytes exceeds the limit of " +
                 std::to_string(limits_.max_name_bytes), pos, std::string(name.substr(0, 64)));
  // Header size (<= 100 MB by default, and bounded by the file's real bytes)
  // bounds both; u32 lengths are enough, but check rather than assume.
  if (name.size() > 0xffffffffu || shape.size() > 0xffffffffu)
    return Error(Errc::limit_exceeded, "name or shape too long", pos);
  Raw r;
  r.name_at = h_.names_.size();
  r.name_len = static_cast<std::uint32_t>(name.size());
  r.shape_at = h_.shapes_.size();
  r.rank = static_cast<std::uint32_t>(shape.size());
  r.begin = begin;
  r.end = end;
  r.pos = pos;
  r.dtype = dtype;
  h_.names_.insert(h_.names_.end(), name.begin(), name.end());
  h_.shapes_.insert(h_.shapes_.end(), shape.begin(), shape.end());
  raw_.push_back(r);
  return {};
}

namespace {
// Checked multiplication, left to right, exactly as the reference folds the
// shape: [0, 2^64-1, 2] is fine (0 stays 0), [2^64-1, 2, 0] overflows first.
bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return __builtin_mul_overflow(a, b, &out);
}
}  // namespace

Result<Header> HeaderBuilder::finish(std::uint64_t n, std::uint64_t file_size) && {
  h_.header_size_ = n;
  const std::size_t count = raw_.size();

  // Data order: ascending (begin, end). Writers emit entries in that order, so
  // check before sorting.
  auto by_offsets = [](const Raw& a, const Raw& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  };
  if (!std::is_sorted(raw_.begin(), raw_.end(), by_offsets))
    std::stable_sort(raw_.begin(), raw_.end(), by_offsets);

  const char* names = h_.names_.data();
  auto name_of = [&](const Raw& r) { return std::string(names + r.name_at, r.name_len); };

  // Materialise the views now that the arenas are final.
  h_.tensors_.resize(count);
  const std::uint64_t* shapes = h_.shapes_.data();
  for (std::size_t i = 0; i < count; ++i) {
    const Raw& r = raw_[i];
    TensorInfo& t = h_.tensors_[i];
    t.name = std::string_view(names + r.name_at, r.name_len);
    t.dtype = r.dtype;
    t.shape = std::span<const std::uint64_t>(shapes + r.shape_at, r.rank);
    t.data_offsets = {r.begin, r.end};
  }

  std::size_t dup = detail::build_name_index(h_.tensors_, h_.index_);
  if (dup != detail::no_duplicate) {
    const Raw& r = raw_[dup];
    return Error(Errc::duplicate_key, "tensor name appears twice in the header", r.pos, name_of(r));
  }
  std::uint64_t start = 0;
  for (const Raw& r : raw_) {
    if (r.begin != start || r.end < r.begin)
      return Error(Errc::bad_offsets,
                   "data_offsets [" + std::to_string(r.begin) + ", " + std::to_string(r.end) + "] should " +
                       (r.end < r.begin ? "not end before they begin" : "begin at " + std::to_string(start)),
                   r.pos, name_of(r));
    start = r.end;
    std::uint64_t elems = 1;
    const std::uint64_t* dims = h_.shapes_.data() + r.shape_at;
    for (std::uint32_t k = 0; k < r.rank; ++k)
      if (mul_overflows(elems, dims[k], elems))
        return Error(Errc::size_overflow, "element count of the shape overflows 64 bits", r.pos, name_of(r));
    std::uint64_t nbits;
    if (mul_overflows(elems, bits(r.dtype), nbits))
      return Error(Errc::size_overflow, "size in bits of the tensor overflows 64 bits", r.pos, name_of(r));
    if (nbits % 8 != 0)
      return Error(Errc::misaligned_subbyte,
                   std::to_string(elems) + " elements of " + std::string(name(r.dtype)) +
                       " do not make a whole number of bytes",
                   r.pos, name_of(r));
    if (r.end - r.begin != nbits / 8)
      return Error(Errc::size_mismatch,
                   "data_offsets span " + std::to_string(r.end - r.begin) + " bytes but dtype and shape need " +
                       std::to_string(nbits / 8),
                   r.pos, name_of(r));
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
