// The Writer: validation of what is added, the reference's layout, and the
// whole-file paths (memory, file, file with a TensorSource).
#include "sft/writer.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>
#include <string>

#include "sft_internal/atomic_file.hpp"
#include "sft_internal/json_escape.hpp"
#include "core/utf8.hpp"
#include "sft_internal/guard.hpp"
#include "write/writer_impl.hpp"
#include "write/writer_stream.hpp"

namespace sft {

namespace {

constexpr std::uint64_t kMaxAlignment = std::uint64_t{1} << 20;
constexpr std::string_view kMetadataKey = "__metadata__";

std::string quoted(std::string_view s) { return detail::json_string(s); }

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Byte size of dtype x shape, or the error that forbids it.
Result<std::uint64_t> tensor_byte_size(std::string_view name, DType dtype, std::span<const std::uint64_t> shape) {
  std::uint64_t count = 1;
  for (auto d : shape) {
    if (d != 0 && count > ~std::uint64_t{0} / d)
      return Error(Errc::size_overflow, "the element count of the shape overflows 64 bits", Error::no_offset,
                   std::string(name));
    count *= d;
  }
  const std::uint64_t b = bits(dtype);
  if (count > ~std::uint64_t{0} / b)
    return Error(Errc::size_overflow, "the bit count of the tensor overflows 64 bits", Error::no_offset,
                 std::string(name));
  const std::uint64_t total_bits = count * b;
  if (total_bits % 8 != 0)
    return Error(Errc::misaligned_subbyte,
                 std::to_string(count) + " elements of " + std::string(sft::name(dtype)) +
                     " are not a whole number of bytes",
                 Error::no_offset, std::string(name));
  return total_bits / 8;
}

Result<void> check_utf8(std::string_view what, std::string_view s, std::string_view tensor) {
  auto at = detail::find_invalid_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size());
  if (at == detail::utf8_ok) return {};
  return Error(Errc::invalid_name,
               std::string(what) + " is not valid UTF-8 (byte " + std::to_string(at) + " of it)",
               Error::no_offset, std::string(tensor));
}

}  // namespace

WriterPlan::WriterPlan() noexcept = default;
WriterPlan::WriterPlan(WriterPlan&&) noexcept = default;
WriterPlan& WriterPlan::operator=(WriterPlan&&) noexcept = default;
WriterPlan::~WriterPlan() = default;

std::span<const TensorInfo> WriterPlan::tensors() const noexcept {
  if (!impl_) return {};
  return impl_->tensors;
}
std::span<const std::byte> WriterPlan::preamble() const noexcept {
  if (!impl_) return {};
  return impl_->preamble;
}
std::uint64_t WriterPlan::data_size() const noexcept { return impl_ ? impl_->data_size : 0; }

std::size_t WriterPlan::index_of(std::string_view name) const noexcept {
  if (!impl_) return npos;
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? npos : it->second;
}

Writer::Writer(WriterOptions options) noexcept : options_(options) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;
Writer::~Writer() = default;

std::size_t Writer::size() const noexcept { return impl_ ? impl_->entries.size() : 0; }

// The entries and metadata, or an empty set before the first add / declare / set_metadata.
const Writer::Impl& Writer::state() const {
  static const Impl empty;
  return impl_ ? *impl_ : empty;
}

