// bench/bench_read.cpp — reading: open, lookup, iteration, typed access, slicing, copy-out.
//
// Workloads are written once to a scratch directory ($SFT_BENCH_TMP or the
// system temp dir) and removed at exit: the small transformer (290 tensors,
// 33 MB, real data) and the 18,770-tensor mixture-of-experts checkpoint (its
// 153 MB of data left as a hole, so only the header costs disk). Files are in
// the page cache after the first iteration: these are warm-cache figures; the
// cold read is bench/compare.py's business.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <vector>

#include "checksum.hpp"
#include "sft/file.hpp"
#include "sft/slice.hpp"
#include "workload.hpp"

namespace {

namespace fs = std::filesystem;
using sft::bench::Workload;

struct Files {
  fs::path dir = sft::bench::scratch_dir();
  Workload small = sft::bench::small_transformer(true);
  Workload moe = sft::bench::moe_header();
  fs::path small_path = dir / "small.safetensors";
  fs::path moe_path = dir / "moe.safetensors";

  Files() {
    sft::bench::write_workload(small_path, small);
    sft::bench::write_workload(moe_path, moe);
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  Files(const Files&) = delete;
  Files& operator=(const Files&) = delete;
};

const Files& files() {
  static const Files f;
  return f;
}

const fs::path& small_path() { return files().small_path; }
const fs::path& moe_path() { return files().moe_path; }

// Opens the small transformer for the benchmarks that work on an open file.
sft::Result<sft::File> open_small(sft::ReadMode mode = sft::ReadMode::mmap) {
  sft::OpenOptions o;
  o.mode = mode;
  return sft::File::open(small_path(), o);
}

bool skip_on_error(benchmark::State& state, const sft::Error& e) {
  state.SkipWithError(e.to_string().c_str());
  return false;
}

void items_counter(benchmark::State& state, std::size_t per_iteration) {
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(per_iteration));
}

// ---- open ---------------------------------------------------------------------

// File::open + close: open, fstat, mmap, parse + validate + index, munmap.
void BM_Open(benchmark::State& state, const fs::path& (*path)(), sft::ReadMode mode) {
  sft::OpenOptions o;
  o.mode = mode;
  const fs::path& p = path();
  std::size_t tensors = 0;
  for (auto _ : state) {
    auto f = sft::File::open(p, o);
    if (!f) return void(skip_on_error(state, f.error()));
    tensors = f->header().size();
    benchmark::DoNotOptimize(tensors);
  }
  items_counter(state, tensors);
}
BENCHMARK_CAPTURE(BM_Open, small_mmap, &small_path, sft::ReadMode::mmap)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Open, small_pread, &small_path, sft::ReadMode::pread)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Open, moe_mmap, &moe_path, sft::ReadMode::mmap)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Open, moe_pread, &moe_path, sft::ReadMode::pread)->Unit(benchmark::kMillisecond);

// File::from_memory on bytes already in memory: parsing without any system call.
void BM_FromMemory(benchmark::State& state) {
  const Workload& w = files().small;
  for (auto _ : state) {
    auto f = sft::File::from_memory(w.span());
    if (!f) return void(skip_on_error(state, f.error()));
    benchmark::DoNotOptimize(f->header().size());
  }
  items_counter(state, w.tensor_count);
}
BENCHMARK(BM_FromMemory)->Unit(benchmark::kMicrosecond);

// ---- lookup -------------------------------------------------------------------------

// Every name of the MoE header once per iteration, in a shuffled order so the
// hash table is not walked in insertion order.
std::vector<std::string> shuffled_names(const Workload& w) {
  std::vector<std::string> names = w.names;
  std::mt19937_64 rng(42);
  std::shuffle(names.begin(), names.end(), rng);
  return names;
}

// Header::find on every name, or on every name with a suffix that makes it absent.
void BM_LookupFind(benchmark::State& state, const char* suffix) {
  auto f = sft::File::open(moe_path());
  if (!f) return void(skip_on_error(state, f.error()));
  auto names = shuffled_names(files().moe);
  for (auto& n : names) n += suffix;
  for (auto _ : state)
    for (const auto& n : names) benchmark::DoNotOptimize(f->header().find(n));
  items_counter(state, names.size());
}
BENCHMARK_CAPTURE(BM_LookupFind, present, "")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_LookupFind, missing, ".missing")->Unit(benchmark::kMicrosecond);

