// bench/gpu_tune_bench.cpp — the autotuner measured (bench/RESULTS-gpu.md):
// tuned against default speed per kernel, what the search considered, built,
// timed and rejected, exhaustive against search on the same space, and GEMV
// on BF16 weights against a roofline bound measured in the same run.
//
//   bench_gpu_tune tune     --backend B [--kernel K]... [--budget S] [--strategy S] [--space compare] [--seed N]
//   bench_gpu_tune measure  --backend B --kernel K --configs "CFG;CFG;..."   (interleaved, one key per kernel)
//   bench_gpu_tune roofline --backend B [--budget S] [--strategy S]
//
// One key per kernel (the common dtypes, 2^24 elements; GEMV 4096 x 4096).
// Times are medians of `--reps` runs (default 15) after 3 warm-up runs,
// device time from events where the backend has it. `--space compare`
// restricts each kernel to a sub-space of 48 to 96
// variants (on devices that build variants; the CPU backend keeps its
// compiled-in space), small enough to search exhaustively, for the comparison of
// strategies (bench/gpu_tune_compare.sh runs each strategy in a process of
// its own with fresh kernel caches). Output: one line per result, `key=value`
// pairs, for the driver to read.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"
#include "sft/gpu/tune.hpp"

using namespace sft;
using namespace sft::gpu;

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, backend = "opencl", strategy = "search", space, configs;
  std::vector<Kernel> kernels;
  double budget = 60;
  std::uint64_t seed = 0x5f7;
  int reps = 15;
};

TuneKey key_of(Kernel k) {
  const std::uint64_t n = 1 << 24;
  switch (k) {
    case Kernel::convert: return convert_key(DType::F16, DType::F32, n);
    case Kernel::mxfp4: return mxfp4_key(DType::BF16, n);
    case Kernel::gemv: return gemv_key(DType::BF16, 4096, 4096);
    case Kernel::checksum: return checksum_key(n);
  }
  return {};
}

// A sub-space of every kernel small enough to search exhaustively on PoCL
// (48 to 96 variants at one work-group size, 256; each costs about a second
// or two to build there). Only for devices that build variants at run time:
// the CPU backend's space is its compiled-in variants (12 to 54), already
// small enough, and the work-group size of its item kernels is not in this
// sub-space, which would leave convert and mxfp4 with nothing to try.
bool compare_space(Kernel k, const LaunchConfig& c) {
  auto in = [](std::uint32_t v, std::initializer_list<std::uint32_t> s) { return std::find(s.begin(), s.end(), v) != s.end(); };
  if (!in(c.local_size, {256})) return false;
  switch (k) {
    case Kernel::convert: return in(c.items_per_thread, {1, 4, 16}) && in(c.vector_width, {1, 4, 8});
    case Kernel::mxfp4: return in(c.items_per_thread, {1, 4, 16}) && in(c.vector_width, {1, 4});
    case Kernel::gemv:
      return in(c.items_per_thread, {1, 4}) && in(c.vector_width, {4, 8}) && in(c.split, {1, 4, 16}) && c.reduction == 0 &&
             c.mapping == 0;
    case Kernel::checksum: return in(c.items_per_thread, {1, 4}) && in(c.unroll, {1, 4});
  }
  return false;
}

// Buffers for one key's problem on a device (random inputs: speed only).
struct Problem {
  Buffer a, b, out;
  TuneKey key;
  std::uint64_t rows = 0, cols = 0, n = 0;
};

Problem make(const Device& dev, const TuneKey& key, std::uint64_t rows_override = 0, std::uint64_t cols_override = 0) {
  Problem p;
  p.key = key;
  std::uint64_t in_bytes = 0, b_bytes = 8, out_bytes = 0;
  switch (key.kernel) {
    case Kernel::convert:
      p.n = key.size, in_bytes = p.n * element_size(key.in), out_bytes = p.n * element_size(key.out);
      break;
    case Kernel::mxfp4:
      p.n = key.size, in_bytes = p.n / 2, b_bytes = p.n / 32, out_bytes = p.n * element_size(key.out);
      break;
    case Kernel::gemv:
      p.rows = rows_override ? rows_override : 4096, p.cols = cols_override ? cols_override : key.size / 4096;
      in_bytes = p.rows * p.cols * element_size(key.in), b_bytes = p.cols * 4, out_bytes = p.rows * 4;
      break;
    case Kernel::checksum:
      p.n = key.size, in_bytes = p.n, out_bytes = (p.n / 4096 + 1) * 8;
      break;
  }
  auto q = dev.queue();
  p.a = std::move(*dev.alloc(in_bytes));
  p.b = std::move(*dev.alloc(b_bytes));
  p.out = std::move(*dev.alloc(out_bytes));
  std::vector<std::uint8_t> host(std::max(in_bytes, b_bytes));
  std::uint64_t x = 88172645463325252ull;
  for (auto& v : host) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = static_cast<std::uint8_t>(x);
  }
  std::vector<float> xs;
  if (key.kernel == Kernel::gemv) {
    // W in [2^-11, 1) and x in [0.25, 1): no infinity, NaN or subnormal (a
    // subnormal costs a microcode assist on x86: it would time the data).
    for (std::size_t i = 0; i + 1 < in_bytes; i += 2) {
      auto v = static_cast<std::uint16_t>(0x3A00 + (host[i] | host[i + 1] << 8) % 0x57F);
      std::memcpy(&host[i], &v, 2);
    }
    xs.resize(p.cols);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = 0.25f + 0.75f * static_cast<float>(host[i]) / 256.0f;
  }
  (void)q->write(p.a, 0, host.data(), in_bytes);
  (void)q->write(p.b, 0, xs.empty() ? host.data() : static_cast<const void*>(xs.data()), b_bytes);
  (void)q->finish();
  return p;
}

