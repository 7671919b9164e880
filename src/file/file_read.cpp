// File's access path: every read, load, slice and view goes through the one
// ByteSource; views only where the source's bytes are in memory.
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "file/file_impl.hpp"
#include "file/tensor_bytes_access.hpp"
#include "sft_internal/guard.hpp"

namespace sft {

namespace {

Error foreign(const TensorInfo& info) {
  return Error(Errc::invalid_argument, "the TensorInfo is not an entry of this File's header", Error::no_offset,
               std::string(info.name));
}

Error not_mapped(const File& f, std::string_view tensor) {
  return Error(Errc::not_mapped,
               "the file's bytes are not in memory (" + std::string(f.source_kind()) +
                   " source): no view can exist; load() or read() copies them",
               Error::no_offset, std::string(tensor));
}

// Runs gathered per batched read: bounds the list of ranges a slice with
// millions of tiny runs would otherwise build.
constexpr std::size_t kRunsPerBatch = 4096;

// Invalid_argument unless `info` is an entry of this File's header (its
// address lies in header().tensors()): a TensorInfo of another File would be
// read at offsets this File never validated.
Result<void> check_owned(const File& f, const TensorInfo& info) {
  const auto t = f.header().tensors();
  const auto* p = &info;
  if (t.empty() || std::less<const TensorInfo*>()(p, t.data()) || !std::less<const TensorInfo*>()(p, t.data() + t.size()))
    return foreign(info);
  return {};
}

}  // namespace

TensorView File::unchecked_view(const TensorInfo& info) const noexcept {
  const std::byte* p = impl_->memory.data() + impl_->header.data_start() + info.data_offsets.begin;
  return TensorView(&info, {p, static_cast<std::size_t>(info.byte_size())});
}

Result<std::span<const std::byte>> File::bytes() const& {
  if (!mapped()) return not_mapped(*this, {});
  return impl_->memory;
}

Result<TensorView> File::view(const TensorInfo& info) const& {
  SFT_TRY(check_owned(*this, info));
  if (!mapped()) return not_mapped(*this, info.name);
  return unchecked_view(info);
}

Result<TensorView> File::tensor(std::string_view name) const& {
  const TensorInfo* info = impl_->header.find(name);
  if (!info) return Error(Errc::not_found, "no tensor of that name", Error::no_offset, std::string(name));
  return view(*info);
}

Result<File::Views> File::views() const& {
  if (!mapped()) return not_mapped(*this, {});
  return Views{this};
}

namespace {

// invalid_argument unless [offset, offset + n) lies within the file.
Result<void> within_file(const File& f, std::uint64_t offset, std::uint64_t n) {
  if (offset > f.size() || n > f.size() - offset)
    return Error(Errc::invalid_argument, "range of " + std::to_string(n) + " bytes at " + std::to_string(offset) +
                                             " is outside the file's " + std::to_string(f.size()) + " bytes");
  return {};
}

}  // namespace

Result<void> File::read_bytes(std::uint64_t offset, std::span<std::byte> out) const {
  SFT_TRY(within_file(*this, offset, out.size()));
  return detail::guarded([&] { return impl_->source->read(offset, out); });
}

Result<void> File::read_bytes(std::span<const ReadRequest> reads) const {
  for (const ReadRequest& r : reads) SFT_TRY(within_file(*this, r.offset, r.out.size()));
  return detail::guarded([&]() -> Result<void> {
    std::vector<detail::ReadRange> ranges;
    ranges.reserve(reads.size());
    for (const ReadRequest& r : reads) ranges.push_back({r.offset, r.out});
    return impl_->source->read_ranges(ranges);
  });
}

Result<void> File::read_range(const TensorInfo& info, std::uint64_t offset, std::span<std::byte> out) const {
  SFT_TRY(check_owned(*this, info));
  if (offset > info.byte_size() || out.size() > info.byte_size() - offset)
    return Error(Errc::invalid_argument,
                 "range of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) + " is outside the tensor's " +
                     std::to_string(info.byte_size()) + " bytes",
                 Error::no_offset, std::string(info.name));
  const std::uint64_t at = impl_->header.data_start() + info.data_offsets.begin + offset;
  return detail::guarded([&] { return impl_->source->read(at, out); }).with_tensor(info.name);
}

Result<void> File::read(const TensorInfo& info, std::span<std::byte> out) const {
  SFT_TRY(check_owned(*this, info));
  if (out.size() < info.byte_size())
    return Error(Errc::buffer_too_small, "buffer of " + std::to_string(out.size()) + " bytes for a tensor of " + std::to_string(info.byte_size()),
                 Error::no_offset, std::string(info.name));
  return read_range(info, 0, out.first(static_cast<std::size_t>(info.byte_size())));
}

Result<TensorBytes> File::load(const TensorInfo& info) const& {
  SFT_TRY(check_owned(*this, info));
  if (mapped()) return detail::TensorBytesAccess::view(info, unchecked_view(info).bytes());
  return detail::guarded([&]() -> Result<TensorBytes> {
    SFT_TRY_ASSIGN(auto out, detail::TensorBytesAccess::allocate(info, nullptr, info.byte_size()));
    SFT_TRY(read_range(info, 0, detail::TensorBytesAccess::writable(out)));
    return out;
  });
}

Result<TensorBytes> File::load(std::string_view name) const& {
  const TensorInfo* info = impl_->header.find(name);
  if (!info) return Error(Errc::not_found, "no tensor of that name", Error::no_offset, std::string(name));
  return load(*info);
}

namespace {

// Copy the runs of `plan` (a plan of tensor `info`) into `out`, in order.
Result<void> copy_runs(const detail::ByteSource& src, std::span<const std::byte> memory, std::uint64_t tensor_at,
                       const SlicePlan& plan, std::span<std::byte> out) {
  std::uint64_t at = 0;
  if (memory.data()) {  // in memory: straight copies
    plan.for_each_run([&](ByteRange r) {
      const auto n = static_cast<std::size_t>(r.end - r.begin);
      std::memcpy(out.data() + at, memory.data() + tensor_at + r.begin, n);
      at += n;
    });
    return {};
  }
  // Otherwise batched reads, which a source may serve together.
  std::vector<detail::ReadRange> batch;
  batch.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(plan.run_count, kRunsPerBatch)));
  Result<void> status;
  plan.for_each_run([&](ByteRange r) {
    if (!status) return;
    const auto n = static_cast<std::size_t>(r.end - r.begin);
    batch.push_back({tensor_at + r.begin, out.subspan(static_cast<std::size_t>(at), n)});
    at += n;
    if (batch.size() == kRunsPerBatch) {
      status = src.read_ranges(batch);
      batch.clear();
    }
  });
  SFT_TRY(status);
  return src.read_ranges(batch);
}

}  // namespace

