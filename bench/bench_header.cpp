// bench/bench_header.cpp — parse_header on the headers performance is judged on.
//
// Each benchmark parses and validates one header held in memory (the 8-byte
// prefix and the JSON; the data is not needed, parse_header only compares
// offsets with the file size). Counters: tensors/s, and the JSON's throughput
// both as bytes_per_second and as "JSON_MB/s" (decimal megabytes).
#include <benchmark/benchmark.h>

#include "sft/header.hpp"
#include "workload.hpp"

namespace {

using sft::bench::Workload;

// Built once, on first use, so that listing or filtering benchmarks stays cheap.
const Workload& small() {
  static const Workload w = sft::bench::small_transformer(false);
  return w;
}
const Workload& moe() {
  static const Workload w = sft::bench::moe_header();
  return w;
}
const Workload& zeros() {
  static const Workload w = sft::bench::zero_size_header();
  return w;
}

void set_counters(benchmark::State& state, const Workload& w) {
  const auto iters = static_cast<double>(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.header_bytes));
  state.counters["tensors"] = static_cast<double>(w.tensor_count);
  state.counters["header_bytes"] = static_cast<double>(w.header_bytes);
  state.counters["tensors/s"] = benchmark::Counter(iters * static_cast<double>(w.tensor_count),
                                                   benchmark::Counter::kIsRate);
  state.counters["JSON_MB/s"] = benchmark::Counter(iters * static_cast<double>(w.header_bytes) / 1e6,
                                                   benchmark::Counter::kIsRate);
}

void BM_ParseHeader(benchmark::State& state, const Workload& (*get)()) {
  const Workload& w = get();
  for (auto _ : state) {
    auto h = sft::parse_header(w.span(), w.file_size());
    if (!h) {
      state.SkipWithError(h.error().to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(h->size());
  }
  set_counters(state, w);
}

// Only the prefix checks: the fixed cost every open pays before the JSON.
void BM_ParseHeaderLength(benchmark::State& state) {
  const Workload& w = moe();
  for (auto _ : state) {
    auto n = sft::parse_header_length(w.span().first(8), w.file_size());
    if (!n) {
      state.SkipWithError(n.error().to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(*n);
  }
}

// Copying a parsed header (names, shapes and the index are rebuilt).
void BM_CopyHeader(benchmark::State& state) {
  const Workload& w = moe();
  auto h = sft::parse_header(w.span(), w.file_size());
  if (!h) {
    state.SkipWithError(h.error().to_string().c_str());
    return;
  }
  for (auto _ : state) {
    sft::Header copy = *h;
    benchmark::DoNotOptimize(copy.size());
  }
  state.counters["tensors/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(w.tensor_count), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_ParseHeader, small_transformer_290, &small)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_ParseHeader, moe_18770, &moe)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParseHeader, zero_size_1M, &zeros)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseHeaderLength);
BENCHMARK(BM_CopyHeader)->Unit(benchmark::kMillisecond);

}  // namespace