// File::tensor(name): lookup plus building the view (a Result<TensorView>).
void BM_TensorByName(benchmark::State& state) {
  auto f = sft::File::open(moe_path());
  if (!f) return void(skip_on_error(state, f.error()));
  const auto names = shuffled_names(files().moe);
  for (auto _ : state)
    for (const auto& n : names) {
      auto v = f->tensor(n);
      benchmark::DoNotOptimize(v);
    }
  items_counter(state, names.size());
}
BENCHMARK(BM_TensorByName)->Unit(benchmark::kMicrosecond);

// ---- iteration and typed access ---------------------------------------------------------

void BM_IterateViews(benchmark::State& state) {
  auto f = sft::File::open(moe_path());
  if (!f) return void(skip_on_error(state, f.error()));
  auto views = f->views();
  if (!views) return void(skip_on_error(state, views.error()));
  for (auto _ : state)
    for (const sft::TensorView v : *views) benchmark::DoNotOptimize(v.data());
  items_counter(state, f->header().size());
}
BENCHMARK(BM_IterateViews)->Unit(benchmark::kMicrosecond);

// as<T>() on every tensor: the dtype and alignment checks, no data read.
void BM_TypedAccess(benchmark::State& state) {
  auto f = open_small();
  if (!f) return void(skip_on_error(state, f.error()));
  auto views = f->views();
  if (!views) return void(skip_on_error(state, views.error()));
  std::size_t failures = 0;
  for (auto _ : state)
    for (const sft::TensorView v : *views) {
      if (v.dtype() == sft::DType::BF16) {
        auto s = v.as<sft::bfloat16>();
        failures += !s;
        if (s) benchmark::DoNotOptimize(s->data());
      } else {
        auto s = v.as<float>();
        failures += !s;
        if (s) benchmark::DoNotOptimize(s->data());
      }
    }
  if (failures) state.SkipWithError("as<T>() failed on a tensor of the small transformer");
  items_counter(state, f->header().size());
}
BENCHMARK(BM_TypedAccess)->Unit(benchmark::kMicrosecond);

// Reading every byte through the views (the checksum of bench/support/checksum.hpp).
void BM_TouchViews(benchmark::State& state) {
  auto f = open_small();
  if (!f) return void(skip_on_error(state, f.error()));
  auto views = f->views();
  if (!views) return void(skip_on_error(state, views.error()));
  for (auto _ : state) {
    std::uint64_t sum = 0;
    for (const sft::TensorView v : *views) sum += sft::bench::byte_checksum(v.bytes());
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f->header().data_size()));
}
BENCHMARK(BM_TouchViews)->Unit(benchmark::kMillisecond);

// ---- slicing ---------------------------------------------------------------------------------

// The embedding [1024, 256] BF16: rows 100..900 (one contiguous run) or rows
// 0..1024 x columns 64..192 (1024 runs of 256 bytes).
std::vector<sft::SliceSpec> slice_spec(int kind) {
  if (kind == 0) return {sft::SliceSpec::range(100, 900)};
  if (kind == 1) return {sft::SliceSpec::all_of(), sft::SliceSpec::range(64, 192)};
  return {sft::SliceSpec::index(512), sft::SliceSpec::range(10, 20)};
}
const char* slice_label(int kind) {
  return kind == 0 ? "rows[100:900]" : kind == 1 ? "[:, 64:192]" : "[512, 10:20]";
}

// The small transformer opened, its embedding, and the slice state.range(0) names.
struct SliceCase {
  sft::Result<sft::File> file = open_small();
  const sft::TensorInfo* tensor = nullptr;
  std::vector<sft::SliceSpec> spec;

  explicit SliceCase(benchmark::State& state) : spec(slice_spec(static_cast<int>(state.range(0)))) {
    state.SetLabel(slice_label(static_cast<int>(state.range(0))));
    if (!file) {
      skip_on_error(state, file.error());
      return;
    }
    tensor = file->header().find("model.embed_tokens.weight");
    if (!tensor) state.SkipWithError("no embedding tensor");
  }
};

