// `sft extract FILE TENSOR OUT.npy`: one tensor as a NumPy .npy file. Dtypes
// NumPy lacks are written as raw bits of the same width (BF16 as '<u2', the F8
// types as '|u1', F4/F6 as packed '|u1' bytes): see sft/npy.hpp and docs/cli.md.
#include <string>

#include "command.hpp"
#include "sft/file.hpp"
#include "sft/npy.hpp"
#include "write_options.hpp"

namespace sft::cli {
namespace {

int run_extract(std::span<const std::string_view> args) {
  if (args.size() != 3) return usage_error("extract", "expected FILE TENSOR OUT.npy");
  const std::string path(args[0]), out_path(args[2]);
  auto file = File::open(path);
  if (!file) {
    err("sft extract: " + printable(path) + ": " + file.error().to_string() + "\n");
    return exit_code_for(file.error());
  }
  auto view = file->tensor(args[1]);
  if (!view) {
    err("sft extract: " + view.error().to_string() + "\n");
    return 1;
  }
  if (auto r = write_npy(out_path, view->dtype(), view->shape(), view->bytes()); !r) {
    err("sft extract: " + printable(out_path) + ": " + r.error().to_string() + "\n");
    return 1;
  }
  return 0;
}

SFT_COMMAND("extract", "write one tensor as a NumPy .npy file", "sft extract FILE TENSOR OUT.npy", run_extract);

}  // namespace
}  // namespace sft::cli
