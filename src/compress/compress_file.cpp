// Compressed checkpoints to and from disk, through an atomic temporary file.
#include <algorithm>
#include <string>

#include "sft_internal/atomic_file.hpp"
#include "compress/compress_internal.hpp"
#include "sft_internal/guard.hpp"
#include "sft_internal/parallel.hpp"
#include "sft/compressed.hpp"
#include "sft/file.hpp"

namespace sft {

Result<CompressStats> compress_file(const File& in, const std::filesystem::path& out, const CompressOptions& options) {
  return detail::guarded([&]() -> Result<CompressStats> {
  auto file = detail::AtomicFile::create(out);
  SFT_TRY(file);
  CompressStats stats;
  stats.original_bytes = in.size();
  auto r = detail::compress_to(in, options, [&](std::span<const std::byte> bytes) {
    auto w = file->write_at(stats.compressed_bytes, bytes);
    stats.compressed_bytes += bytes.size();
    return w;
  });
  if (!r) {
    file->abort();
    return std::move(r).error();
  }
  SFT_TRY(file->commit(options.durable));
  auto reread = CompressedReader::open(out);  // cheap: the seek table and the header
  stats.frames = reread ? reread->frames().size() : 0;
  return stats;
  });
}

Result<void> decompress_file(const std::filesystem::path& in, const std::filesystem::path& out, const Limits& limits,
                             unsigned threads) {
  return detail::guarded([&]() -> Result<void> {
  auto reader = CompressedReader::open(in, limits);
  SFT_TRY(reader);
  reader->set_threads(threads);
  const auto frames = reader->frames();
  // Whole frames in groups of about two per thread: each group is decoded in
  // parallel straight into the buffer, then written.
  const std::uint64_t target = std::uint64_t{2} * detail::resolve_threads(threads) * max_compress_frame_bytes;
  auto file = detail::AtomicFile::create(out);
  SFT_TRY(file);
  std::vector<std::byte> buf;
  for (std::size_t i = 0; i < frames.size();) {
    std::size_t j = i;
    std::uint64_t bytes = 0;
    while (j < frames.size() && (bytes == 0 || bytes + frames[j].size <= target)) {
      if (frames[j].size == 0) {
        SFT_TRY(reader->check_frame(j));
      }
      bytes += frames[j++].size;
    }
    buf.resize(static_cast<std::size_t>(bytes));
    SFT_TRY(reader->read(frames[i].offset, buf));
    SFT_TRY(file->write_at(frames[i].offset, buf));
    i = j;
  }
  return file->commit(true);
  });
}

}  // namespace sft
