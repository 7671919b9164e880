// StreamingWriter: positional writes into the temporary file, coverage
// tracking, commit / abort. TensorSink: the sequential view a TensorSource gets.
#include "write/writer_stream.hpp"

#include <algorithm>
#include <string>

namespace sft {

void StreamingWriter::Impl::mark(std::size_t index, std::uint64_t begin, std::uint64_t end) {
  if (begin == end) return;
  TensorState& s = state[index];
  auto it = s.runs.upper_bound(begin);
  if (it != s.runs.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) {  // overlaps or touches the run before
      begin = prev->first;
      end = std::max(end, prev->second);
      s.covered -= prev->second - prev->first;
      it = s.runs.erase(prev);
    }
  }
  while (it != s.runs.end() && it->first <= end) {  // swallow the runs it reaches
    end = std::max(end, it->second);
    s.covered -= it->second - it->first;
    it = s.runs.erase(it);
  }
  s.runs.emplace(begin, end);
  s.covered += end - begin;
}

StreamingWriter::StreamingWriter(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
StreamingWriter::StreamingWriter(StreamingWriter&&) noexcept = default;
StreamingWriter& StreamingWriter::operator=(StreamingWriter&& other) noexcept {
  if (this != &other) {
    abort();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
StreamingWriter::~StreamingWriter() { abort(); }

const WriterPlan& StreamingWriter::plan() const noexcept {
  static const WriterPlan empty;
  return impl_ ? impl_->plan : empty;
}

void StreamingWriter::abort() noexcept {
  if (impl_ && !impl_->committed) {
    impl_->file.abort();
    impl_->failed = true;
  }
}

namespace {
Error closed_stream(bool moved_from, bool committed) {
  if (moved_from) return Error(Errc::writer_state, "this StreamingWriter was moved from");
  if (committed) return Error(Errc::writer_state, "the file was already committed");
  return Error(Errc::writer_state, "the write was aborted (by abort() or an earlier failure)");
}
}  // namespace

Error StreamingWriter::closed() const {
  if (impl_ && impl_->prepared && !impl_->committed && !impl_->failed)
    return Error(Errc::writer_state, "the file was prepared: it takes no more writes, only commit()");
  return closed_stream(!impl_, impl_ && impl_->committed);
}

Result<void> StreamingWriter::write_at(std::size_t index, std::uint64_t offset, std::span<const std::byte> bytes) {
  if (!impl_ || impl_->failed || impl_->committed || impl_->prepared) return closed();
  const auto tensors = impl_->plan.tensors();
  if (index >= tensors.size())
    return Error(Errc::not_found, "no tensor at position " + std::to_string(index) + " of the plan");
  const TensorInfo& t = tensors[index];
  if (impl_->state[index].supplied)
    return Error(Errc::writer_state, "this tensor's bytes were given to Writer::add", Error::no_offset,
                 std::string(t.name));
  const std::uint64_t size = t.byte_size();
  if (offset > size || bytes.size() > size - offset)
    return Error(Errc::data_size_mismatch,
                 "writing " + std::to_string(bytes.size()) + " bytes at offset " + std::to_string(offset) +
                     " runs past the end of the tensor's " + std::to_string(size) + " bytes",
                 Error::no_offset, std::string(t.name));
  if (auto r = impl_->file.write_at(impl_->plan.data_start() + t.data_offsets.begin + offset, bytes); !r) {
    abort();
    Error e = std::move(r).error();
    e.tensor = std::string(t.name);
    return e;
  }
  impl_->mark(index, offset, offset + bytes.size());
  return {};
}

Result<void> StreamingWriter::write_at(std::string_view name, std::uint64_t offset, std::span<const std::byte> bytes) {
  if (!impl_ || impl_->failed || impl_->committed) return closed();
  std::size_t i = impl_->plan.index_of(name);
  if (i == WriterPlan::npos)
    return Error(Errc::not_found, "no tensor of this name was declared", Error::no_offset, std::string(name));
  return write_at(i, offset, bytes);
}

Result<void> StreamingWriter::append(std::size_t index, std::span<const std::byte> bytes) {
  if (!impl_ || impl_->failed || impl_->committed) return closed();
  if (index >= impl_->state.size()) return write_at(index, 0, bytes);  // reports not_found
  auto& cursor = impl_->state[index].cursor;
  if (auto r = write_at(index, cursor, bytes); !r) return r;
  cursor += bytes.size();
  return {};
}

Result<void> StreamingWriter::write(std::string_view name, std::span<const std::byte> bytes) {
  if (!impl_ || impl_->failed || impl_->committed) return closed();
  std::size_t i = impl_->plan.index_of(name);
  if (i == WriterPlan::npos)
    return Error(Errc::not_found, "no tensor of this name was declared", Error::no_offset, std::string(name));
  return append(i, bytes);
}

std::uint64_t StreamingWriter::remaining(std::size_t index) const noexcept {
  if (!impl_ || index >= impl_->state.size()) return 0;
  return impl_->plan.tensors()[index].byte_size() - impl_->state[index].covered;
}

std::uint64_t StreamingWriter::remaining() const noexcept {
  std::uint64_t total = 0;
  if (impl_)
    for (std::size_t i = 0; i < impl_->state.size(); ++i) total += remaining(i);
  return total;
}

Result<void> StreamingWriter::prepare() {
  if (!impl_ || impl_->failed || impl_->committed) return closed();
  if (impl_->prepared) return {};
  const auto tensors = impl_->plan.tensors();
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (remaining(i) == 0) continue;
    const std::uint64_t got = tensors[i].byte_size() - remaining(i);
    abort();
    return Error(Errc::missing_data,
                 "only " + std::to_string(got) + " of the tensor's " + std::to_string(tensors[i].byte_size()) +
                     " bytes were written",
                 Error::no_offset, std::string(tensors[i].name));
  }
  if (auto r = impl_->file.prepare(impl_->durable); !r) {
    impl_->failed = true;
    return r;
  }
  impl_->prepared = true;
  return {};
}

Result<void> StreamingWriter::commit() {
  if (auto r = prepare(); !r) return r;
  if (auto r = impl_->file.commit(impl_->durable); !r) {
    // A failed directory fsync comes after the rename: the file is then in
    // place and only its durability is in doubt. Either way the stream is over.
    impl_->failed = true;
    return r;
  }
  impl_->committed = true;
  return {};
}

Result<void> TensorSink::write(std::span<const std::byte> bytes) { return writer_.append(index_, bytes); }

std::uint64_t TensorSink::remaining() const noexcept { return writer_.remaining(index_); }

}  // namespace sft
