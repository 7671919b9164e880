// `sft rewrite [--alignment N] IN OUT`: read a file and write it back through
// sft::Writer, in the reference's canonical layout (tensor order, compact
// JSON, padding; metadata keys sorted). The input is read with pread in 16 MiB
// chunks, streamed into the new file: memory stays bounded whatever the size,
// and an input truncated meanwhile is an io_error, not a crash. OUT may be IN:
// the new file replaces it atomically.
#include <string>
#include <vector>

#include "command.hpp"
#include "header_loader.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

constexpr std::size_t kChunk = std::size_t{16} << 20;

int run_rewrite(std::span<const std::string_view> args) {
  WriterOptions opts;
  std::vector<std::string_view> paths;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--alignment") {
      if (!take_alignment(args, i, opts)) return usage_error("rewrite", "--alignment takes a number (8, 64, 4096, ...)");
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      return usage_error("rewrite", "unknown option '" + printable(args[i]) + "'");
    } else {
      paths.push_back(args[i]);
    }
  }
  if (paths.size() != 2) return usage_error("rewrite", "expected IN and OUT");
  const std::string in(paths[0]), out_path(paths[1]);

  int status = 0;
  auto file = open_input(in, status);
  if (!file) return status;
  Writer w(opts);
  const Header& h = file->header();
  if (h.has_metadata()) w.enable_metadata();
  for (const auto& m : h.metadata())
    if (auto r = w.set_metadata(m.key, m.value); !r) {
      err(error_line(in, r.error()));
      return 1;
    }
  for (const TensorInfo& t : h.tensors())
    if (auto r = w.declare(t.name, t.dtype, t.shape); !r) {
      err(error_line(in, r.error()));
      return 1;
    }
  std::vector<std::byte> buffer;
  bool read_failed = false;
  auto r = w.write_file(out_path, [&](const TensorInfo& t, TensorSink& sink) -> Result<void> {
    const TensorInfo* src = h.find(t.name);
    for (std::uint64_t off = 0; off < t.byte_size(); off += kChunk) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, t.byte_size() - off));
      buffer.resize(std::max(buffer.size(), n));
      std::span<std::byte> chunk(buffer.data(), n);
      if (auto rr = file->read_range(*src, off, chunk); !rr) {
        read_failed = true;
        return rr;
      }
      if (auto wr = sink.write(chunk); !wr) return wr;
      test_stall_point("rewrite");  // the temporary exists, at full size, partly written
    }
    return {};
  });
  if (!r) {
    err(error_line(read_failed ? in : out_path, r.error()));
    return read_failed ? exit_code_for(r.error()) : 1;
  }
  return 0;
}

SFT_COMMAND("rewrite", "write a file back in the reference's canonical layout",
            "sft rewrite [--alignment N] IN OUT", run_rewrite);

}  // namespace
}  // namespace sft::cli
