// tools/cmd_tune.cpp — `sft tune`: fill the tuning cache ahead of time
// (sft/gpu/tune.hpp, docs/gpu.md). Tunes every kernel (or those named with
// --kernel) for its common dtypes on one device and saves the winners; prints
// one line per kernel and dtype pair. With --ahead, tunes a set of size
// buckets per key and also writes a TuneTable (a compact per-device table to
// ship and load read-only).
// Exit status: 0 tuned and saved, 2 usage error, device error or unwritable cache.
#if defined(SFT_HAVE_GPU)

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "command.hpp"
#include "number_arg.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/tune.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft tune [--backend B] [--device N] [--cache PATH] [--quick] [--kernel NAME]... [--budget SECONDS]\n"
    "         [--strategy automatic|exhaustive|search] [--seed N] [--max-candidates N] [--verbose]\n"
    "         [--ahead --table PATH [--sizes B,B,...]]\n"
    "  --backend B       cpu, opencl, cuda or auto (default: CUDA, then OpenCL, then cpu)\n"
    "  --device N        the backend's device N (default 0)\n"
    "  --cache PATH      the cache file (default $SFT_TUNE_CACHE, else $XDG_CACHE_HOME/sft/tune.json,\n"
    "                    else ~/.cache/sft/tune.json)\n"
    "  --quick           small problems, few repetitions, 2 candidates per key (a smoke test)\n"
    "  --kernel NAME     convert, mxfp4, gemv or checksum (repeatable; default: all four)\n"
    "  --budget SECONDS  wall time for each kernel and dtype pair (default 20, unless --max-candidates)\n"
    "  --strategy S      exhaustive: every candidate; search: seeds, samples, pattern search;\n"
    "                    automatic (default): exhaustive for spaces of at most 64 candidates\n"
    "  --seed N          the search's random seed (default 1527)\n"
    "  --max-candidates N  stop each search after N candidates\n"
    "  --verbose         print every rejected candidate and why\n"
    "  --ahead           tune each key at the size buckets of --sizes (default 12,16,20,24: 2^B elements)\n"
    "                    and write the table of buckets -> configurations to --table PATH\n"
    "exit status: 0 tuned and saved, 2 usage error, device error or unwritable cache or table";

std::optional<gpu::Kernel> kernel_named(std::string_view s) {
  for (int i = 0; i < gpu::kernel_count; ++i)
    if (gpu::kernel_name(static_cast<gpu::Kernel>(i)) == s) return static_cast<gpu::Kernel>(i);
  return std::nullopt;
}

// The keys tuned for `kernels` (all when empty), at `size` (0: the usual sizes).
std::vector<gpu::TuneKey> keys_for(const std::vector<gpu::Kernel>& kernels, std::uint64_t size) {
  const std::uint64_t n = size ? size : 1 << 24;
  const std::vector<gpu::TuneKey> all = {
      gpu::convert_key(DType::F16, DType::F32, n),      gpu::convert_key(DType::BF16, DType::F32, n),
      gpu::convert_key(DType::F32, DType::BF16, n),     gpu::convert_key(DType::F32, DType::F16, n),
      gpu::convert_key(DType::F8_E4M3, DType::BF16, n), gpu::convert_key(DType::F8_E5M2, DType::BF16, n),
      gpu::mxfp4_key(DType::BF16, n),                   gpu::mxfp4_key(DType::F32, n),
      size ? gpu::TuneKey{gpu::Kernel::gemv, DType::BF16, DType::F32, n} : gpu::gemv_key(DType::BF16, 4096, 4096),
      size ? gpu::TuneKey{gpu::Kernel::gemv, DType::F16, DType::F32, n} : gpu::gemv_key(DType::F16, 4096, 4096),
      size ? gpu::TuneKey{gpu::Kernel::gemv, DType::F32, DType::F32, n} : gpu::gemv_key(DType::F32, 4096, 4096),
      gpu::checksum_key(n),
  };
  std::vector<gpu::TuneKey> out;
  for (const auto& k : all)
    if (kernels.empty() || std::find(kernels.begin(), kernels.end(), k.kernel) != kernels.end()) out.push_back(k);
  return out;
}

constexpr double default_budget = 20;

