// tools/cmd_merge.cpp — `sft merge INDEX|DIR OUT` (docs/cli.md): one file from shards.
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "progress.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sink_chunks.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft merge INDEX|DIR OUT\n"
    "  writes every tensor of the checkpoint into the single file OUT (atomically), with the\n"
    "  union of the shards' metadata; the checkpoint is checked first (as sft validate does)\n"
    "exit status: 0 written, 1 invalid checkpoint or a failed write, 2 unreadable input or a usage error";

int run_merge(std::span<const std::string_view> args) {
  std::vector<std::string> paths;
  bool options_done = false;
  for (auto a : args) {
    if (!options_done && a.size() > 1 && a[0] == '-') {
      if (a == "--") options_done = true;
      else return usage_error("merge", "unknown option '" + printable(a) + "'");
      continue;
    }
    paths.emplace_back(a);
  }
  if (paths.size() != 2) return usage_error("merge", "INDEX|DIR and OUT expected");

  int status = 2;
  auto src = open_source(paths[0], &status);
  if (!src) return status;
  Writer w;
  std::uint64_t total = 0;
  for (const auto& t : src->tensors) {
    total += t.info->byte_size();
    if (auto r = w.declare(t.info->name, t.info->dtype, t.info->shape); !r) {
      err(error_line(paths[0], r.error()));
      return 1;
    }
  }
  if (!set_all_metadata(w, src->metadata, paths[0])) return 1;
  test_stall_point("inputs-open");
  Progress progress("merge", total);
  std::vector<std::byte> buf;
  InputFailure failed;
  auto r = w.write_file(paths[1], [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
    auto t = src->checkpoint.find(info.name);
    SFT_TRY(t);
    return copy_tensor(src->checkpoint, *t, sink, progress, buf, failed);
  });
  progress.finish();
  if (!r) {
    if (failed.report()) return error_status(*failed.error);
    err(error_line(paths[1], r.error()));
    return 1;
  }
  const std::size_t count = src->tensors.size();
  out(printable(paths[1]) + ": " + std::to_string(count) + (count == 1 ? " tensor, " : " tensors, ") +
      std::to_string(total) + " bytes from " + std::to_string(src->checkpoint.shards().size()) +
      (src->checkpoint.shards().size() == 1 ? " shard\n" : " shards\n"));
  return 0;
}

}  // namespace

SFT_COMMAND("merge", "write a sharded checkpoint as one file", kUsage, run_merge);

}  // namespace sft::cli
