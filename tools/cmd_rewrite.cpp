// `sft rewrite [--alignment N] IN OUT`: read a file and write it back through
// sft::Writer, in the reference's canonical layout (tensor order, compact
// JSON, padding; metadata keys sorted). OUT may be IN: the new file replaces it
// atomically, and the old bytes stay readable through the mapping meanwhile.
#include <string>

#include "command.hpp"
#include "sft/file.hpp"
#include "sft/writer.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

int run_rewrite(std::span<const std::string_view> args) {
  WriterOptions opts;
  std::vector<std::string_view> paths;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--alignment") {
      if (i + 1 >= args.size() || !parse_u64(args[i + 1], opts.alignment))
        return usage_error("rewrite", "--alignment takes a number (8, 64, 4096, ...)");
      ++i;
    } else if (args[i].size() > 1 && args[i][0] == '-') {
      return usage_error("rewrite", "unknown option '" + printable(args[i]) + "'");
    } else {
      paths.push_back(args[i]);
    }
  }
  if (paths.size() != 2) return usage_error("rewrite", "expected IN and OUT");
  const std::string in(paths[0]), out_path(paths[1]);

  auto file = File::open(in);
  if (!file) {
    err("sft rewrite: " + printable(in) + ": " + file.error().to_string() + "\n");
    return exit_code_for(file.error());
  }
  Writer w(opts);
  const Header& h = file->header();
  if (h.has_metadata()) w.enable_metadata();
  for (const auto& m : h.metadata())
    if (auto r = w.set_metadata(m.key, m.value); !r) {
      err("sft rewrite: " + r.error().to_string() + "\n");
      return 1;
    }
  for (const TensorView v : file->views())
    if (auto r = w.add(v.name(), v.dtype(), v.shape(), v.bytes()); !r) {
      err("sft rewrite: " + r.error().to_string() + "\n");
      return 1;
    }
  if (auto r = w.write_file(out_path); !r) {
    err("sft rewrite: " + printable(out_path) + ": " + r.error().to_string() + "\n");
    return 1;
  }
  return 0;
}

SFT_COMMAND("rewrite", "write a file back in the reference's canonical layout",
            "sft rewrite [--alignment N] IN OUT", run_rewrite);

}  // namespace
}  // namespace sft::cli