Result<void> Writer::insert(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                            const std::byte* data, std::size_t data_size, bool has_bytes) {
  return detail::guarded([&]() -> Result<void> {
  if (!impl_) impl_ = std::make_unique<Impl>();
  auto& entries_ = impl_->entries;
  auto& by_name_ = impl_->by_name;
  if (static_cast<unsigned>(dtype) >= static_cast<unsigned>(dtype_count))
    return Error(Errc::invalid_argument, "not a dtype: " + std::to_string(static_cast<unsigned>(dtype)),
                 Error::no_offset, std::string(name));
  if (name == kMetadataKey)
    return Error(Errc::reserved_name, "\"__metadata__\" is reserved for the metadata map", Error::no_offset,
                 std::string(name));
  SFT_TRY(check_utf8("the tensor name", name, name));
  if (by_name_.count(name) != 0)
    return Error(Errc::duplicate_name, "a tensor named " + quoted(name) + " was already added", Error::no_offset,
                 std::string(name));
  const Limits& lim = options_.limits;
  if (entries_.size() >= lim.max_tensors)
    return Error(Errc::limit_exceeded, "more than " + std::to_string(lim.max_tensors) + " tensors",
                 Error::no_offset, std::string(name));
  if (name.size() > lim.max_name_bytes)
    return Error(Errc::limit_exceeded,
                 "name of " + std::to_string(name.size()) + " bytes exceeds the limit of " +
                     std::to_string(lim.max_name_bytes),
                 Error::no_offset, std::string(name));
  if (shape.size() > lim.max_rank)
    return Error(Errc::limit_exceeded,
                 "rank " + std::to_string(shape.size()) + " exceeds the limit of " + std::to_string(lim.max_rank),
                 Error::no_offset, std::string(name));
  auto size = tensor_byte_size(name, dtype, shape);
  SFT_TRY(size);
  if (has_bytes && data_size != *size)
    return Error(Errc::data_size_mismatch,
                 std::to_string(data_size) + " bytes given, but " + std::string(sft::name(dtype)) + " " +
                     "of this shape takes " + std::to_string(*size),
                 Error::no_offset, std::string(name));
  entries_.push_back(Impl::Entry{std::string(name), dtype, std::vector<std::uint64_t>(shape.begin(), shape.end()),
                                 *size, data, has_bytes});
  by_name_.emplace(entries_.back().name, entries_.size() - 1);
  return {};
  });
}

Result<void> Writer::add(std::string_view name, DType dtype, std::span<const std::uint64_t> shape,
                         std::span<const std::byte> bytes) {
  return insert(name, dtype, shape, bytes.data(), bytes.size(), true);
}

Result<void> Writer::declare(std::string_view name, DType dtype, std::span<const std::uint64_t> shape) {
  return insert(name, dtype, shape, nullptr, 0, false);
}

Result<void> Writer::set_metadata(std::string_view key, std::string_view value) {
  return detail::guarded([&]() -> Result<void> {
    SFT_TRY(check_utf8("the metadata key", key, {}));
    SFT_TRY(check_utf8("the value of metadata key " + quoted(key), value, {}));
    if (!impl_) impl_ = std::make_unique<Impl>();
    has_metadata_ = true;
    for (auto& kv : impl_->metadata)
      if (kv.first == key) {
        kv.second = std::string(value);
        return {};
      }
    impl_->metadata.emplace_back(std::string(key), std::string(value));
    return {};
  });
}

