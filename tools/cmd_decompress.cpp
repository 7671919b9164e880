// tools/cmd_decompress.cpp — `sft decompress` (docs/cli.md): the original file
// back from a compressed checkpoint, frames decoded in parallel.
#include <string>
#include <vector>

#include "command.hpp"
#include "number_arg.hpp"
#include "sft/compressed.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft decompress [--threads N] IN OUT\n"
    "  --threads N  frames decompressed in parallel (default: one per hardware thread)\n"
    "OUT is written atomically; every frame is checked against the seek table and its checksum.\n"
    "exit status: 0 done, 1 IN is not a valid compressed checkpoint or OUT cannot be written,\n"
    "             2 IN is unreadable or a usage error";

int run(std::span<const std::string_view> args) {
  unsigned threads = 0;
  std::vector<std::string_view> files;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (!options_done && a == "--") {
      options_done = true;
    } else if (!options_done && a == "--threads") {
      auto n = i + 1 < args.size() ? number_arg<unsigned>(args[++i]) : std::nullopt;
      if (!n || *n == 0) return usage_error("decompress", "--threads needs a positive count");
      threads = *n;
    } else if (!options_done && a.size() > 1 && a[0] == '-') {
      return usage_error("decompress", "unknown option " + printable(a));
    } else {
      files.push_back(a);
    }
  }
  if (files.size() != 2) return usage_error("decompress", "expected IN and OUT");
  // The shared loader refuses FIFOs and devices before anything opens them.
  const std::string in(files[0]);
  auto loaded = load_header(in);
  if (loaded.status != LoadedHeader::Status::valid) {
    err(error_line(in, loaded.error));
    return exit_status(loaded.status);
  }
  if (auto r = decompress_file(in, std::string(files[1]), {}, threads); !r) {
    const Error& e = r.error();
    err(error_line(e.code == Errc::write_failed ? files[1] : files[0], e));
    return exit_code_for(e);
  }
  return 0;
}

}  // namespace

SFT_COMMAND("decompress", "restore the original file from a compressed checkpoint", kUsage, run);

}  // namespace sft::cli
