// tools/cmd_reshard.cpp — `sft reshard CHECKPOINT OUTDIR --plan PLAN --world N` (docs/cli.md).
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "dist_cli.hpp"
#include "header_loader.hpp"
#include "number_arg.hpp"
#include "sft/distributed.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft reshard CHECKPOINT OUTDIR --plan PLAN.json --world N\n"
    "  writes OUTDIR/rank-0000r-of-0000N.safetensors for every rank r: the tensors the plan gives\n"
    "  that rank, under their own names, with their local shapes (docs/distributed.md)\n"
    "  OUTDIR must not already hold rank files\n"
    "exit status: 0 written, 1 invalid plan or input, or a failed write, 2 unreadable input or a usage error";

int run_reshard(std::span<const std::string_view> args) {
  std::vector<std::string> paths;
  std::string plan_path;
  std::optional<std::uint32_t> world;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--plan" || a == "--world") {
      if (i + 1 == args.size()) return usage_error("reshard", std::string(a) + " needs a value");
      const auto v = args[++i];
      if (a == "--plan") {
        plan_path = std::string(v);
      } else if (!(world = number_arg<std::uint32_t>(v)) || *world == 0) {
        return usage_error("reshard", "--world: not a positive number: '" + printable(v) + "'");
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return usage_error("reshard", "unknown option '" + printable(a) + "'");
    paths.emplace_back(a);
  }
  if (paths.size() != 2) return usage_error("reshard", "CHECKPOINT and OUTDIR expected");
  if (plan_path.empty()) return usage_error("reshard", "--plan is required");
  if (!world) return usage_error("reshard", "--world is required");

  auto plan = TensorParallelPlan::read(plan_path);
  if (!plan) {
    err(error_line(plan_path, plan.error()));
    return error_status(plan.error());
  }
  int status = 2;
  auto checkpoint = open_checkpoint_or_report(paths[0], &status);
  if (!checkpoint) return status;
  if (auto problem = rank_files_problem(paths[1])) {
    err("sft reshard: " + *problem + "\n");
    return 1;
  }
  auto files = reshard(*checkpoint, *plan, *world, paths[1]);
  if (!files) {
    err(error_line(error_file(files.error(), plan_path, paths[0]), files.error()));
    return error_status(files.error());
  }
  std::string report;
  for (const auto& f : *files)
    report += printable(f.path.string()) + ": " + std::to_string(f.tensors) + (f.tensors == 1 ? " tensor, " : " tensors, ") +
              std::to_string(f.bytes) + " bytes\n";
  out(report);
  return 0;
}

}  // namespace

SFT_COMMAND("reshard", "write the file of every rank of a tensor-parallel group (offline)", kUsage, run_reshard);

}  // namespace sft::cli
