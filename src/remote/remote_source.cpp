#include "remote/remote_source.hpp"

#include <algorithm>
#include <cstring>

#include "compress/compressed_source.hpp"
#include "file/file_impl.hpp"
#include "sft/compressed.hpp"
#include "sft_internal/guard.hpp"
#include "remote/range_plan.hpp"

namespace sft::detail {

Result<RemoteSource::Opened> RemoteSource::open(std::string_view url, const RemoteOptions& options,
                                                const Limits& limits, bool allow_compressed) {
  SFT_TRY_ASSIGN(auto client, RemoteClient::create(url, options));
  std::unique_ptr<RemoteSource> s(new RemoteSource());
  s->url_ = client->url().redacted();

  // Request 1: the first bytes, usually the length and the whole header.
  s->head_.resize(static_cast<std::size_t>(options.first_request_bytes));
  SFT_TRY_ASSIGN(const std::size_t got, client->open(s->head_));
  s->head_.resize(got);
  s->head_.shrink_to_fit();
  s->size_ = client->size();

  // A compressed checkpoint (sft/compressed.hpp): its seek table and frames
  // are read through this source by the compressed source, which parses the
  // header of the decompressed file itself.
  if (is_compressed(s->head_)) {
    if (!allow_compressed)
      return Error(Errc::compressed_unsupported, s->url_ + " is a compressed checkpoint, refused here");
    s->client_ = std::move(client);
    return Opened{std::move(s), std::nullopt};
  }

  // The local rules decide, before anything is sized from the length: a
  // length over the limit or past the end of the file stops here.
  SFT_TRY_ASSIGN(const std::uint64_t n, parse_header_length(s->head_, s->size_, limits));
  const std::uint64_t need = 8 + n;  // <= size, checked above
  // Request 2, only when the header is longer than the first response: the
  // buffer grows with the bytes that arrive, not with the length claimed.
  if (need > s->head_.size()) SFT_TRY(client->fetch_growing(s->head_.size(), need - s->head_.size(), s->head_));

  SFT_TRY_ASSIGN(Header header, parse_header(s->head_, s->size_, limits));

  if (options.verify_digests) {
    auto table = DigestTable::of(header);
    if (!table && table.error().code != Errc::no_digest) return std::move(table).error();
    if (table) {
      for (const auto& t : header.tensors()) {
        const Digest128* d = table->find(t.name);
        if (!d) continue;
        s->digests_.push_back({header.data_start() + t.data_offsets.begin, header.data_start() + t.data_offsets.end,
                               *d, std::string(t.name)});
      }
    }
  }
  s->client_ = std::move(client);
  return Opened{std::move(s), std::move(header)};
}

RemoteInfo RemoteSource::info() const {
  RemoteInfo i;
  i.url = url_;
  i.effective_url = client_->effective_url();
  i.size = size_;
  i.etag = client_->etag();
  i.last_modified = client_->last_modified();
  i.stats = client_->stats();
  return i;
}

Result<void> RemoteSource::read(std::uint64_t offset, std::span<std::byte> out) const {
  const ReadRange one{offset, out};
  return read_ranges({&one, 1});
}

Result<void> RemoteSource::read_ranges(std::span<const ReadRange> reads) const {
  std::vector<RangePiece> wants;
  wants.reserve(reads.size());
  for (const auto& r : reads) {
    if (r.offset > size_ || r.out.size() > size_ - r.offset)
      return Error(Errc::invalid_argument, "a read of " + std::to_string(r.out.size()) + " bytes at " +
                                               std::to_string(r.offset) + " runs past the end of " + url_ + " (" +
                                               std::to_string(size_) + " bytes)");
    // What the first response holds is copied; only the rest is fetched.
    std::uint64_t at = r.offset;
    std::size_t done = 0;
    if (at < head_.size()) {
      done = static_cast<std::size_t>(std::min<std::uint64_t>(r.out.size(), head_.size() - at));
      std::memcpy(r.out.data(), head_.data() + at, done);
      at += done;
    }
    if (done < r.out.size()) wants.push_back({at, r.out.data() + done, r.out.size() - done});
  }
  if (!wants.empty()) {
    const auto& o = client_->options();
    auto plan = plan_ranges(wants, o.coalesce_gap_bytes, o.part_bytes);
    SFT_TRY(client_->fetch(plan));
  }
  if (!digests_.empty()) return verify(reads);
  return {};
}

Result<void> RemoteSource::verify(std::span<const ReadRange> reads) const {
  for (const auto& r : reads) {
    const std::uint64_t lo = r.offset, hi = r.offset + r.out.size();
    auto it = std::lower_bound(digests_.begin(), digests_.end(), lo,
                               [](const Expected& e, std::uint64_t v) { return e.begin < v; });
    for (; it != digests_.end() && it->begin < hi; ++it) {
      if (it->end > hi) break;  // only tensors read whole are checked
      auto bytes = r.out.subspan(static_cast<std::size_t>(it->begin - lo), static_cast<std::size_t>(it->end - it->begin));
      if (xxh3_128(bytes) != it->digest)
        return Error(Errc::digest_mismatch,
                     "the bytes fetched from " + url_ + " do not match the tensor's embedded digest",
                     it->begin, it->name);
    }
  }
  return {};
}

Result<File> open_remote_file(std::string_view url, const OpenOptions& options) {
  SFT_TRY_ASSIGN(auto opened, RemoteSource::open(url, options.remote, options.limits, options.allow_compressed));
  if (opened.header) return file_from_source(std::move(opened.source), std::move(*opened.header));
  SFT_TRY_ASSIGN(auto source, CompressedSource::open(std::move(opened.source), options.limits));
  Header header = source->take_header();
  return file_from_source(std::move(source), std::move(header));
}

}  // namespace sft::detail

namespace sft {

Result<RemoteInfo> remote_info(const File& file) {
  return detail::guarded([&]() -> Result<RemoteInfo> {
    const auto& source = detail::FileAccess::source(file);
    if (source.kind() == "remote") return static_cast<const detail::RemoteSource&>(source).info();
    // A compressed checkpoint read from a URL: the remote source under the decompression.
    if (source.kind() == "compressed")
      if (const auto* raw = static_cast<const detail::CompressedSource&>(source).raw(); raw && raw->kind() == "remote")
        return static_cast<const detail::RemoteSource*>(raw)->info();
    return Error(Errc::invalid_argument, "the file was not opened from a URL");
  });
}

}  // namespace sft
