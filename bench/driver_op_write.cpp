// bench/driver_op_write.cpp — the driver's "write" operation, once sft has a Writer.
//
// Compiled into sft_bench_driver always; registers "write" only when
// sft/writer.hpp exists (SFT_BENCH_HAVE_WRITER, set by sft_bench_driver.cmake),
// so the driver (and compare.py, which asks the driver what it can do) picks
// the Writer up on the merge that brings it, with no edit.
//
// What it measures mirrors the reference's save_file(tensors, out) with the
// tensors already in memory: the source file is opened once per process and
// its pages are warm after the driver's warm-up repetition; the timed region
// is building a Writer from the zero-copy views and write_file(out). The
// Writer runs with durable = false, because save_file does not fsync either;
// it still writes a temporary file and renames it (atomic against crashes of
// the process). The output is checked (re-opened, same tensors and bytes) and
// removed outside the timed region.
#if defined(SFT_BENCH_HAVE_WRITER)

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "driver.hpp"
#include "sft/writer.hpp"
#include "support/checksum.hpp"

namespace sft::bench {
namespace {

Result<RepOutcome> op_write(const DriverArgs& a) {
  if (a.output.empty()) return Error(Errc::invalid_argument, "write needs --output PATH");
  // One source per process: every repetition writes the same tensors.
  static std::optional<File> source;
  if (!source) {
    auto f = File::open(a.file, a.open);
    if (!f) return std::move(f).error();
    source.emplace(std::move(*f));
  }
  RepOutcome out;
  const Stopwatch clock;
  {
    WriterOptions options;
    options.durable = false;
    Writer w(options);
    SFT_TRY_ASSIGN(auto views, source->views());
    for (const TensorView v : views) {
      if (auto r = w.add(v.name(), v.dtype(), v.shape(), v.bytes()); !r) return std::move(r).error();
      out.bytes += v.size_bytes();
      ++out.tensors;
    }
    if (auto r = w.write_file(a.output); !r) return std::move(r).error();
  }
  clock.stop(out);
  // Outside the timed region: the file is readable and holds the same bytes.
  {
    auto back = File::open(a.output);
    if (!back) return std::move(back).error();
    std::uint64_t sum_out = 0, sum_in = 0;
    SFT_TRY_ASSIGN(auto back_views, back->views());
    SFT_TRY_ASSIGN(auto source_views, source->views());
    for (const TensorView v : back_views) sum_out += byte_checksum(v.bytes());
    for (const TensorView v : source_views) sum_in += byte_checksum(v.bytes());
    if (back->header().size() != out.tensors || sum_out != sum_in)
      return Error(Errc::io_error, "the written file does not read back as the source");
    out.checksum = sum_out;
  }
  std::error_code ec;
  std::filesystem::remove(a.output, ec);
  return out;
}

SFT_BENCH_OP("write", "Writer (durable = false) of every tensor of the open file to --output, from views", op_write);

}  // namespace
}  // namespace sft::bench

#endif
