// bench/bench_gpu.cpp — the upload pipeline against memcpy, in the same run.
//
// A file of SFT_BENCH_GPU_MB MiB (default 512) of random bytes is written to
// SFT_BENCH_DIR (default /tmp) and read once so that it sits in the page cache;
// then, per backend that has a device here:
//   memcpy/hot        memcpy of the file's mapping into a buffer already touched
//                     (the machine's copy bandwidth: the upper bound)
//   memcpy/fresh      memcpy into a freshly allocated buffer (what loading the
//                     file into plain host memory costs, page faults included)
//   pinned_write/B    a plain loop of Queue::write from one pinned 64 MiB buffer
//                     into device memory (the host-to-device link: for CUDA, the
//                     pinned cudaMemcpyAsync loop)
//   upload/B/auto     sft::gpu::upload as it chooses: straight into device memory
//                     where that is host memory (cpu, PoCL), staged elsewhere
//   upload/B/staged   sft::gpu::upload through the 4 x 64 MiB pinned ring
// Each upload reports GBps (end to end, device memory allocated inside the
// timed region as for memcpy/fresh) and pipe_GBps (after allocation: reading
// and copying only), and their ratios to the rates measured at start-up in the
// same process (median of 5): vs_memcpy_fresh (end to end), pipe_vs_memcpy_hot
// and, staged, pipe_vs_pinned_write (the pipeline).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "sft/file.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/loader.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::uint64_t g_bytes = 0;
fs::path g_path;
double g_memcpy_hot = 0, g_memcpy_fresh = 0;  // bytes per second
std::map<std::string, double> g_pinned;       // per backend, bytes per second

std::uint64_t env_mb(const char* name, std::uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

// One tensor "blob" of U8 holding all the bytes.
bool write_file() {
  std::string json = "{\"blob\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(g_bytes) + "],\"data_offsets\":[0," +
                     std::to_string(g_bytes) + "]}}";
  while ((json.size() + 8) % 8) json += ' ';
  std::ofstream f(g_path, std::ios::binary | std::ios::trunc);
  std::uint64_t n = json.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>(n >> (8 * i));
  f.write(len, 8);
  f.write(json.data(), static_cast<std::streamsize>(json.size()));
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> chunk(1 << 17);
  for (std::uint64_t done = 0; done < g_bytes; done += chunk.size() * 8) {
    for (auto& w : chunk) w = rng();
    f.write(reinterpret_cast<const char*>(chunk.data()),
            static_cast<std::streamsize>(std::min<std::uint64_t>(chunk.size() * 8, g_bytes - done)));
  }
  return static_cast<bool>(f);
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// memcpy rates, the median of five, measured before the benchmarks run (the
// median: one lucky quiet moment on a shared machine should not set the bar).
void measure_memcpy(const sft::File& f) {
  auto src = f.bytes().value().subspan(f.header().data_start());  // mapped
  std::vector<std::byte> hot(g_bytes);
  std::memcpy(hot.data(), src.data(), g_bytes);  // touch every page once
  std::vector<double> hot_rates, fresh_rates;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    std::memcpy(hot.data(), src.data(), g_bytes);
    benchmark::DoNotOptimize(hot.data());
    hot_rates.push_back(static_cast<double>(g_bytes) / seconds_since(t0));
    t0 = Clock::now();
    auto* fresh = static_cast<std::byte*>(std::malloc(g_bytes));
    std::memcpy(fresh, src.data(), g_bytes);
    benchmark::DoNotOptimize(fresh);
    std::free(fresh);
    fresh_rates.push_back(static_cast<double>(g_bytes) / seconds_since(t0));
  }
  std::sort(hot_rates.begin(), hot_rates.end());
  std::sort(fresh_rates.begin(), fresh_rates.end());
  g_memcpy_hot = hot_rates[2];
  g_memcpy_fresh = fresh_rates[2];
}

void BM_memcpy_hot(benchmark::State& state) {
  auto f = sft::File::open(g_path);
  auto src = f->bytes().value().subspan(f->header().data_start());  // mapped
  std::vector<std::byte> dst(g_bytes);
  std::memcpy(dst.data(), src.data(), g_bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), g_bytes);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
}

void BM_memcpy_fresh(benchmark::State& state) {
  auto f = sft::File::open(g_path);
  auto src = f->bytes().value().subspan(f->header().data_start());  // mapped
  for (auto _ : state) {
    auto* dst = static_cast<std::byte*>(std::malloc(g_bytes));
    std::memcpy(dst, src.data(), g_bytes);
    benchmark::DoNotOptimize(dst);
    std::free(dst);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
}

// A plain loop of pinned writes: the link's bandwidth through the same API.
double pinned_write_rate(const sft::gpu::Device& dev, int reps) {
  const std::uint64_t slot = 64ull << 20;
  auto host = dev.alloc_host(std::min(slot, g_bytes));
  auto buf = dev.alloc(g_bytes);
  auto q = dev.queue();
  if (!host || !buf || !q) return 0;
  std::memset(host->data(), 1, host->size());
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (std::uint64_t done = 0; done < g_bytes; done += host->size())
      (void)q->write(*buf, done, host->data(), std::min<std::uint64_t>(host->size(), g_bytes - done));
    (void)q->finish();
    best = std::max(best, static_cast<double>(g_bytes) / seconds_since(t0));
  }
  return best;
}