void BM_SlicePlan(benchmark::State& state) {
  SliceCase c(state);
  if (!c.tensor) return;
  std::size_t runs = 0;
  for (auto _ : state) {
    auto plan = sft::plan_slice(*c.tensor, c.spec);
    if (!plan) return void(skip_on_error(state, plan.error()));
    runs = static_cast<std::size_t>(plan->run_count);
    benchmark::DoNotOptimize(plan->byte_size);
  }
  state.counters["runs"] = static_cast<double>(runs);
}
BENCHMARK(BM_SlicePlan)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

void BM_ReadSlice(benchmark::State& state) {
  SliceCase c(state);
  if (!c.tensor) return;
  auto plan = sft::plan_slice(*c.tensor, c.spec);
  if (!plan) return void(skip_on_error(state, plan.error()));
  std::vector<std::byte> out(static_cast<std::size_t>(plan->byte_size));
  for (auto _ : state) {
    auto r = c.file->read_slice(*c.tensor, c.spec, out);
    if (!r) return void(skip_on_error(state, r.error()));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_ReadSlice)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

// File::slice: the same slices as TensorBytes (a view for the contiguous one,
// an owned, aligned copy otherwise), and a strided one, [::2, ::-1].
void BM_Slice(benchmark::State& state) {
  SliceCase c(state);
  if (!c.tensor) return;
  if (state.range(1)) {
    c.spec = {sft::SliceSpec::range(sft::SliceSpec::none, sft::SliceSpec::none, 2),
              sft::SliceSpec::range(sft::SliceSpec::none, sft::SliceSpec::none, -1)};
    state.SetLabel("[::2, ::-1]");
  }
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    auto r = c.file->slice(*c.tensor, c.spec);
    if (!r) return void(skip_on_error(state, r.error()));
    bytes = r->size_bytes();
    benchmark::DoNotOptimize(r->data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_Slice)->ArgsProduct({{0, 1, 2}, {0}})->Args({0, 1})->Unit(benchmark::kMicrosecond);

// ---- copy-out ----------------------------------------------------------------------------------

// File::read of every tensor into one reused buffer: memcpy from the mapping,
// or pread(2) in pread mode.
void BM_CopyOut(benchmark::State& state, sft::ReadMode mode) {
  auto f = open_small(mode);
  if (!f) return void(skip_on_error(state, f.error()));
  std::uint64_t largest = 0;
  for (const auto& t : f->header().tensors()) largest = std::max(largest, t.byte_size());
  std::vector<std::byte> buf(static_cast<std::size_t>(largest));
  for (auto _ : state)
    for (const auto& t : f->header().tensors()) {
      auto r = f->read(t, std::span(buf).first(static_cast<std::size_t>(t.byte_size())));
      if (!r) return void(skip_on_error(state, r.error()));
      benchmark::DoNotOptimize(buf.data());
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f->header().data_size()));
}
BENCHMARK_CAPTURE(BM_CopyOut, mmap, sft::ReadMode::mmap)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CopyOut, pread, sft::ReadMode::pread)->Unit(benchmark::kMillisecond);

// File::load of every tensor: views when mapped (no bytes move), owned,
// 64-byte-aligned buffers read with pread(2) in pread mode (an allocation per
// tensor, against BM_CopyOut's one reused buffer).
void BM_LoadEvery(benchmark::State& state, sft::ReadMode mode) {
  auto f = open_small(mode);
  if (!f) return void(skip_on_error(state, f.error()));
  for (auto _ : state)
    for (const auto& t : f->header().tensors()) {
      auto r = f->load(t);
      if (!r) return void(skip_on_error(state, r.error()));
      benchmark::DoNotOptimize(r->data());
    }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(f->header().data_size()));
}
BENCHMARK_CAPTURE(BM_LoadEvery, mmap, sft::ReadMode::mmap)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_LoadEvery, pread, sft::ReadMode::pread)->Unit(benchmark::kMillisecond);

}  // namespace