Result<SlicePlan> File::read_slice(const TensorInfo& info, std::span<const SliceSpec> spec,
                                   std::span<std::byte> out) const {
  SFT_TRY(check_owned(*this, info));
  return detail::guarded([&]() -> Result<SlicePlan> {
    SFT_TRY_ASSIGN(auto plan, plan_slice(info, spec));
    if (out.size() < plan.byte_size)
      return Error(Errc::buffer_too_small, "buffer of " + std::to_string(out.size()) + " bytes for a slice of " + std::to_string(plan.byte_size),
                   Error::no_offset, std::string(info.name));
    const std::uint64_t tensor_at = impl_->header.data_start() + info.data_offsets.begin;
    SFT_TRY(copy_runs(*impl_->source, impl_->memory, tensor_at, plan, out).with_tensor(info.name));
    return plan;
  });
}

Result<TensorBytes> File::slice(const TensorInfo& info, std::span<const SliceSpec> spec) const& {
  SFT_TRY(check_owned(*this, info));
  return detail::guarded([&]() -> Result<TensorBytes> {
    SFT_TRY_ASSIGN(auto plan, plan_slice(info, spec));
    const std::span<const std::uint64_t> shape = plan.shape;
    const std::uint64_t tensor_at = impl_->header.data_start() + info.data_offsets.begin;
    if (mapped() && plan.contiguous()) {
      const std::byte* p = impl_->memory.data() + tensor_at + plan.first;
      return detail::TensorBytesAccess::view(info, shape, {p, static_cast<std::size_t>(plan.byte_size)});
    }
    SFT_TRY_ASSIGN(auto out, detail::TensorBytesAccess::allocate(info, &shape, plan.byte_size));
    SFT_TRY(copy_runs(*impl_->source, impl_->memory, tensor_at, plan, detail::TensorBytesAccess::writable(out))
                .with_tensor(info.name));
    return out;
  });
}

}  // namespace sft
