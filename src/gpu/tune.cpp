// The autotuner (sft/gpu/tune.hpp): candidates, timing, the reference check.
// The cache file's format is in tune_cache.cpp.
#include "sft/gpu/tune.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "backend.hpp"
#include "variant.hpp"
#include "sft/gpu/checksum.hpp"
#include "tune_cache.hpp"

namespace sft::gpu {

using detail::gpu_error;

TuneKey convert_key(DType from, DType to, std::uint64_t count) { return {Kernel::convert, from, to, count}; }
TuneKey mxfp4_key(DType to, std::uint64_t count) { return {Kernel::mxfp4, DType::F4, to, count}; }
TuneKey gemv_key(DType w, std::uint64_t rows, std::uint64_t cols) {
  return {Kernel::gemv, w, DType::F32, rows * cols};
}
TuneKey checksum_key(std::uint64_t bytes) { return {Kernel::checksum, DType::U8, DType::U64, bytes}; }

unsigned size_bucket(std::uint64_t size) noexcept { return size <= 1 ? 0 : 63 - static_cast<unsigned>(std::countl_zero(size)); }

namespace {
constexpr LaunchConfig C(std::uint32_t l, std::uint32_t e, std::uint32_t v) { return LaunchConfig{l, e, v}; }
}  // namespace

LaunchConfig default_config(Kernel k) noexcept {
  switch (k) {
    case Kernel::gemv: return C(64, 1, 4);
    case Kernel::checksum: return C(64, 1, 1);
    default: return C(128, 4, 1);
  }
}

std::filesystem::path default_cache_path() {
  if (const char* p = std::getenv("SFT_TUNE_CACHE"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::filesystem::path(x) / "sft" / "tune.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".cache" / "sft" / "tune.json";
  return {};
}

namespace {

// The inputs and outputs of one tuning run, on one device.
struct Work {
  Buffer a, b, out;
  std::uint64_t n = 0, rows = 0, cols = 0, out_bytes = 0;
};

// The problem a key is tuned on: its bucket's size, capped.
struct Problem {
  std::uint64_t n = 0, rows = 0, cols = 0;
  std::vector<std::byte> a, b;  // host inputs
  std::uint64_t out_bytes = 0;
};

Result<Problem> make_problem(const TuneKey& key, std::uint64_t max_size) {
  Problem p;
  unsigned bucket = std::clamp(size_bucket(std::min(key.size, max_size)), 12u, 40u);
  p.n = std::uint64_t{1} << bucket;
  std::mt19937_64 rng(0x5F7u + bucket);
  auto random_bytes = [&](std::uint64_t count) {
    std::vector<std::byte> v(count);
    for (auto& x : v) x = static_cast<std::byte>(rng() >> 56);
    return v;
  };
  switch (key.kernel) {
    case Kernel::convert:
      if (!convert_source_ok(key.in) || !convert_target_ok(key.out))
        return gpu_error(Errc::gpu_unsupported, "tune: no conversion from " + std::string(name(key.in)) + " to " +
                                                    std::string(name(key.out)));
      p.a = random_bytes(p.n * element_size(key.in));
      p.out_bytes = p.n * element_size(key.out);
      break;
    case Kernel::mxfp4:
      if (key.out != DType::F32 && key.out != DType::BF16)
        return gpu_error(Errc::gpu_unsupported, "tune: mxfp4 targets F32 or BF16");
      p.a = random_bytes(p.n / 2);
      p.b.resize(p.n / 32);
      for (auto& s : p.b) s = static_cast<std::byte>(100 + rng() % 55);
      p.out_bytes = p.n * element_size(key.out);
      break;
    case Kernel::gemv: {
      if (key.in != DType::F32 && key.in != DType::F16 && key.in != DType::BF16)
        return gpu_error(Errc::gpu_unsupported, "tune: gemv takes F32, F16 or BF16 weights");
      p.cols = std::uint64_t{1} << (bucket / 2);
      p.rows = p.n / p.cols;
      // Non-negative inputs below 1: then sum |w x| is y itself, which bounds the error.
      // No F32 subnormal among W, x or their products: on x86 a subnormal
      // takes a microcode assist, which would time the data, not the variant.
      p.a.resize(p.n * element_size(key.in));
      for (std::uint64_t i = 0; i < p.n; ++i) {
        std::uint32_t bits = key.in == DType::F32   ? 0x3F800000u - 1 - static_cast<std::uint32_t>(rng() % 0x800000u)
                             : key.in == DType::F16 ? static_cast<std::uint32_t>(rng() % 0x3BFFu)
                                                    : 0x3A00u + static_cast<std::uint32_t>(rng() % (0x3F7Fu - 0x3A00u));
        std::memcpy(p.a.data() + i * element_size(key.in), &bits, element_size(key.in));  // little-endian
      }
      p.b.resize(p.cols * 4);
      for (std::uint64_t i = 0; i < p.cols; ++i) {
        float x = static_cast<float>(rng() % 1000000) / 1e6f;
        std::memcpy(p.b.data() + i * 4, &x, 4);
      }
      p.out_bytes = p.rows * 4;
      break;
    }
    case Kernel::checksum:
      p.a = random_bytes(p.n);
      p.out_bytes = checksum_block_count(p.n) * 8;
      break;
  }
  return p;
}

Result<Work> upload_problem(const Device& dev, Queue& q, const Problem& p) {
  Work w;
  w.n = p.n;
  w.rows = p.rows;
  w.cols = p.cols;
  w.out_bytes = p.out_bytes;
  auto put = [&](const std::vector<std::byte>& v, Buffer& b) -> Result<void> {
    if (v.empty()) return {};
    auto r = dev.alloc(v.size());
    SFT_TRY(r);
    b = std::move(*r);
    if (auto e = q.write(b, 0, v.data(), v.size()); !e) return e.error();
    return {};
  };
  if (auto r = put(p.a, w.a); !r) return r.error();
  if (auto r = put(p.b, w.b); !r) return r.error();
  auto o = dev.alloc(p.out_bytes);
  SFT_TRY(o);
  w.out = std::move(*o);
  if (auto f = q.finish(); !f) return f.error();
  return w;
}

Result<Event> launch(Queue& q, const TuneKey& k, Work& w, const LaunchConfig& c) {
  switch (k.kernel) {
    case Kernel::convert: return convert(q, In{w.a}, k.in, Out{w.out}, k.out, w.n, c);
    case Kernel::mxfp4: return dequantize_mxfp4(q, In{w.a}, In{w.b}, Out{w.out}, k.out, w.n, c);
    case Kernel::gemv: return gemv(q, In{w.a}, k.in, In{w.b}, Out{w.out}, w.rows, w.cols, c);
    case Kernel::checksum: return checksum_blocks(q, In{w.a}, w.n, Out{w.out}, 0, c);
  }
  return gpu_error(Errc::gpu_bad_argument, "tune: unknown kernel");
}

// The candidate's output against the reference: bit for bit, or for GEMV
// within twice the F32 summation bound cols * 2^-24 * y (inputs are >= 0).
bool matches(const TuneKey& k, const Work& w, const std::vector<std::byte>& got, const std::vector<std::byte>& want) {
  if (k.kernel != Kernel::gemv) return got == want;
  const double bound = 2.0 * static_cast<double>(w.cols) * std::ldexp(1.0, -24);
  for (std::uint64_t r = 0; r < w.rows; ++r) {
    float g, e;
    std::memcpy(&g, got.data() + 4 * r, 4);
    std::memcpy(&e, want.data() + 4 * r, 4);
    if (!(std::fabs(static_cast<double>(g) - e) <= bound * e)) return false;
  }
  return true;
}

// Run a candidate once into an output poisoned with `poison` (the bitwise
// complement of the reference: an element the candidate skips cannot pass).
Result<std::vector<std::byte>> run_once(Queue& q, const TuneKey& k, Work& w, const LaunchConfig& c,
                                        const std::vector<std::byte>& poison) {
  std::vector<std::byte> out = poison;
  if (out.size() != w.out_bytes) out.assign(w.out_bytes, std::byte{0xA5});
  SFT_TRY(q.write(w.out, 0, out.data(), out.size()));
  SFT_TRY(launch(q, k, w, c));
  SFT_TRY(q.read(w.out, 0, out.data(), out.size()));
  SFT_TRY(q.finish());
  return out;
}

// Median device time of `reps` runs after `warmup` untimed ones.
Result<double> time_candidate(Queue& q, const TuneKey& k, Work& w, const LaunchConfig& c, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i)
    if (auto e = launch(q, k, w, c); !e) return e.error();
  if (auto f = q.finish(); !f) return f.error();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto e = launch(q, k, w, c);
    SFT_TRY(e);
    if (auto wt = e->wait(); !wt) return wt.error();
    auto s = e->seconds();
    times.push_back(s ? *s : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// The cache key of every bucket of this device, kernel and dtypes.
std::string key_at(const Device& d, const TuneKey& k, std::uint64_t space_hash, unsigned bucket) {
  TuneKey b = k;
  b.size = std::uint64_t{1} << bucket;
  return detail::tune_cache_key(d.info(), b, space_hash);
}

}  // namespace

Tuner Tuner::open(std::filesystem::path path, TuneOptions options) {
  Tuner t;
  t.path_ = path.empty() ? default_cache_path() : std::move(path);
  t.set_options(std::move(options));
  if (!t.path_.empty()) detail::load_tune_cache(t.path_, t.entries_, t.warnings_);
  if (const char* env = std::getenv("SFT_TUNE_TABLE"); env && *env) {
    std::string_view list(env);
    while (!list.empty()) {
      auto colon = list.find(':');
      std::string one(list.substr(0, colon));
      list.remove_prefix(colon == std::string_view::npos ? list.size() : colon + 1);
      if (one.empty()) continue;
      auto table = TuneTable::load(one);
      if (table)
        t.tables_.push_back(std::move(*table));
      else
        t.warnings_.push_back(table.error().to_string() + " (from SFT_TUNE_TABLE); ignored");
    }
  }
  return t;
}

void Tuner::set_options(TuneOptions options) {
  options_ = std::move(options);
  if (options_.warmup < 0) options_.warmup = 0;
  if (options_.repetitions < 1) options_.repetitions = 1;
  if (options_.retime_rounds < 0) options_.retime_rounds = 0;
  spaces_.clear();
}

const std::vector<LaunchConfig>& Tuner::space_for(const Device& device, const TuneKey& key) {
  const DeviceInfo& i = device.info();
  std::string id = std::string(backend_name(i.backend)) + "\n" + i.name + "\n" + std::to_string(i.index) + "\n" +
                   std::string(kernel_name(key.kernel)) + "\n" + std::string(name(key.in)) + "\n" +
                   std::string(name(key.out));
  auto it = spaces_.find(id);
  if (it == spaces_.end()) {
    Space s;
    s.configs = config_space(device, key, options_);
    s.hash = config_space_hash(s.configs);
    it = spaces_.emplace(std::move(id), std::move(s)).first;
  }
  return it->second.configs;
}

std::optional<LaunchConfig> Tuner::lookup(const Device& device, const TuneKey& key) {
  if (!device.valid()) return std::nullopt;
  const auto hash = config_space_hash(space_for(device, key));
  auto it = entries_.find(detail::tune_cache_key(device.info(), key, hash));
  if (it == entries_.end()) return std::nullopt;
  return it->second.config;
}

Result<LaunchConfig> Tuner::config(const Device& device, const TuneKey& key, bool tune_on_miss) {
  if (auto hit = lookup(device, key)) return *hit;
  if (device.valid()) {
    const auto hash = config_space_hash(space_for(device, key));
    for (const TuneTable& t : tables_)
      if (auto c = t.lookup(device.info(), key, hash)) return *c;
  }
  if (!tune_on_miss) return default_config(key.kernel);
  SFT_TRY_ASSIGN(auto r, tune(device, key));
  return r.best;
}

Result<TuneResult> Tuner::tune(const Device& device, const TuneKey& key) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!device.valid()) return gpu_error(Errc::gpu_bad_argument, "tune on an empty Device");
  SFT_TRY_ASSIGN(auto problem, make_problem(key, options_.max_size));

  // The reference: the kernel compiled as C++, on the CPU backend.
  SFT_TRY_ASSIGN(auto cpu, open_device(Backend::cpu));
  SFT_TRY_ASSIGN(auto cq, cpu.queue());
  SFT_TRY_ASSIGN(auto cw, upload_problem(cpu, cq, problem));
  SFT_TRY_ASSIGN(auto reference, run_once(cq, key, cw, default_config(key.kernel), {}));
  if (key.kernel == Kernel::checksum) {  // and the checksum against the host's own implementation
    std::vector<std::uint64_t> host(checksum_block_count(problem.n));
    block_hashes(problem.a, 0, host);
    if (std::memcmp(host.data(), reference.data(), host.size() * 8) != 0)
      return gpu_error(Errc::gpu_verify_failed, "tune: the CPU checksum kernel disagrees with the host digest");
  }
  std::vector<std::byte> poison(reference.size());
  for (std::size_t i = 0; i < poison.size(); ++i) poison[i] = ~reference[i];

  const std::vector<LaunchConfig> space = space_for(device, key);
  TuneResult result;
  result.space = space.size();
  result.space_hash = config_space_hash(space);
  if (space.empty())
    return gpu_error(Errc::gpu_unsupported, "tune: no configuration of " + std::string(kernel_name(key.kernel)) +
                                                " fits " + device.info().name);

  // Seeds: the default, then what the cache and the tables hold for this
  // kernel and dtypes at this bucket and the others.
  std::vector<LaunchConfig> seeds;
  if (auto d = normalize_config(key.kernel, default_config(key.kernel))) seeds.push_back(*d);
  const unsigned own = size_bucket(key.size);
  for (unsigned d = 0; d < 64; ++d) {
    for (unsigned b : {own - d, own + d}) {
      if (b > 63 || (d == 0 && b != own)) continue;
      if (auto it = entries_.find(key_at(device, key, result.space_hash, b)); it != entries_.end())
        seeds.push_back(it->second.config);
    }
  }
  for (const TuneTable& t : tables_)
    if (auto c = t.lookup(device.info(), key, result.space_hash)) seeds.push_back(*c);

  SFT_TRY_ASSIGN(auto q, device.queue());
  SFT_TRY_ASSIGN(auto w, upload_problem(device, q, problem));
  auto measure = [&](const LaunchConfig& c, bool retime) -> std::optional<double> {
    if (!retime) {
      ++timed_;
      auto out = run_once(q, key, w, c, poison);
      if (!out) {
        result.rejections.push_back({c, "failed: " + out.error().to_string()});
        (void)q.finish();
        return std::nullopt;
      }
      if (!matches(key, w, *out, reference)) {
        result.rejections.push_back({c, key.kernel == Kernel::gemv
                                            ? "output differs from the reference beyond the summation bound"
                                            : "output differs from the reference"});
        return std::nullopt;
      }
    }
    auto t = time_candidate(q, key, w, c, retime ? 0 : options_.warmup, options_.repetitions);
    if (!t) {
      if (!retime) result.rejections.push_back({c, "failed while timed: " + t.error().to_string()});
      return std::nullopt;
    }
    if (!retime) result.timings.emplace_back(c, *t);
    return *t;
  };
  SearchReport rep = search_space(space, seeds, options_, measure);
  result.tried = rep.tried;
  result.rejected = rep.rejected;
  result.strategy = rep.strategy;
  result.budget_exhausted = rep.budget_exhausted;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!rep.best) {
    std::string why = result.rejections.empty() ? std::string("none was tried") : result.rejections[0].why;
    return gpu_error(Errc::gpu_verify_failed, "tune: no candidate configuration of " +
                                                  std::string(kernel_name(key.kernel)) + " produced the reference result on " +
                                                  device.info().name + " (" + std::to_string(rep.tried) + " tried; first: " + why + ")");
  }
  result.best = space[*rep.best];
  result.seconds = rep.best_seconds;
  entries_[detail::tune_cache_key(device.info(), key, result.space_hash)] =
      Entry{result.best, result.seconds,
            std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()};
  return result;
}

Result<void> Tuner::save() const {
  if (path_.empty())
    return gpu_error(Errc::tune_cache, "no cache path: set SFT_TUNE_CACHE, XDG_CACHE_HOME or HOME, or give one");
  return detail::save_tune_cache(path_, entries_);
}

}  // namespace sft::gpu