Result<Event> run(Queue& q, Problem& p, const LaunchConfig& c) {
  switch (p.key.kernel) {
    case Kernel::convert: return convert(q, In{p.a}, p.key.in, Out{p.out}, p.key.out, p.n, c);
    case Kernel::mxfp4: return dequantize_mxfp4(q, In{p.a}, In{p.b}, Out{p.out}, p.key.out, p.n, c);
    case Kernel::gemv: return gemv(q, In{p.a}, p.key.in, In{p.b}, Out{p.out}, p.rows, p.cols, c);
    case Kernel::checksum: return checksum_blocks(q, In{p.a}, p.n, Out{p.out}, 0, c);
  }
  return Error(Errc::internal, "kernel");
}

double one_run(Queue& q, Problem& p, const LaunchConfig& c) {
  auto t0 = Clock::now();
  auto e = run(q, p, c);
  if (!e) {
    std::fprintf(stderr, "run failed: %s\n", e.error().to_string().c_str());
    std::exit(2);
  }
  (void)e->wait();
  auto s = e->seconds();
  return s ? *s : std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median times of several configurations, measured round-robin so that a
// change in the machine's load hits them all alike.
std::vector<double> interleaved(Queue& q, Problem& p, const std::vector<LaunchConfig>& cs, int reps) {
  for (const auto& c : cs)
    for (int w = 0; w < 3; ++w) one_run(q, p, c);
  std::vector<std::vector<double>> t(cs.size());
  for (int r = 0; r < reps; ++r)
    for (std::size_t i = 0; i < cs.size(); ++i) t[i].push_back(one_run(q, p, cs[i]));
  std::vector<double> out;
  for (auto& v : t) out.push_back(median(v));
  return out;
}

// Read bandwidth: every hardware thread sums its slice of a buffer of `bytes`; the best of 5.
double read_bandwidth(std::uint64_t bytes) {
  const std::size_t n = static_cast<std::size_t>(bytes / 8);
  std::vector<std::uint64_t> buf(n);
  for (std::size_t i = 0; i < n; ++i) buf[i] = i;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::uint64_t> sums(threads);
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        std::size_t b = n / threads * t, e = t + 1 == threads ? n : n / threads * (t + 1);
        for (std::size_t i = b; i + 4 <= e; i += 4) s0 += buf[i], s1 += buf[i + 1], s2 += buf[i + 2], s3 += buf[i + 3];
        sums[t] = s0 + s1 + s2 + s3;
      });
    for (auto& th : pool) th.join();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::uint64_t total = 0;
    for (auto v : sums) total += v;
    if (total == 42) std::printf("#");  // keep the sums
    best = std::max(best, static_cast<double>(n * 8) / s);
  }
  return best;
}

std::string load_average() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[64] = {0};
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  return s.substr(0, s.find(' '));
}

TuneOptions options_for(const Device& dev, const Args& a, Kernel k) {
  TuneOptions o;
  o.budget_seconds = a.budget;
  o.seed = a.seed;
  o.strategy = a.strategy == "exhaustive" ? SearchStrategy::exhaustive
               : a.strategy == "automatic" ? SearchStrategy::automatic
                                           : SearchStrategy::search;
  if (a.space == "compare" && dev.builds_variants()) o.restrict_space = [k](const LaunchConfig& c) { return compare_space(k, c); };
  return o;
}

int tune_mode(const Device& dev, const Args& a) {
  for (Kernel k : a.kernels) {
    const TuneKey key = key_of(k);
    const std::string cache = "/tmp/sft-bench-tune-" + std::to_string(::getpid()) + ".json";
    Tuner t = Tuner::open(cache, options_for(dev, a, k));
    const auto before = dev.kernel_builds();
    auto r = t.tune(dev, key);
    std::remove(cache.c_str());
    if (!r) {
      std::fprintf(stderr, "tune %s: %s\n", std::string(kernel_name(k)).c_str(), r.error().to_string().c_str());
      return 2;
    }
    const auto after = dev.kernel_builds();
    auto q = dev.queue();
    Problem p = make(dev, key);
    const LaunchConfig def = *normalize_config(k, default_config(k));
    auto times = interleaved(*q, p, {def, r->best}, a.reps);
    std::printf("kernel=%s in=%s out=%s backend=%s strategy=%s space=%zu tried=%zu rejected=%zu built=%llu "
                "from_cache=%llu wall_s=%.1f budget_spent=%d default_ms=%.4f tuned_ms=%.4f speedup=%.2f "
                "best=\"%s\" load=%s\n",
                std::string(kernel_name(k)).c_str(), std::string(name(key.in)).c_str(),
                std::string(name(key.out)).c_str(), a.backend.c_str(), std::string(strategy_name(r->strategy)).c_str(),
                r->space, r->tried, r->rejected, static_cast<unsigned long long>(after.built - before.built),
                static_cast<unsigned long long>(after.from_cache - before.from_cache), r->wall_seconds,
                r->budget_exhausted ? 1 : 0, times[0] * 1e3, times[1] * 1e3, times[0] / times[1],
                config_string(r->best).c_str(), load_average().c_str());
    std::fflush(stdout);
  }
  return 0;
}