Result<WriterPlan> Writer::plan() const {
  return detail::guarded([&]() -> Result<WriterPlan> {
  const Impl& st = state();
  const std::uint64_t align = options_.alignment;
  if (align < 8 || align > kMaxAlignment || (align & (align - 1)) != 0)
    return Error(Errc::bad_alignment,
                 "alignment " + std::to_string(align) + " is not a power of two from 8 to " +
                     std::to_string(kMaxAlignment));

  // The reference's order: dtype descending in its enum order, then name bytewise.
  std::vector<std::size_t> order(st.entries.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!options_.keep_insertion_order)
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Impl::Entry& x = st.entries[a];
      const Impl::Entry& y = st.entries[b];
      if (x.dtype != y.dtype) return x.dtype > y.dtype;
      return std::string_view(x.name) < std::string_view(y.name);  // char_traits<char>: unsigned bytes
    });
  std::vector<const std::pair<std::string, std::string>*> meta;
  meta.reserve(st.metadata.size());
  for (const auto& kv : st.metadata) meta.push_back(&kv);
  if (!options_.keep_insertion_order)
    std::sort(meta.begin(), meta.end(), [](auto* a, auto* b) { return a->first < b->first; });

  WriterPlan p;
  p.impl_ = std::make_unique<WriterPlan::Impl>();
  WriterPlan::Impl& pi = *p.impl_;
  std::size_t name_bytes = 0, dims = 0;
  for (const auto& e : st.entries) {
    name_bytes += e.name.size();
    dims += e.shape.size();
  }
  pi.names.reserve(name_bytes);
  pi.shapes.reserve(dims);
  pi.tensors.reserve(st.entries.size());
  pi.source = order;

  std::string json;
  json.reserve(64 + name_bytes + st.entries.size() * 72);
  json += '{';
  if (has_metadata_) {
    json += "\"__metadata__\":{";
    for (std::size_t i = 0; i < meta.size(); ++i) {
      if (i) json += ',';
      detail::append_json_string(json, meta[i]->first);
      json += ':';
      detail::append_json_string(json, meta[i]->second);
    }
    json += '}';
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Impl::Entry& e = st.entries[order[i]];
    if (e.byte_size > ~std::uint64_t{0} - offset)
      return Error(Errc::size_overflow, "the data buffer would exceed 2^64 bytes", Error::no_offset, e.name);
    DataOffsets off{offset, offset + e.byte_size};
    offset = off.end;
    if (i || has_metadata_) json += ',';
    detail::append_json_string(json, e.name);
    json += ":{\"dtype\":\"";
    json += sft::name(e.dtype);
    json += "\",\"shape\":[";
    for (std::size_t d = 0; d < e.shape.size(); ++d) {
      if (d) json += ',';
      append_uint(json, e.shape[d]);
    }
    json += "],\"data_offsets\":[";
    append_uint(json, off.begin);
    json += ',';
    append_uint(json, off.end);
    json += "]}";
    pi.names.insert(pi.names.end(), e.name.begin(), e.name.end());
    pi.shapes.insert(pi.shapes.end(), e.shape.begin(), e.shape.end());
    TensorInfo info;
    info.dtype = e.dtype;
    info.data_offsets = off;
    pi.tensors.push_back(info);
  }
  json += '}';

  // Pad with spaces so that the data buffer starts at a multiple of `align`.
  const std::uint64_t unpadded = 8 + json.size();
  const std::uint64_t n = json.size() + (align - unpadded % align) % align;
  if (n > options_.limits.max_header_bytes)
    return Error(Errc::header_too_large,
                 "the header would take " + std::to_string(n) + " bytes, over the limit of " +
                     std::to_string(options_.limits.max_header_bytes));
  if (offset > ~std::uint64_t{0} - 8 - n)
    return Error(Errc::size_overflow, "the file would exceed 2^64 bytes");
  pi.data_size = offset;
  pi.preamble.resize(8 + n, std::byte{' '});
  for (int i = 0; i < 8; ++i) pi.preamble[i] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::copy_n(reinterpret_cast<const std::byte*>(json.data()), json.size(), pi.preamble.begin() + 8);

  // Point the entries at the arenas, now that they no longer grow.
  std::size_t name_at = 0, dim_at = 0;
  pi.by_name.reserve(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Impl::Entry& e = st.entries[order[i]];
    pi.tensors[i].name = std::string_view(pi.names.data() + name_at, e.name.size());
    pi.tensors[i].shape = std::span<const std::uint64_t>(pi.shapes.data() + dim_at, e.shape.size());
    name_at += e.name.size();
    dim_at += e.shape.size();
    pi.by_name.emplace(pi.tensors[i].name, i);
  }
  return p;
  });
}

namespace {

Error missing(const TensorInfo& t) {
  return Error(Errc::missing_data, "tensor was declared but its bytes were never supplied", Error::no_offset,
               std::string(t.name));
}

}  // namespace

