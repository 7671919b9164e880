// tools/cmd_load.cpp — `mpirun -np N sft load --plan PLAN CHECKPOINT --out OUTDIR` (docs/cli.md).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint_cli.hpp"
#include "command.hpp"
#include "dist_cli.hpp"
#include "header_loader.hpp"
#include "number_arg.hpp"
#include "sft/distributed.hpp"
#ifdef SFT_HAVE_MPI
#include "sft/dist_mpi.hpp"
#endif
#ifdef SFT_HAVE_NCCL
#include "sft/dist_nccl.hpp"
#endif

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft load --plan PLAN.json CHECKPOINT [--out OUTDIR] [--stats] [--engine mpi|nccl|local]\n"
    "         [--split auto|direct|redistribute] [--replicated auto|every-rank|per-node|per-world]\n"
    "         [--threads N] [--timeout SECONDS]\n"
    "  run as every rank of a group (mpirun -np N sft load ...): each rank reads its share of\n"
    "  CHECKPOINT as the plan says and, with --out, writes OUTDIR/rank-0000r-of-0000N.safetensors,\n"
    "  the same bytes as `sft reshard` writes; --stats prints one JSON line per rank\n"
    "  engines: mpi (the default when built with MPI), nccl (over MPI, one GPU per rank), local (one rank)\n"
    "exit status: 0 loaded, 1 invalid plan or input, or a failed rank or write, 2 unreadable input or a usage error";

template <class E>
bool parse_choice(std::string_view v, std::initializer_list<std::pair<std::string_view, E>> choices, E* out) {
  for (const auto& [name, value] : choices)
    if (v == name) {
      *out = value;
      return true;
    }
  return false;
}

std::string rank_prefix(const DistEngine& e) {
  return "rank " + std::to_string(e.rank()) + " of " + std::to_string(e.world()) + ": ";
}

// Engine failures may leave peers inside a collective: end every rank.
[[noreturn]] void abort_group(const DistEngine& e, const Error& error) {
  err("sft load: " + rank_prefix(e) + printable(error.to_string()) + "; aborting every rank\n");
  std::fflush(stderr);
#ifdef SFT_HAVE_MPI
  mpi_abort(3);
#else
  std::_Exit(3);
#endif
}

bool engine_failure(const Error& e) { return e.code == Errc::dist_timeout || e.code == Errc::dist_engine; }