int measure_mode(const Device& dev, const Args& a) {
  std::vector<LaunchConfig> cs;
  std::string s = a.configs;
  while (!s.empty()) {
    auto semi = s.find(';');
    auto c = parse_config(s.substr(0, semi));
    if (!c) {
      std::fprintf(stderr, "not a configuration: %s\n", s.substr(0, semi).c_str());
      return 2;
    }
    cs.push_back(*c);
    s = semi == std::string::npos ? "" : s.substr(semi + 1);
  }
  auto q = dev.queue();
  Problem p = make(dev, key_of(a.kernels.at(0)));
  auto t = interleaved(*q, p, cs, a.reps);
  for (std::size_t i = 0; i < cs.size(); ++i)
    std::printf("config=\"%s\" ms=%.4f load=%s\n", config_string(cs[i]).c_str(), t[i] * 1e3, load_average().c_str());
  return 0;
}

// GEMV on BF16 weights, 16384 x 8192 (256 MiB of W: beyond any cache), against
// bytes of W over the read bandwidth of a buffer of the same size measured here.
int roofline_mode(const Device& dev, const Args& a) {
  const std::uint64_t rows = 16384, cols = 8192;
  const double w_bytes = static_cast<double>(rows * cols * 2);
  const double bw = read_bandwidth(rows * cols * 2);
  const TuneKey key = gemv_key(DType::BF16, rows, cols);
  Tuner t = Tuner::open("/tmp/sft-bench-roofline-" + std::to_string(::getpid()) + ".json", options_for(dev, a, Kernel::gemv));
  auto r = t.tune(dev, gemv_key(DType::BF16, 4096, 4096));
  if (!r) {
    std::fprintf(stderr, "tune: %s\n", r.error().to_string().c_str());
    return 2;
  }
  auto q = dev.queue();
  Problem p = make(dev, key, rows, cols);
  const LaunchConfig def = *normalize_config(Kernel::gemv, default_config(Kernel::gemv));
  auto times = interleaved(*q, p, {def, r->best}, a.reps);
  const double bound = w_bytes / bw;
  std::printf("roofline backend=%s read_GBps=%.2f w_MiB=%.0f bound_ms=%.3f default_ms=%.3f tuned_ms=%.3f "
              "default_x_bound=%.2f tuned_x_bound=%.2f tuned_GBps=%.2f best=\"%s\" load=%s\n",
              a.backend.c_str(), bw / 1e9, w_bytes / 1048576, bound * 1e3, times[0] * 1e3, times[1] * 1e3,
              times[0] / bound, times[1] / bound, w_bytes / times[1] / 1e9, config_string(r->best).c_str(),
              load_average().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_gpu_tune tune|measure|roofline --backend B [--kernel K]... [--budget S] "
                         "[--strategy S] [--space compare] [--seed N] [--reps N] [--configs \"C;C\"]\n");
    return 2;
  }
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string o = argv[i];
    auto v = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (o == "--backend") a.backend = v();
    else if (o == "--kernel") {
      std::string k = v();
      for (int j = 0; j < kernel_count; ++j)
        if (kernel_name(static_cast<Kernel>(j)) == k) a.kernels.push_back(static_cast<Kernel>(j));
    } else if (o == "--budget") a.budget = std::atof(v().c_str());
    else if (o == "--strategy") a.strategy = v();
    else if (o == "--space") a.space = v();
    else if (o == "--seed") a.seed = std::strtoull(v().c_str(), nullptr, 10);
    else if (o == "--reps") a.reps = std::atoi(v().c_str());
    else if (o == "--configs") a.configs = v();
    else {
      std::fprintf(stderr, "unknown option %s\n", o.c_str());
      return 2;
    }
  }
  if (a.kernels.empty()) a.kernels = {Kernel::convert, Kernel::mxfp4, Kernel::gemv, Kernel::checksum};
  auto dev = open_device(a.backend);
  if (!dev) {
    std::fprintf(stderr, "%s\n", dev.error().to_string().c_str());
    return 2;
  }
  if (a.mode == "tune") return tune_mode(*dev, a);
  if (a.mode == "measure") return measure_mode(*dev, a);
  if (a.mode == "roofline") return roofline_mode(*dev, a);
  std::fprintf(stderr, "unknown mode %s\n", a.mode.c_str());
  return 2;
}