Result<std::vector<std::byte>> Writer::serialize() const {
  return detail::guarded([&]() -> Result<std::vector<std::byte>> {
  const Impl& st = state();
  auto p = plan();
  SFT_TRY(p);
  for (std::size_t i = 0; i < p->tensors().size(); ++i)
    if (!st.entries[p->impl_->source[i]].has_bytes && p->tensors()[i].byte_size() != 0) return missing(p->tensors()[i]);
  if (p->file_size() > std::vector<std::byte>().max_size())
    return Error(Errc::size_overflow, "the file does not fit in memory");
  std::vector<std::byte> out;
  out.reserve(static_cast<std::size_t>(p->file_size()));
  out.insert(out.end(), p->preamble().begin(), p->preamble().end());
  for (std::size_t i = 0; i < p->tensors().size(); ++i) {
    const Impl::Entry& e = st.entries[p->impl_->source[i]];
    if (e.byte_size != 0) out.insert(out.end(), e.data, e.data + e.byte_size);
  }
  return out;
  });
}

Result<void> Writer::write_file(const std::filesystem::path& path) const {
  return detail::guarded([&]() -> Result<void> {
  const Impl& st = state();
  auto p = plan();
  SFT_TRY(p);
  std::vector<std::span<const std::byte>> parts;
  parts.reserve(p->tensors().size() + 1);
  parts.push_back(p->preamble());
  for (std::size_t i = 0; i < p->tensors().size(); ++i) {
    const Impl::Entry& e = st.entries[p->impl_->source[i]];
    if (!e.has_bytes && e.byte_size != 0) return missing(p->tensors()[i]);
    parts.emplace_back(e.data, static_cast<std::size_t>(e.byte_size));
  }
  // No reservation here: the data follows at once, so a full disk shows up as
  // promptly, and writing into reserved (unwritten) extents costs ext4 an
  // extent conversion per write that a plain sequential write does not pay.
  auto f = detail::AtomicFile::create(path, options_.fail_after_bytes);
  SFT_TRY(f);
  SFT_TRY(f->write_gather(0, parts));
  return f->commit(options_.durable);
  });
}

Result<StreamingWriter> Writer::begin_file(const std::filesystem::path& path) const {
  return detail::guarded([&]() -> Result<StreamingWriter> {
  const Impl& st = state();
  auto p = plan();
  SFT_TRY(p);
  auto f = detail::AtomicFile::create(path, options_.fail_after_bytes);
  SFT_TRY(f);
  SFT_TRY(f->reserve(p->file_size()));

  auto impl = std::make_unique<StreamingWriter::Impl>(std::move(*p), std::move(*f), options_.durable);
  const WriterPlan& plan = impl->plan;
  // The preamble and every added tensor now, one gathered write per run of
  // neighbours; declared tensors leave gaps for the caller to fill.
  std::vector<std::span<const std::byte>> parts{plan.preamble()};
  std::uint64_t run_start = 0;
  for (std::size_t i = 0; i <= plan.tensors().size(); ++i) {
    const bool added = i < plan.tensors().size() && st.entries[plan.impl_->source[i]].has_bytes;
    if (added) {
      const Impl::Entry& e = st.entries[plan.impl_->source[i]];
      if (parts.empty()) run_start = plan.data_start() + plan.tensors()[i].data_offsets.begin;
      parts.emplace_back(e.data, static_cast<std::size_t>(e.byte_size));
      impl->state[i].supplied = true;
      impl->state[i].covered = e.byte_size;
    } else if (!parts.empty()) {
      SFT_TRY(impl->file.write_gather(run_start, parts));
      parts.clear();
    }
  }
  return StreamingWriter(std::move(impl));
  });
}

Result<void> Writer::write_file(const std::filesystem::path& path, const TensorSource& source) const {
  auto s = begin_file(path);
  SFT_TRY(s);
  StreamingWriter& w = *s;
  const auto tensors = w.plan().tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (w.impl_->state[i].supplied) continue;
    TensorSink sink(w, i);
    if (auto r = source(tensors[i], sink); !r) {
      w.abort();
      return r;
    }
    if (sink.remaining() != 0) {
      w.abort();
      return Error(Errc::missing_data,
                   "the source supplied " + std::to_string(tensors[i].byte_size() - sink.remaining()) + " of " +
                       std::to_string(tensors[i].byte_size()) + " bytes",
                   Error::no_offset, std::string(tensors[i].name));
    }
  }
  return w.commit();
}

}  // namespace sft
