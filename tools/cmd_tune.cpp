// tools/cmd_tune.cpp — `sft tune`: fill the tuning cache ahead of time
// (sft/gpu/tune.hpp, docs/gpu.md). Tunes every kernel for its common dtypes on
// one device and saves the winners; prints one line per kernel and dtype pair.
// Exit status: 0 tuned and saved, 2 usage error, device error or unwritable cache.
#if defined(SFT_HAVE_GPU)

#include <charconv>
#include <cstdio>
#include <string>
#include <vector>

#include "command.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/tune.hpp"

namespace sft::cli {
namespace {

constexpr std::string_view kUsage =
    "sft tune [--backend B] [--device N] [--cache PATH] [--quick]\n"
    "  --backend B   cpu, opencl, cuda or auto (default: CUDA, then OpenCL, then cpu)\n"
    "  --device N    the backend's device N (default 0)\n"
    "  --cache PATH  the cache file (default $SFT_TUNE_CACHE, else $XDG_CACHE_HOME/sft/tune.json,\n"
    "                else ~/.cache/sft/tune.json)\n"
    "  --quick       small problems and few repetitions (seconds, for a smoke test)\n"
    "exit status: 0 tuned and saved, 2 usage error, device error or unwritable cache";

int run_tune(std::span<const std::string_view> args) {
  std::string backend = "auto", cache;
  unsigned device = 0;
  bool quick = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&]() -> std::string_view { return ++i < args.size() ? args[i] : std::string_view(); };
    if (a == "--backend") {
      backend = std::string(value());
      if (backend.empty()) return usage_error("tune", "--backend needs a value");
    } else if (a == "--device") {
      std::string_view v = value();
      auto r = std::from_chars(v.data(), v.data() + v.size(), device);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) return usage_error("tune", "--device needs a number");
    } else if (a == "--cache") {
      cache = std::string(value());
      if (cache.empty()) return usage_error("tune", "--cache needs a path");
    } else if (a == "--quick") {
      quick = true;
    } else {
      return usage_error("tune", "unknown argument '" + printable(a) + "'");
    }
  }
  auto dev = gpu::open_device(backend, device);
  if (!dev) {
    err("sft tune: " + printable(dev.error().to_string()) + "\n");
    return 2;
  }
  gpu::TuneOptions options;
  if (quick) {
    options.warmup = 1;
    options.repetitions = 3;
    options.max_size = 1 << 16;
  }
  gpu::Tuner tuner = gpu::Tuner::open(cache, options);
  for (const auto& w : tuner.warnings()) err("sft tune: warning: " + printable(w) + "\n");
  if (tuner.path().empty()) {
    err("sft tune: no cache path: give --cache or set SFT_TUNE_CACHE, XDG_CACHE_HOME or HOME\n");
    return 2;
  }

  const std::uint64_t n = 1 << 24;
  using gpu::TuneKey;
  const std::vector<TuneKey> keys = {
      gpu::convert_key(DType::F16, DType::F32, n),     gpu::convert_key(DType::BF16, DType::F32, n),
      gpu::convert_key(DType::F32, DType::BF16, n),    gpu::convert_key(DType::F32, DType::F16, n),
      gpu::convert_key(DType::F8_E4M3, DType::BF16, n), gpu::convert_key(DType::F8_E5M2, DType::BF16, n),
      gpu::mxfp4_key(DType::BF16, n),                  gpu::mxfp4_key(DType::F32, n),
      gpu::gemv_key(DType::BF16, 4096, 4096),          gpu::gemv_key(DType::F16, 4096, 4096),
      gpu::gemv_key(DType::F32, 4096, 4096),           gpu::checksum_key(n),
  };
  out("device: " + std::string(gpu::backend_name(dev->backend())) + " device " + std::to_string(dev->info().index) +
      " (" + printable(dev->info().name) + ", driver " + printable(dev->info().driver_version) + ")\n");
  for (const TuneKey& k : keys) {
    auto r = tuner.tune(*dev, k);
    if (!r) {
      err("sft tune: " + std::string(gpu::kernel_name(k.kernel)) + ": " + printable(r.error().to_string()) + "\n");
      return 2;
    }
    char line[256];
    std::snprintf(line, sizeof line, "%-9s %-8s -> %-5s  local %4u, %2u per item, width %u   %10.6f s  (%zu tried, %zu rejected)\n",
                  std::string(gpu::kernel_name(k.kernel)).c_str(), std::string(name(k.in)).c_str(),
                  std::string(name(k.out)).c_str(), r->best.local_size, r->best.items_per_thread, r->best.vector_width,
                  r->seconds, r->tried, r->rejected);
    out(line);
  }
  if (auto s = tuner.save(); !s) {
    err("sft tune: " + printable(s.error().to_string()) + "\n");
    return 2;
  }
  out("saved " + std::to_string(tuner.entries()) + " entries to " + printable(tuner.path().string()) + "\n");
  return 0;
}

}  // namespace

SFT_COMMAND("tune", "time kernel launch configurations on a device and cache the fastest", kUsage, run_tune);

}  // namespace sft::cli

#endif  // SFT_HAVE_GPU