void BM_pinned_write(benchmark::State& state, std::string backend) {
  auto dev = sft::gpu::open_device(backend);
  if (!dev) {
    state.SkipWithError(dev.error().to_string().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(pinned_write_rate(*dev, 1));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
}

void BM_upload(benchmark::State& state, std::string backend, sft::gpu::Staging staging) {
  auto dev = sft::gpu::open_device(backend);
  if (!dev) {
    state.SkipWithError(dev.error().to_string().c_str());
    return;
  }
  auto f = sft::File::open(g_path);
  if (!f) {
    state.SkipWithError(f.error().to_string().c_str());
    return;
  }
  sft::gpu::UploadOptions o;
  o.staging = staging;
  std::vector<sft::gpu::HostBuffer> ring;  // kept across iterations: steady state
  o.staging_ring = &ring;
  double read = 0, copy = 0, wall = 0, pipeline = 0;
  for (auto _ : state) {
    auto up = sft::gpu::upload(*dev, *f, {}, o);
    if (!up) {
      state.SkipWithError(up.error().to_string().c_str());
      return;
    }
    read += up->stats.read_seconds;
    copy += up->stats.copy_seconds;
    wall += up->stats.seconds;
    pipeline += up->stats.pipeline_seconds();
  }
  const double rate = static_cast<double>(state.iterations() * g_bytes) / wall;
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * g_bytes));
  state.counters["GBps"] = rate / 1e9;
  const double pipe_rate = static_cast<double>(state.iterations() * g_bytes) / pipeline;
  state.counters["pipe_GBps"] = pipe_rate / 1e9;
  // End to end (device memory allocated inside) against memcpy into fresh
  // memory; the pipeline alone (after allocation) against memcpy into touched
  // memory and, staged, against the plain pinned-write loop.
  state.counters["vs_memcpy_fresh"] = rate / g_memcpy_fresh;
  state.counters["pipe_vs_memcpy_hot"] = pipe_rate / g_memcpy_hot;
  if (staging == sft::gpu::Staging::staged && g_pinned[backend] > 0)
    state.counters["pipe_vs_pinned_write"] = pipe_rate / g_pinned[backend];
  state.counters["read_s"] = read / static_cast<double>(state.iterations());
  state.counters["copy_s"] = copy / static_cast<double>(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  g_bytes = env_mb("SFT_BENCH_GPU_MB", 512) << 20;
  const char* dir = std::getenv("SFT_BENCH_DIR");
  g_path = fs::path(dir && *dir ? dir : "/tmp") / ("sft-bench-gpu-" + std::to_string(::getpid()) + ".safetensors");
  if (!write_file()) {
    std::fprintf(stderr, "bench_gpu: cannot write %s\n", g_path.c_str());
    return 1;
  }
  {
    auto f = sft::File::open(g_path);
    if (!f) {
      std::fprintf(stderr, "bench_gpu: %s\n", f.error().to_string().c_str());
      return 1;
    }
    measure_memcpy(*f);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("file_MiB", std::to_string(g_bytes >> 20));
  benchmark::AddCustomContext("memcpy_hot_GBps", std::to_string(g_memcpy_hot / 1e9));
  benchmark::AddCustomContext("memcpy_fresh_GBps", std::to_string(g_memcpy_fresh / 1e9));
  benchmark::RegisterBenchmark("memcpy/hot", BM_memcpy_hot)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("memcpy/fresh", BM_memcpy_fresh)->Unit(benchmark::kMillisecond)->UseRealTime();
  for (std::string b : {"cpu", "opencl", "cuda"}) {
    auto dev = sft::gpu::open_device(b);
    if (!dev) {
      std::fprintf(stderr, "bench_gpu: %s skipped: %s\n", b.c_str(), dev.error().to_string().c_str());
      continue;
    }
    g_pinned[b] = pinned_write_rate(*dev, 3);  // best of 3: the first run also faults the buffer in
    benchmark::AddCustomContext("pinned_write_" + b + "_GBps", std::to_string(g_pinned[b] / 1e9));
    benchmark::RegisterBenchmark(("pinned_write/" + b).c_str(), BM_pinned_write, b)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("upload/" + b + "/auto").c_str(), BM_upload, b, sft::gpu::Staging::automatic)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
    benchmark::RegisterBenchmark(("upload/" + b + "/staged").c_str(), BM_upload, b, sft::gpu::Staging::staged)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fs::remove(g_path);
  return 0;
}
