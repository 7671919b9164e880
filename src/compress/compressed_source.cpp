// Random access to compressed checkpoints: the seek table locates the frames a
// byte range covers; each is checked against its table entry and decoded.
#include "compress/compressed_source.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compress/byte_planes.hpp"
#include "compress/compressed_format.hpp"
#include "header/header_read.hpp"
#include "sft_internal/guard.hpp"
#include "sft_internal/parallel.hpp"

#ifdef SFT_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#define XXH_INLINE_ALL
#include <xxhash.h>
#endif

namespace sft::detail {

namespace {

// Per-thread decoding state, pooled by the reader so that buffers and zstd
// contexts survive from one read to the next.
struct Scratch {
  std::vector<std::byte> compressed;
  std::vector<std::byte> planes;
  std::vector<FileRange> segments;
#ifdef SFT_HAVE_ZSTD
  ZSTD_DCtx* dctx = nullptr;
  ~Scratch() { ZSTD_freeDCtx(dctx); }
#endif
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Frames most recently decoded for partial reads, so that reading the small
// tensors of one frame one after another decodes that frame once.
constexpr std::size_t cache_frames = 4;

}  // namespace

struct CompressedSource::State {
  std::unique_ptr<ByteSource> raw;
  SeekTable table;
  Header header;
  std::vector<FileRange> ranges16;  // byte-plane files: the 16-bit tensors
  bool layout_known = false;        // byte-plane files: header parsed, ranges16 valid
  std::atomic<unsigned> threads{0};
  mutable std::atomic<std::uint64_t> decoded{0};

  mutable std::mutex mutex;  // guards pool and cache
  mutable std::vector<std::unique_ptr<Scratch>> pool;
  struct Cached {
    std::size_t frame;
    std::shared_ptr<const std::vector<std::byte>> bytes;
  };
  mutable std::vector<Cached> cache;  // most recent first

  std::unique_ptr<Scratch> acquire() const {
    {
      std::lock_guard lock(mutex);
      if (!pool.empty()) {
        auto s = std::move(pool.back());
        pool.pop_back();
        return s;
      }
    }
    return std::make_unique<Scratch>();
  }
  void release(std::unique_ptr<Scratch> s) const {
    std::lock_guard lock(mutex);
    pool.push_back(std::move(s));
  }

  std::shared_ptr<const std::vector<std::byte>> cached(std::size_t frame) const {
    std::lock_guard lock(mutex);
    for (std::size_t i = 0; i < cache.size(); ++i)
      if (cache[i].frame == frame) {
        std::rotate(cache.begin(), cache.begin() + static_cast<std::ptrdiff_t>(i),
                    cache.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        return cache.front().bytes;
      }
    return nullptr;
  }
  void remember(std::size_t frame, std::shared_ptr<const std::vector<std::byte>> bytes) const {
    std::lock_guard lock(mutex);
    if (cache.size() == cache_frames) cache.pop_back();
    cache.insert(cache.begin(), Cached{frame, std::move(bytes)});
  }

  Result<void> decode(std::size_t i, std::span<std::byte> dst, Scratch& s) const;
  Result<void> read_frame_part(std::size_t i, std::uint64_t from, std::span<std::byte> out, Scratch& s) const;
  Result<void> read(std::uint64_t offset, std::span<std::byte> out) const;
  Result<void> load_header(const Limits& limits);
};

#ifdef SFT_HAVE_ZSTD

// Decode frame i into dst (exactly its decompressed size), checking it against
// its seek-table entry on the way.
Result<void> CompressedSource::State::decode(std::size_t i, std::span<std::byte> dst, Scratch& s) const {
  const FrameInfo& f = table.frames[i];
  const std::uint64_t at = f.compressed_offset;
  auto corrupt = [&](const std::string& what) {
    return Error(Errc::compressed_corrupt, "frame " + std::to_string(i) + " " + what, at);
  };
  // Both sizes were checked against the limits when the table was read.
  s.compressed.resize(static_cast<std::size_t>(f.compressed_size));
  SFT_TRY(raw->read(at, s.compressed));
  const std::byte* c = s.compressed.data();
  const auto csize = static_cast<std::size_t>(f.compressed_size);
  if (csize < 4) return corrupt("is " + std::to_string(csize) + " bytes long, too short for a frame");
  const std::uint32_t magic = load_le32(c);
  if (is_skippable_magic(magic)) {
    if (f.size != 0) return corrupt("is a skippable frame but the seek table gives it " + std::to_string(f.size) + " bytes");
    if (csize < 8 || load_le32(c + 4) != csize - 8)
      return corrupt("is a skippable frame whose length disagrees with the seek table");
    decoded.fetch_add(1, std::memory_order_relaxed);
    return {};
  }
  if (magic != zstd_frame_magic) return corrupt("does not start with a zstd magic number");
  const unsigned long long declared = ZSTD_getFrameContentSize(c, csize);
  if (declared == ZSTD_CONTENTSIZE_ERROR) return corrupt("has a malformed frame header");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != f.size)
    return corrupt("declares " + std::to_string(declared) + " bytes but the seek table gives it " + std::to_string(f.size));
  const std::size_t found = ZSTD_findFrameCompressedSize(c, csize);
  if (ZSTD_isError(found)) {
    if (ZSTD_getErrorCode(found) == ZSTD_error_srcSize_wrong)
      return Error(Errc::compressed_truncated,
                   "frame " + std::to_string(i) + " is cut short: its blocks need more than the " + std::to_string(csize) +
                       " bytes the seek table gives it",
                   at);
    return corrupt(std::string("is malformed: ") + ZSTD_getErrorName(found));
  }
  if (found != csize)
    return corrupt("ends after " + std::to_string(found) + " of the " + std::to_string(csize) + " bytes the seek table gives it");