int run_tune(std::span<const std::string_view> args) {
  std::string backend = "auto", cache, table_path;
  unsigned device = 0;
  bool quick = false, ahead = false, verbose = false;
  std::vector<gpu::Kernel> kernels;
  std::vector<unsigned> sizes = {12, 16, 20, 24};
  gpu::TuneOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&]() -> std::string_view { return ++i < args.size() ? args[i] : std::string_view(); };
    if (a == "--backend") {
      backend = std::string(value());
      if (backend.empty()) return usage_error("tune", "--backend needs a value");
    } else if (a == "--device") {
      auto v = number_arg<unsigned>(value());
      if (!v) return usage_error("tune", "--device needs a number");
      device = *v;
    } else if (a == "--cache") {
      cache = std::string(value());
      if (cache.empty()) return usage_error("tune", "--cache needs a path");
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--kernel") {
      std::string_view v = value();
      auto k = kernel_named(v);
      if (!k) return usage_error("tune", "--kernel takes convert, mxfp4, gemv or checksum, not '" + printable(v) + "'");
      kernels.push_back(*k);
    } else if (a == "--budget") {
      std::string v(value());
      char* end = nullptr;
      double s = v.empty() ? -1 : std::strtod(v.c_str(), &end);
      if (v.empty() || !end || *end != '\0' || !(s > 0) || s > 1e6)
        return usage_error("tune", "--budget needs a number of seconds above 0");
      options.budget_seconds = s;
    } else if (a == "--strategy") {
      std::string_view v = value();
      if (v == "automatic") options.strategy = gpu::SearchStrategy::automatic;
      else if (v == "exhaustive") options.strategy = gpu::SearchStrategy::exhaustive;
      else if (v == "search") options.strategy = gpu::SearchStrategy::search;
      else return usage_error("tune", "--strategy takes automatic, exhaustive or search");
    } else if (a == "--seed") {
      auto v = number_arg<std::uint64_t>(value());
      if (!v) return usage_error("tune", "--seed needs a number");
      options.seed = *v;
    } else if (a == "--max-candidates") {
      auto v = number_arg<std::size_t>(value());
      if (!v || *v == 0) return usage_error("tune", "--max-candidates needs a number above 0");
      options.max_candidates = *v;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--ahead") {
      ahead = true;
    } else if (a == "--table") {
      table_path = std::string(value());
      if (table_path.empty()) return usage_error("tune", "--table needs a path");
    } else if (a == "--sizes") {
      std::string_view v = value();
      sizes.clear();
      while (!v.empty()) {
        auto comma = v.find(',');
        auto b = number_arg<unsigned>(v.substr(0, comma));
        if (!b || *b < 1 || *b > 40) return usage_error("tune", "--sizes takes buckets 1..40 separated by commas");
        sizes.push_back(*b);
        v.remove_prefix(comma == std::string_view::npos ? v.size() : comma + 1);
      }
      if (sizes.empty()) return usage_error("tune", "--sizes needs at least one bucket");
    } else {
      return usage_error("tune", "unknown argument '" + printable(a) + "'");
    }
  }
  if (ahead && table_path.empty()) return usage_error("tune", "--ahead needs --table PATH");
  if (!ahead && !table_path.empty()) return usage_error("tune", "--table goes with --ahead");
  auto dev = gpu::open_device(backend, device);
  if (!dev) {
    err("sft tune: " + printable(dev.error().to_string()) + "\n");
    return 2;
  }
  if (quick) {
    options.warmup = 1;
    options.repetitions = 3;
    options.retime_rounds = 1;
    options.max_size = 1 << 16;
    if (options.max_candidates == 0 && options.budget_seconds == 0) options.max_candidates = 2;
  }
  // Without a budget a search over thousands of variants that each take a
  // second to build (PoCL on 2 cores) would run for minutes per key.
  if (options.max_candidates == 0 && options.budget_seconds == 0) options.budget_seconds = default_budget;
  gpu::Tuner tuner = gpu::Tuner::open(cache, options);
  for (const auto& w : tuner.warnings()) err("sft tune: warning: " + printable(w) + "\n");
  if (tuner.path().empty()) {
    err("sft tune: no cache path: give --cache or set SFT_TUNE_CACHE, XDG_CACHE_HOME or HOME\n");
    return 2;
  }

  out("device: " + std::string(gpu::backend_name(dev->backend())) + " device " + std::to_string(dev->info().index) +
      " (" + printable(dev->info().name) + ", driver " + printable(dev->info().driver_version) + "), " +
      (dev->builds_variants() ? "kernel variants built at run time" : "compiled-in kernel variants only") + "\n");
  std::vector<gpu::TuneKey> keys;
  if (ahead) {
    for (unsigned b : sizes)
      for (const auto& k : keys_for(kernels, std::uint64_t{1} << b)) keys.push_back(k);
  } else {
    keys = keys_for(kernels, 0);
  }
  gpu::TuneTable table = gpu::TuneTable::for_device(dev->info());
  for (const gpu::TuneKey& k : keys) {
    auto r = tuner.tune(*dev, k);
    if (!r) {
      err("sft tune: " + std::string(gpu::kernel_name(k.kernel)) + ": " + printable(r.error().to_string()) + "\n");
      return 2;
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-9s %-8s -> %-5s  local %4u, %2u per item, width %u  [%s]  %10.6f s  %s in %.1f s%s  "
                  "(%zu tried, %zu rejected, of %zu in the space)\n",
                  std::string(gpu::kernel_name(k.kernel)).c_str(), std::string(name(k.in)).c_str(),
                  std::string(name(k.out)).c_str(), r->best.local_size, r->best.items_per_thread, r->best.vector_width,
                  gpu::config_string(r->best).c_str(), r->seconds, std::string(gpu::strategy_name(r->strategy)).c_str(),
                  r->wall_seconds, r->budget_exhausted ? " (budget spent)" : "", r->tried, r->rejected, r->space);
    if (ahead) {
      out("bucket " + std::to_string(gpu::size_bucket(k.size)) + "  ");
      table.add(k, r->space_hash, r->best);
    }
    out(line);
    if (verbose)
      for (const auto& rej : r->rejections)
        out("  rejected [" + gpu::config_string(rej.config) + "]: " + printable(rej.why) + "\n");
  }
  if (auto s = tuner.save(); !s) {
    err("sft tune: " + printable(s.error().to_string()) + "\n");
    return 2;
  }
  out("saved " + std::to_string(tuner.entries()) + " entries to " + printable(tuner.path().string()) + "\n");
  if (ahead) {
    if (auto s = table.save(table_path); !s) {
      err("sft tune: " + printable(s.error().to_string()) + "\n");
      return 2;
    }
    out("wrote a table of " + std::to_string(table.size()) + " buckets to " + printable(table_path) + "\n");
  }
  return 0;
}

}  // namespace

SFT_COMMAND("tune", "time kernel launch configurations on a device and cache the fastest", kUsage, run_tune);

}  // namespace sft::cli

#endif  // SFT_HAVE_GPU