int run_load(std::span<const std::string_view> args) {
  std::vector<std::string> paths;
  std::string plan_path, out_dir;
  bool stats = false;
#ifdef SFT_HAVE_MPI
  std::string engine_name = "mpi";
#else
  std::string engine_name = "local";
#endif
  LoadOptions options;
  double timeout_s = 600;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto a = args[i];
    if (a == "--stats") {
      stats = true;
      continue;
    }
    if (a == "--plan" || a == "--out" || a == "--engine" || a == "--split" || a == "--replicated" || a == "--threads" ||
        a == "--timeout") {
      if (i + 1 == args.size()) return usage_error("load", std::string(a) + " needs a value");
      const auto v = args[++i];
      if (a == "--plan") {
        plan_path = std::string(v);
      } else if (a == "--out") {
        out_dir = std::string(v);
      } else if (a == "--engine") {
        engine_name = std::string(v);
        if (v != "mpi" && v != "nccl" && v != "local") return usage_error("load", "--engine: mpi, nccl or local");
      } else if (a == "--split") {
        if (!parse_choice<SplitStrategy>(v, {{"auto", SplitStrategy::automatic}, {"direct", SplitStrategy::direct},
                                             {"redistribute", SplitStrategy::redistribute}},
                                         &options.split))
          return usage_error("load", "--split: auto, direct or redistribute");
      } else if (a == "--replicated") {
        if (!parse_choice<ReplicaStrategy>(v, {{"auto", ReplicaStrategy::automatic},
                                               {"every-rank", ReplicaStrategy::every_rank},
                                               {"per-node", ReplicaStrategy::per_node},
                                               {"per-world", ReplicaStrategy::per_world}},
                                           &options.replicated))
          return usage_error("load", "--replicated: auto, every-rank, per-node or per-world");
      } else if (a == "--threads") {
        auto n = number_arg<unsigned>(v);
        if (!n) return usage_error("load", "--threads: not a number: '" + printable(v) + "'");
        options.read_threads = *n;
      } else {
        auto t = number_arg<unsigned>(v);
        if (!t || *t == 0) return usage_error("load", "--timeout: a positive number of seconds");
        timeout_s = *t;
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') return usage_error("load", "unknown option '" + printable(a) + "'");
    paths.emplace_back(a);
  }
  if (paths.size() != 1) return usage_error("load", "one CHECKPOINT expected");
  if (plan_path.empty()) return usage_error("load", "--plan is required");

  // The engine (and the MPI engine that bootstraps NCCL, destroyed last).
  // Without MPI, refuse to run as N copies of rank 0.
  std::unique_ptr<DistEngine> bootstrap, engine;
  if (engine_name == "local") {
    if (unsigned n = launcher_world_size(); n > 1) {
      err("sft load: " + std::to_string(n) + " ranks were launched, but the local engine is a group of one" +
#ifdef SFT_HAVE_MPI
          std::string(" (use --engine mpi)\n"));
#else
          std::string(" (this sft was built without MPI)\n"));
#endif
      return 2;
    }
    engine = make_local_engine();
  } else {
#ifdef SFT_HAVE_MPI
    auto mpi = make_mpi_engine({.timeout_s = timeout_s});
    if (!mpi) {
      err("sft load: " + printable(mpi.error().to_string()) + "\n");
      return 2;
    }
    engine = std::move(*mpi);
    if (engine_name == "nccl") {
#ifdef SFT_HAVE_NCCL
      auto nccl = make_nccl_engine(*engine, {.device = -1, .timeout_s = timeout_s});
      if (!nccl) {
        if (engine_failure(nccl.error()) && nccl.error().code == Errc::dist_timeout) abort_group(*engine, nccl.error());
        err("sft load: " + rank_prefix(*engine) + printable(nccl.error().to_string()) + "\n");
        return 2;
      }
      bootstrap = std::move(engine);
      engine = std::move(*nccl);
#else
      err("sft load: this sft was built without NCCL\n");
      return 2;
#endif
    }
#else
    err("sft load: this sft was built without MPI; --engine local loads as a group of one\n");
    return 2;
#endif
  }
  if (!engine) {
    err("sft load: no memory for the engine\n");
    return 2;
  }

  // Set-up that can fail on some ranks only: every rank learns of it.
  Result<TensorParallelPlan> plan = TensorParallelPlan::read(plan_path);
  Result<void> ready = plan.transform([](const TensorParallelPlan&) {});
  if (ready && !out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) ready = Error(Errc::write_failed, "cannot create " + out_dir + ": " + ec.message());
    // Only rank 0 looks for an earlier set: the other ranks' files may already be new.
    else if (auto problem = engine->rank() == 0 ? rank_files_problem(out_dir) : std::nullopt)
      ready = Error(Errc::invalid_argument, *problem);
  }
  if (auto agreed = agree(*engine, ready); !agreed) {
    if (engine_failure(agreed.error())) abort_group(*engine, agreed.error());
    err(rank_prefix(*engine) + error_line(plan ? out_dir : plan_path, agreed.error()));
    return error_status(agreed.error());
  }

  auto shard = load_shard(paths[0], *plan, *engine, options);
  if (!shard) {
    if (engine_failure(shard.error())) abort_group(*engine, shard.error());
    err(rank_prefix(*engine) + error_line(error_file(shard.error(), plan_path, paths[0]), shard.error()));
    return error_status(shard.error());
  }

  std::string report;
  if (!out_dir.empty()) {
    auto written = shard->write(out_dir);
    // Every rank's file, or none: a rank whose write failed makes the others remove theirs.
    auto agreed = agree(*engine, written.transform([](const std::filesystem::path&) {}));
    if (!agreed) {
      if (engine_failure(agreed.error())) abort_group(*engine, agreed.error());
      std::error_code ec;
      if (written) std::filesystem::remove(*written, ec);
      err(rank_prefix(*engine) + error_line(out_dir, agreed.error()));
      return 1;
    }
    report += printable(written->string()) + ": " + std::to_string(shard->stats().tensors) +
              (shard->stats().tensors == 1 ? " tensor, " : " tensors, ") + std::to_string(shard->stats().bytes_held) +
              " bytes\n";
  }
  if (stats) report += shard->stats().to_json() + "\n";
  out(report);
  std::fflush(stdout);
  return 0;
}

}  // namespace

SFT_COMMAND("load", "load a rank's share of a checkpoint under a tensor-parallel plan (run under mpirun)", kUsage,
            run_load);

}  // namespace sft::cli
