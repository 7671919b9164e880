// bench/bench_digest.cpp — XXH3-128 against memcpy of the same bytes, in the same run.
//
// The bar: hashing runs at >= 80% of a memcpy of the same bytes. Both
// are timed on the same buffer at four sizes: in L2 (256 KiB), in L3 (4 MiB),
// and from memory (64 and 256 MiB); the memcpy destination is touched before
// timing so that page faults do not count. bytes_per_second is the figure to
// compare: Xxh3/N against Memcpy/N. The File-level benchmarks hash a 256 MiB
// checkpoint in memory: hash_all (file + every tensor: one fused pass on 1
// thread, file and tensors side by side on 4) and hash_tensors on 1 and 4
// threads, against MemcpyCheckpoint of the same bytes.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "../tests/support/synthetic_file.hpp"
#include "sft/digest.hpp"
#include "sft/file.hpp"

namespace {

std::vector<std::byte> source(std::size_t n) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 2654435761u) >> 13);
  return v;
}

void Memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = source(n);
  std::vector<std::byte> dst(n, std::byte{1});
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

void Xxh3(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = source(n);
  for (auto _ : state) {
    auto d = sft::xxh3_128(src);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

void Xxh3Streaming1MiB(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto src = source(n);
  for (auto _ : state) {
    sft::Xxh3Hasher h;
    for (std::size_t p = 0; p < n; p += std::size_t{1} << 20)
      h.update(std::span(src).subspan(p, std::min(n - p, std::size_t{1} << 20)));
    auto d = h.digest();
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}

#define SIZES ->Arg(256 << 10)->Arg(4 << 20)->Arg(64 << 20)->Arg(256 << 20)
BENCHMARK(Memcpy) SIZES;
BENCHMARK(Xxh3) SIZES;
BENCHMARK(Xxh3Streaming1MiB)->Arg(64 << 20)->Arg(256 << 20);

// A 256 MiB checkpoint of U8 matrices of 2 to 10 MiB (the dtype does not matter to a hash).
const std::vector<std::byte>& checkpoint() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<sft::test::SyntheticTensor> ts;
    std::uint64_t total = 0;
    for (int i = 0; total < (std::uint64_t{256} << 20); ++i) {
      const std::uint64_t rows = 512 + 512 * static_cast<std::uint64_t>(i % 5);
      std::string name = "layers.";
      name += std::to_string(i);
      ts.push_back({name, sft::DType::U8, {rows, 4096}});
      total += rows * 4096;
    }
    return sft::test::synthetic_file(ts);
  }();
  return bytes;
}

void HashAll(benchmark::State& state) {
  auto f = sft::File::from_memory(checkpoint());
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto d = sft::hash_all(*f, {.threads = threads});
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(f->size()));
}

void HashTensors(benchmark::State& state) {
  auto f = sft::File::from_memory(checkpoint());
  const auto threads = static_cast<unsigned>(state.range(0));
  for (auto _ : state) {
    auto d = sft::hash_tensors(*f, {.threads = threads});
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(f->size()));
}

void MemcpyCheckpoint(benchmark::State& state) {
  const auto& src = checkpoint();
  std::vector<std::byte> dst(src.size(), std::byte{1});
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(src.size()));
}

BENCHMARK(MemcpyCheckpoint)->UseRealTime();
BENCHMARK(HashAll)->Arg(1)->Arg(4)->UseRealTime();
BENCHMARK(HashTensors)->Arg(1)->Arg(4)->UseRealTime();

}  // namespace
