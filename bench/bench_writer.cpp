// bench/bench_writer.cpp — Google Benchmark suite of sft::Writer.
//
// Planning (header JSON + layout) for many tensors, serialization to memory,
// whole-file writes with and without fsync, streaming writes in chunks, and a
// plain write() of the same bytes as the baseline, all on one machine in one
// run. Files go to $SFT_BENCH_TMP or the system temp directory.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "sft/writer.hpp"

namespace {

std::filesystem::path bench_dir() {
  const char* env = std::getenv("SFT_BENCH_TMP");
  auto dir = std::filesystem::path(env ? env : std::filesystem::temp_directory_path().string()) / "sft-bench-writer";
  std::filesystem::create_directories(dir);
  return dir;
}

// `count` tensors of `each` bytes (as U8), backed by one buffer.
struct Set {
  std::vector<std::byte> buffer;
  std::vector<std::string> names;
  std::uint64_t each = 0;
  Set(std::size_t count, std::uint64_t each_bytes) : buffer(count * each_bytes), each(each_bytes) {
    for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<std::byte>(i * 131);
    for (std::size_t i = 0; i < count; ++i) names.push_back("model.layers." + std::to_string(i) + ".mlp.weight");
  }
  sft::Writer writer(bool durable = false) const {
    sft::WriterOptions o;
    o.durable = durable;
    sft::Writer w(o);
    for (std::size_t i = 0; i < names.size(); ++i)
      (void)w.add(names[i], sft::DType::U8, {each}, std::span<const std::byte>(buffer).subspan(i * each, each));
    return w;
  }
};

void BM_Plan(benchmark::State& state) {
  Set s(static_cast<std::size_t>(state.range(0)), 16);
  auto w = s.writer();
  for (auto _ : state) {
    auto p = w.plan();
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Plan)->Arg(1000)->Arg(100000);

void BM_Serialize(benchmark::State& state) {
  Set s(256, 256 << 10);  // 64 MiB
  auto w = s.writer();
  for (auto _ : state) {
    auto r = w.serialize();
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.buffer.size()));
}
BENCHMARK(BM_Serialize)->Unit(benchmark::kMillisecond);

void BM_WriteFile(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  Set s(256, 1 << 20);  // 256 MiB
  auto w = s.writer(durable);
  auto path = bench_dir() / "write_file.safetensors";
  for (auto _ : state)
    if (auto r = w.write_file(path); !r) state.SkipWithError(r.error().to_string().c_str());
  std::filesystem::remove(path);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.buffer.size()));
}
BENCHMARK(BM_WriteFile)->ArgName("durable")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PlainWrite(benchmark::State& state) {
  const bool durable = state.range(0) != 0;
  Set s(256, 1 << 20);
  auto bytes = s.writer().serialize();
  auto path = bench_dir() / "plain.bin";
  for (auto _ : state) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::size_t off = 0;
    while (off < bytes->size()) {
      auto n = ::write(fd, bytes->data() + off, bytes->size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    if (durable) ::fsync(fd);
    ::close(fd);
  }
  std::filesystem::remove(path);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.buffer.size()));
}
BENCHMARK(BM_PlainWrite)->ArgName("durable")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_StreamChunks(benchmark::State& state) {
  const std::size_t chunk = static_cast<std::size_t>(state.range(0)) << 10;
  Set s(64, 4 << 20);  // 256 MiB, declared
  sft::WriterOptions o;
  o.durable = false;
  sft::Writer w(o);
  for (const auto& n : s.names) (void)w.declare(n, sft::DType::U8, {s.each});
  auto path = bench_dir() / "stream.safetensors";
  for (auto _ : state) {
    auto sw = w.begin_file(path);
    if (!sw) {
      state.SkipWithError(sw.error().to_string().c_str());
      break;
    }
    for (std::size_t i = 0; i < s.names.size(); ++i)
      for (std::uint64_t off = 0; off < s.each; off += chunk)
        (void)sw->write_at(i, off, std::span<const std::byte>(s.buffer).subspan(i * s.each + off, chunk));
    if (auto r = sw->commit(); !r) state.SkipWithError(r.error().to_string().c_str());
  }
  std::filesystem::remove(path);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * s.buffer.size()));
}
BENCHMARK(BM_StreamChunks)->ArgName("chunk_kib")->Arg(64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
