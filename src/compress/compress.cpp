// Writing compressed checkpoints: frames compressed in parallel, written in order.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/byte_planes.hpp"
#include "compress/compress_internal.hpp"
#include "compress/compressed_format.hpp"
#include "sft_internal/guard.hpp"
#include "sft_internal/parallel.hpp"
#include "sft/compressed.hpp"
#include "sft/file.hpp"

#ifdef SFT_HAVE_ZSTD
#include <zstd.h>
#endif

namespace sft::detail {

#ifdef SFT_HAVE_ZSTD

namespace {

// The frames of a file: the header region [0, data_start) and the data
// buffer, each cut into pieces of at most frame_bytes.
std::vector<FrameInfo> plan_frames(std::uint64_t data_start, std::uint64_t total, std::uint64_t frame_bytes) {
  std::vector<FrameInfo> frames;
  auto cut = [&](std::uint64_t b, std::uint64_t e) {
    for (std::uint64_t p = b; p < e; p += std::min(frame_bytes, e - p)) {
      FrameInfo f;
      f.offset = p;
      f.size = std::min(frame_bytes, e - p);
      frames.push_back(f);
    }
  };
  cut(0, data_start);
  cut(data_start, total);
  return frames;
}

struct Worker {
  ZSTD_CCtx* cctx = nullptr;
  std::vector<std::byte> input;   // the frame's original bytes
  std::vector<std::byte> planes;  // the byte-plane transform of a frame
  std::vector<FileRange> segments;
  ~Worker() { ZSTD_freeCCtx(cctx); }
};

}  // namespace

Result<void> compress_to(const File& in, const CompressOptions& options, const ByteSink& sink) {
  if (options.frame_bytes == 0 || options.frame_bytes > max_compress_frame_bytes)
    return Error(Errc::invalid_argument, "frame size " + std::to_string(options.frame_bytes) + " is not within 1.." +
                                             std::to_string(max_compress_frame_bytes));
  if (options.level != 0 && (options.level < ZSTD_minCLevel() || options.level > ZSTD_maxCLevel()))
    return Error(Errc::invalid_argument, "zstd level " + std::to_string(options.level) + " is not within " +
                                             std::to_string(ZSTD_minCLevel()) + ".." + std::to_string(ZSTD_maxCLevel()));
  const Header& header = in.header();
  std::vector<FrameInfo> frames = plan_frames(header.data_start(), in.size(), options.frame_bytes);
  std::vector<FileRange> ranges16;
  if (options.byte_planes) {
    ranges16 = sixteen_bit_ranges(header);
    SFT_TRY(sink(encode_planes_prefix()));
  }
  std::uint64_t written = options.byte_planes ? planes_prefix_bytes : 0;

  const unsigned threads = resolve_threads(options.threads);
  // A batch of frames is compressed in parallel, then written in order:
  // memory stays at two compressed frames per thread.
  const std::size_t batch = std::size_t{2} * threads;
  std::vector<Worker> workers(worker_count(batch, threads));
  std::vector<std::vector<std::byte>> out(std::min(batch, frames.size()));
  std::vector<Result<void>> status(out.size());

  for (std::size_t first = 0; first < frames.size(); first += batch) {
    const std::size_t count = std::min(batch, frames.size() - first);
    std::atomic<bool> failed{false};
    std::fill(status.begin(), status.end(), Result<void>{});
    auto ran = parallel_for(count, threads, [&](std::size_t k, unsigned w) {
      if (failed.load(std::memory_order_relaxed)) return;
      Worker& wk = workers[w];
      FrameInfo& f = frames[first + k];
      auto fail = [&](Error e) {
        status[k] = std::move(e);
        failed.store(true, std::memory_order_relaxed);
      };
      const auto size = static_cast<std::size_t>(f.size);
      // One path for every source (a memcpy per frame from a mapping costs
      // next to nothing beside compressing it).
      wk.input.resize(size);
      if (auto r = in.read_bytes(f.offset, wk.input); !r) return fail(std::move(r).error());
      std::span<const std::byte> src = wk.input;
      if (!ranges16.empty()) {
        plane_segments(ranges16, f.offset, f.offset + f.size, wk.segments);
        if (!wk.segments.empty()) {
          wk.planes.resize(size);
          planes_split(src, wk.planes, wk.segments);
          src = wk.planes;
        }
      }
      if (!wk.cctx) {
        wk.cctx = ZSTD_createCCtx();
        if (!wk.cctx) return fail(Error(Errc::invalid_argument, "out of memory creating a zstd context"));
        ZSTD_CCtx_setParameter(wk.cctx, ZSTD_c_compressionLevel, options.level);
        ZSTD_CCtx_setParameter(wk.cctx, ZSTD_c_checksumFlag, 1);     // so zstd -d checks every frame
        ZSTD_CCtx_setParameter(wk.cctx, ZSTD_c_contentSizeFlag, 1);  // checked against the seek table
      }
      auto& dst = out[k];
      dst.resize(ZSTD_compressBound(size));
      const std::size_t n = ZSTD_compress2(wk.cctx, dst.data(), dst.size(), src.data(), src.size());
      if (ZSTD_isError(n))
        return fail(Error(Errc::invalid_argument, std::string("zstd failed: ") + ZSTD_getErrorName(n), f.offset));
      dst.resize(n);
    });
    SFT_TRY(ran);
    if (failed.load())  // frames after a failure may have been skipped: report the first error
      for (std::size_t k = 0; k < count; ++k)
        if (!status[k]) return std::move(status[k]).error();
    for (std::size_t k = 0; k < count; ++k) {
      FrameInfo& f = frames[first + k];
      f.compressed_offset = written;
      f.compressed_size = out[k].size();
      SFT_TRY(sink(out[k]));
      written += out[k].size();
    }
  }
  return sink(encode_seek_table(frames, false));
}

#else

Result<void> compress_to(const File&, const CompressOptions&, const ByteSink&) {
  return Error(Errc::compressed_unsupported, "sft was built without zstd");
}

#endif

}  // namespace sft::detail

namespace sft {

Result<std::vector<std::byte>> compress(const File& in, const CompressOptions& options) {
  return detail::guarded([&]() -> Result<std::vector<std::byte>> {
    std::vector<std::byte> out;
    SFT_TRY(detail::compress_to(in, options, [&](std::span<const std::byte> b) -> Result<void> {
      out.insert(out.end(), b.begin(), b.end());
      return {};
    }));
    return out;
  });
}

}  // namespace sft
