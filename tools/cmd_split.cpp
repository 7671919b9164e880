// tools/cmd_split.cpp — `sft split INPUT OUTDIR --max-shard-size SIZE` (docs/cli.md).
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "header_loader.hpp"
#include "progress.hpp"
#include "sft/checkpoint_writer.hpp"
#include "sft_internal/name_hash.hpp"
#include "sink_chunks.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft split INPUT OUTDIR --max-shard-size SIZE [--prefix NAME]\n"
    "  INPUT: a safetensors file, or a checkpoint (directory or index) to shard anew\n"
    "  SIZE: bytes of tensor data per shard: 123, 500MB, 5GB (powers of 1000), 512MiB, 5GiB (powers of 1024)\n"
    "  --prefix NAME  file names NAME-00001-of-0000n.safetensors (default: model)\n"
    "writes the shards and NAME.safetensors.index.json, or NAME.safetensors alone when one shard suffices;\n"
    "OUTDIR must not already hold NAME files\n"
    "exit status: 0 written, 1 invalid input or a failed write, 2 unreadable input or a usage error";

// True (after printing why) if OUTDIR already holds files this split would mix with.
bool holds_checkpoint_files(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    const bool ours = n == prefix + ".safetensors" || n == index_file_name(prefix) ||
                      (n.rfind(prefix + "-", 0) == 0 && n.size() > 12 && n.compare(n.size() - 12, 12, ".safetensors") == 0);
    if (ours) {
      err("sft split: " + printable(dir) + " already holds " + printable(n) + "; give an empty or new directory\n");
      return true;
    }
  }
  return false;
}

int run_split(std::span<const std::string_view> args) {
  std::vector<std::string> paths;
  std::optional<std::uint64_t> max_size;
  std::string prefix = "model";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--max-shard-size" || a == "--prefix") {
      if (i + 1 == args.size()) return usage_error("split", std::string(a) + " needs a value");
      const auto v = args[++i];
      if (a == "--prefix") {
        prefix = std::string(v);
        if (!shard_prefix_problem(prefix).empty())
          return usage_error("split", "--prefix must be a plain file name: '" + printable(v) + "'");
      } else if (!(max_size = parse_size(v))) {
        return usage_error("split", "--max-shard-size: not a size: '" + printable(v) + "'");
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return usage_error("split", "unknown option '" + printable(a) + "'");
    paths.emplace_back(a);
  }
  if (paths.size() != 2) return usage_error("split", "INPUT and OUTDIR expected");
  if (!max_size) return usage_error("split", "--max-shard-size is required");

  int status = 2;
  auto src = open_source(paths[0], &status);
  if (!src) return status;
  CheckpointWriteOptions options;
  options.metadata = src->metadata;
  if (holds_checkpoint_files(paths[1], prefix)) return 1;

  std::vector<TensorInfo> infos;
  std::unordered_map<std::string_view, const CheckpointTensor*, NameHash> by_name;
  std::uint64_t total = 0;
  for (const auto& t : src->tensors) {
    infos.push_back(*t.info);
    by_name.emplace(t.info->name, &t);
    total += t.info->byte_size();
  }
  test_stall_point("inputs-open");
  Progress progress("split", total);
  options.sharding.max_shard_size = *max_size;
  options.sharding.prefix = prefix;
  std::vector<std::byte> buf;
  InputFailure failed;
  // The input is read (pread), not mapped: one that shrinks meanwhile is an
  // input error naming it, exit 2, not a failed write of OUTDIR.
  auto plan = write_checkpoint(
      infos,
      [&](const TensorInfo& info, TensorSink& sink) -> Result<void> {
        return copy_tensor(src->checkpoint, *by_name.at(info.name), sink, progress, buf, failed);
      },
      paths[1], options);
  progress.finish();
  if (!plan) {
    if (failed.report()) return error_status(*failed.error);
    err(error_line(paths[1], plan.error()));
    return 1;
  }
  std::string report;
  const std::filesystem::path dir(paths[1]);
  for (const auto& s : plan->shards)
    report += printable((dir / s.file_name).string()) + ": " + std::to_string(s.tensors.size()) +
              (s.tensors.size() == 1 ? " tensor, " : " tensors, ") + std::to_string(s.bytes) + " bytes\n";
  if (plan->sharded())
    report += printable((dir / index_file_name(prefix)).string()) + ": " + std::to_string(infos.size()) +
              " tensors in " + std::to_string(plan->shards.size()) + " shards, total_size " +
              std::to_string(plan->total_size) + "\n";
  out(report);
  return 0;
}

}  // namespace

SFT_COMMAND("split", "write a checkpoint as shards of a maximum size, with an index", kUsage, run_split);

}  // namespace sft::cli