  const bool planar = layout_known && !ranges16.empty();
  if (planar) plane_segments(ranges16, f.offset, f.offset + f.size, s.segments);
  const bool transform = planar && !s.segments.empty();
  std::span<std::byte> target = dst;
  if (transform) {
    s.planes.resize(dst.size());
    target = s.planes;
  }
  if (!s.dctx && !(s.dctx = ZSTD_createDCtx()))
    return Error(Errc::io_error, "out of memory creating a zstd decompression context", at);
  const std::size_t got = ZSTD_decompressDCtx(s.dctx, target.data(), target.size(), c, csize);
  if (ZSTD_isError(got)) {
    switch (ZSTD_getErrorCode(got)) {
      case ZSTD_error_checksum_wrong: return corrupt("fails its checksum");
      case ZSTD_error_dstSize_tooSmall:
        return corrupt("decompresses to more than the " + std::to_string(f.size) + " bytes the seek table gives it");
      default: return corrupt(std::string("does not decompress: ") + ZSTD_getErrorName(got));
    }
  }
  if (got != f.size)
    return corrupt("decompresses to " + std::to_string(got) + " bytes but the seek table gives it " + std::to_string(f.size));
  if (transform) planes_join(s.planes, dst, s.segments);
  if (table.checksums && static_cast<std::uint32_t>(XXH64(dst.data(), dst.size(), 0)) != f.checksum)
    return corrupt("does not match the checksum in the seek table");
  decoded.fetch_add(1, std::memory_order_relaxed);
  return {};
}

#else

Result<void> CompressedSource::State::decode(std::size_t, std::span<std::byte>, Scratch&) const {
  return Error(Errc::compressed_unsupported, "sft was built without zstd");
}

#endif

// Copy out.size() bytes from offset `from` within frame i, through the cache.
Result<void> CompressedSource::State::read_frame_part(std::size_t i, std::uint64_t from, std::span<std::byte> out,
                                                     Scratch& s) const {
  const FrameInfo& f = table.frames[i];
  if (from == 0 && out.size() == f.size) {
    if (auto hit = cached(i)) {
      std::memcpy(out.data(), hit->data(), out.size());
      return {};
    }
    return decode(i, out, s);  // the whole frame: straight into the caller's buffer
  }
  auto hit = cached(i);
  if (!hit) {
    auto bytes = std::make_shared<std::vector<std::byte>>(static_cast<std::size_t>(f.size));
    SFT_TRY(decode(i, *bytes, s));
    hit = bytes;
    remember(i, std::move(bytes));
  }
  std::memcpy(out.data(), hit->data() + from, out.size());
  return {};
}

Result<void> CompressedSource::State::read(std::uint64_t offset, std::span<std::byte> out) const {
  if (offset > table.total || out.size() > table.total - offset)
    return Error(Errc::invalid_argument, "range of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                                             " is outside the " + std::to_string(table.total) + " decompressed bytes");
  if (out.empty()) return {};
  const auto& fr = table.frames;
  // The last frame starting at or before a position holds it (empty frames sort first).
  auto holder = [&](std::uint64_t pos) {
    auto it = std::upper_bound(fr.begin(), fr.end(), pos, [](std::uint64_t v, const FrameInfo& f) { return v < f.offset; });
    return static_cast<std::size_t>(it - fr.begin()) - 1;
  };
  const std::size_t first = holder(offset);
  const std::size_t last = holder(offset + out.size() - 1);
  auto piece = [&](std::size_t i, Scratch& s) -> Result<void> {
    const FrameInfo& f = fr[i];
    const std::uint64_t b = std::max(offset, f.offset);
    const std::uint64_t e = std::min(offset + out.size(), f.offset + f.size);
    if (b >= e) return {};
    return read_frame_part(i, b - f.offset, out.subspan(static_cast<std::size_t>(b - offset), static_cast<std::size_t>(e - b)), s);
  };
  const std::size_t count = last - first + 1;
  const unsigned nthreads = resolve_threads(threads.load(std::memory_order_relaxed));
  if (count == 1 || nthreads == 1) {
    auto s = acquire();
    for (std::size_t i = first; i <= last; ++i)
      if (auto r = piece(i, *s); !r) {
        release(std::move(s));
        return r;
      }
    release(std::move(s));
    return {};
  }
  // Several frames: decode them in parallel, each into its part of `out`.
  const unsigned workers = worker_count(count, nthreads);
  std::vector<std::unique_ptr<Scratch>> scratch(workers);
  for (auto& s : scratch) s = acquire();
  std::vector<Result<void>> results(count);
  std::atomic<bool> failed{false};
  auto ran = parallel_for(count, nthreads, [&](std::size_t k, unsigned w) {
    if (failed.load(std::memory_order_relaxed)) return;
    results[k] = piece(first + k, *scratch[w]);
    if (!results[k]) failed.store(true, std::memory_order_relaxed);
  });
  for (auto& s : scratch) release(std::move(s));
  SFT_TRY(ran);
  for (auto& r : results)
    SFT_TRY(r);
  return {};
}

Result<void> CompressedSource::State::load_header(const Limits& limits) {
  // Frames before the data buffer are never transformed, so the header
  // decodes without knowing the layout.
  auto h = read_header([this](std::uint64_t o, std::span<std::byte> out) { return read(o, out); },
                               table.total, limits);
  SFT_TRY(h);
  header = std::move(*h);
  if (table.byte_planes) {
    const std::uint64_t ds = header.data_start();
    bool boundary = ds == table.total;
    for (const FrameInfo& f : table.frames)
      if (f.offset == ds) boundary = true;
    if (!boundary)
      return Error(Errc::bad_seek_table,
                   "byte-plane checkpoint with no frame starting where the data buffer starts (" + std::to_string(ds) + ")");
    ranges16 = sixteen_bit_ranges(header);
    layout_known = true;
    std::lock_guard lock(mutex);
    cache.clear();
  }
  return {};
}

CompressedSource::CompressedSource(std::unique_ptr<State> state) noexcept : s_(std::move(state)) {}
CompressedSource::~CompressedSource() = default;

Result<std::unique_ptr<CompressedSource>> CompressedSource::open(std::unique_ptr<ByteSource> raw,
                                                                 const Limits& limits) {
  return guarded([&]() -> Result<std::unique_ptr<CompressedSource>> {
    auto state = std::make_unique<State>();
    state->raw = std::move(raw);
    SFT_TRY_ASSIGN(state->table, read_seek_table(*state->raw, limits));
    SFT_TRY(state->load_header(limits));
    return std::unique_ptr<CompressedSource>(new CompressedSource(std::move(state)));
  });
}

std::uint64_t CompressedSource::size() const noexcept { return s_->table.total; }
const Header& CompressedSource::header() const noexcept { return s_->header; }
Header CompressedSource::take_header() noexcept { return std::move(s_->header); }
std::uint64_t CompressedSource::compressed_size() const noexcept { return s_->raw->size(); }
std::span<const FrameInfo> CompressedSource::frames() const noexcept { return s_->table.frames; }
bool CompressedSource::byte_planes() const noexcept { return s_->table.byte_planes; }
void CompressedSource::set_threads(unsigned threads) noexcept {
  s_->threads.store(threads, std::memory_order_relaxed);
}
std::uint64_t CompressedSource::frames_decompressed() const noexcept {
  return s_->decoded.load(std::memory_order_relaxed);
}

Result<void> CompressedSource::read(std::uint64_t offset, std::span<std::byte> out) const {
  return guarded([&] { return s_->read(offset, out); });
}

Result<void> CompressedSource::check_frame(std::size_t index) const {
  if (index >= s_->table.frames.size())
    return Error(Errc::invalid_argument, "no frame " + std::to_string(index) + " in a table of " + std::to_string(s_->table.frames.size()));
  return guarded([&]() -> Result<void> {
    std::vector<std::byte> bytes(static_cast<std::size_t>(s_->table.frames[index].size));
    auto scratch = s_->acquire();
    auto r = s_->decode(index, bytes, *scratch);
    s_->release(std::move(scratch));
    return r;
  });
}

}  // namespace sft::detail
