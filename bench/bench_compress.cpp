// bench/bench_compress.cpp — compressed checkpoints: ratio and speed by level.
//
// Workloads: a synthetic BF16 checkpoint with the statistics of trained
// weights (normal(0, 0.02) rounded to bfloat16, 16 MiB), and every real file
// of ../shared/fixtures/real (F32, I64 and friends written by other projects;
// SFT_FIXTURES_DIR overrides the location). For each zstd level, with and
// without byte planes:
//   Compress/...    bytes_per_second = original bytes compressed per second,
//                   on one thread (threads=1) or all (threads=0);
//                   ratio = compressed size / original size
//   Decompress/...  bytes_per_second = original bytes restored per second by a
//                   whole-file read through CompressedReader (frames in parallel
//                   when threads=0)
//   ReadOneTensor   one 2 MiB tensor out of a 64 MiB compressed checkpoint:
//                   only its frames are decoded
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../tests/support/synthetic_file.hpp"
#include "sft/compressed.hpp"
#include "sft/file.hpp"

namespace {

namespace fs = std::filesystem;

const std::vector<std::byte>& bf16_checkpoint() {
  static const std::vector<std::byte> bytes = [] {
    std::vector<sft::test::SyntheticTensor> ts;
    for (int i = 0; i < 8; ++i) {
      std::string name = "model.layers.";
      name += std::to_string(i);
      ts.push_back({name, sft::DType::BF16, {1024, 1024}});
    }
    return sft::test::synthetic_file(ts);
  }();
  return bytes;
}

std::vector<std::vector<std::byte>> load_fixtures() {
  std::vector<std::vector<std::byte>> out;
  const char* env = std::getenv("SFT_FIXTURES_DIR");
  // The checkout's sibling ../shared/fixtures, found from this source file.
  fs::path dir = env ? fs::path(env) : fs::path(__FILE__).parent_path() / "../../shared/fixtures";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "real", ec)) {
    if (e.path().extension() != ".safetensors") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::byte> b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    if (sft::File::from_memory(b)) out.push_back(std::move(b));
  }
  return out;
}

const std::vector<std::vector<std::byte>>& fixtures() {
  static const auto f = load_fixtures();
  return f;
}

sft::CompressOptions options(benchmark::State& state) {
  sft::CompressOptions o;
  o.level = static_cast<int>(state.range(0));
  o.byte_planes = state.range(1) != 0;
  o.threads = static_cast<unsigned>(state.range(2));
  return o;
}

void compress_set(benchmark::State& state, const std::vector<const std::vector<std::byte>*>& files) {
  const auto o = options(state);
  std::uint64_t in = 0, out = 0;
  for (auto _ : state) {
    in = out = 0;
    for (const auto* bytes : files) {
      auto f = sft::File::from_memory(*bytes);
      auto z = sft::compress(*f, o);
      if (!z) {
        state.SkipWithError(z.error().to_string().c_str());
        return;
      }
      in += bytes->size();
      out += z->size();
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in));
  state.counters["ratio"] = static_cast<double>(out) / static_cast<double>(in);
}

void CompressBf16(benchmark::State& state) { compress_set(state, {&bf16_checkpoint()}); }

void CompressFixtures(benchmark::State& state) {
  std::vector<const std::vector<std::byte>*> files;
  for (const auto& f : fixtures()) files.push_back(&f);
  if (files.empty()) {
    state.SkipWithError("no fixtures (set SFT_FIXTURES_DIR)");
    return;
  }
  compress_set(state, files);
}

void DecompressBf16(benchmark::State& state) {
  auto f = sft::File::from_memory(bf16_checkpoint());
  auto o = options(state);
  o.threads = 0;
  auto z = sft::compress(*f, o);
  auto r = sft::CompressedReader::from_memory(*z);
  r->set_threads(static_cast<unsigned>(state.range(2)));
  std::vector<std::byte> out(static_cast<std::size_t>(r->size()));
  for (auto _ : state) {
    auto s = r->read(0, out);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}

// Args: level, byte planes, threads (0 = all).
void Levels(benchmark::internal::Benchmark* b) {
  for (int level : {1, 3, 9, 19})
    for (int planes : {0, 1}) b->Args({level, planes, 1});
  b->Args({3, 0, 0})->Args({3, 1, 0});
}

BENCHMARK(CompressBf16)->Apply(Levels)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(CompressFixtures)->Apply(Levels)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);
BENCHMARK(DecompressBf16)
    ->Args({3, 0, 1})->Args({3, 1, 1})->Args({3, 0, 0})->Args({19, 0, 1})->Args({19, 1, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

void ReadOneTensor(benchmark::State& state) {
  static const std::vector<std::byte> big = [] {
    std::vector<sft::test::SyntheticTensor> ts;
    for (int i = 0; i < 32; ++i) {
      std::string name = "w";
      name += std::to_string(i);
      ts.push_back({name, sft::DType::BF16, {1024, 1024}});
    }
    return sft::test::synthetic_file(ts);
  }();
  auto f = sft::File::from_memory(big);
  static const auto z = sft::compress(*f, {});
  std::vector<std::byte> out(std::size_t{2} << 20);
  std::uint64_t decoded = 0, frames = 0;
  for (auto _ : state) {
    // A fresh reader each time (seek table + header: microseconds), so the
    // frame cache cannot serve the tensor.
    auto r = sft::CompressedReader::from_memory(*z);
    const std::uint64_t before = r->frames_decompressed();
    const sft::TensorInfo* t = r->header().find("w17");
    auto s = r->read(r->header().data_start() + t->data_offsets.begin, out);
    benchmark::DoNotOptimize(s);
    decoded += r->frames_decompressed() - before;
    frames = r->frames().size();
  }
  state.counters["frames_per_read"] = static_cast<double>(decoded) / static_cast<double>(state.iterations());
  state.counters["frames_in_file"] = static_cast<double>(frames);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(ReadOneTensor)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
