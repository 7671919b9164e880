// The autotuner: the variant spaces, the search (deterministic given a seed,
// resistant to a lucky measurement, bounded by its budget), wrong variants
// rejected and never chosen, the cache (reused without timing, corrupt files
// ignored, atomic and bounded writes) and the ahead-of-time table.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "gpu_support.hpp"
#include "sft/gpu/checksum.hpp"
#include "sft/gpu/tune.hpp"
#include "test_support.hpp"

using namespace sft;
using namespace sft::gpu;
namespace fs = std::filesystem;

namespace {

// Small problems, and only the default and (on the CPU backend, whose
// variants are compiled in) one other configuration of each kernel: a cold
// OpenCL build costs about a second per variant on 2 cores.
TuneOptions quick(const std::string& backend = "cpu") {
  TuneOptions o;
  o.warmup = 1;
  o.repetitions = 2;
  o.retime_rounds = 1;
  o.max_size = 1 << 14;
  o.restrict_space = [backend](const LaunchConfig& c) {
    for (Kernel k : {Kernel::convert, Kernel::mxfp4, Kernel::gemv, Kernel::checksum}) {
      auto d = normalize_config(k, default_config(k));
      if (d && c == *d) return true;
    }
    return backend == "cpu" && c.local_size == 64 && c.items_per_thread == 2 && c.vector_width <= 2 && c.split == 1 && c.unroll == 1 &&
           c.mapping == 1 && !c.specialize && !c.wide_loads;
  };
  return o;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

bool in_space(const std::vector<LaunchConfig>& space, const LaunchConfig& c) {
  return std::find(space.begin(), space.end(), c) != space.end();
}

LaunchConfig with_fault(Kernel k, std::uint32_t fault) {
  LaunchConfig c = *normalize_config(k, default_config(k));
  c.fault = fault;
  return c;
}

class GpuTune : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(GpuTuneKeys, BucketsAndDefaults) {
  EXPECT_EQ(size_bucket(0), 0u);
  EXPECT_EQ(size_bucket(1), 0u);
  EXPECT_EQ(size_bucket(2), 1u);
  EXPECT_EQ(size_bucket(4095), 11u);
  EXPECT_EQ(size_bucket(4096), 12u);
  EXPECT_EQ(size_bucket(~std::uint64_t{0}), 63u);
  for (Kernel k : {Kernel::convert, Kernel::mxfp4, Kernel::gemv, Kernel::checksum}) {
    EXPECT_TRUE(check_config(default_config(k))) << kernel_name(k);
    auto d = normalize_config(k, default_config(k));
    ASSERT_TRUE(d) << kernel_name(k);
    EXPECT_TRUE(in_space(candidates(k), *d)) << kernel_name(k) << ": the default is a candidate";
  }
}

TEST(GpuTuneKeys, ConfigStringsRoundTripAndAreStrict) {
  std::size_t n = 0;
  for (Kernel k : {Kernel::convert, Kernel::mxfp4, Kernel::gemv, Kernel::checksum}) {
    for (const LaunchConfig& c : candidates(k)) {
      auto back = parse_config(config_string(c));
      ASSERT_TRUE(back) << config_string(c);
      EXPECT_EQ(*back, c);
      ++n;
    }
  }
  EXPECT_GT(n, 4000u);
  LaunchConfig f = with_fault(Kernel::gemv, 2);
  EXPECT_EQ(parse_config(config_string(f)), f);
  for (const char* bad : {"", "L64", "L64 E1 V1 M0 U1 K1 R0 S0", "L64 E1 V1 M0 U1 K1 R0 S0 W0 ", "L63 E1 V1 M0 U1 K1 R0 S0 W0",
                          "L64 E1 V3 M0 U1 K1 R0 S0 W0", "L64 E1 V1 M0 U1 K128 R0 S0 W0", "L64 E1 V1 M0 U1 K1 R0 S2 W0",
                          "E1 L64 V1 M0 U1 K1 R0 S0 W0", "L64 E1 V1 M0 U1 K1 R0 S0 W0 F4", "L64  E1 V1 M0 U1 K1 R0 S0 W0",
                          "L-64 E1 V1 M0 U1 K1 R0 S0 W0", "L99999999 E1 V1 M0 U1 K1 R0 S0 W0"})
    EXPECT_FALSE(parse_config(bad)) << bad;
}

// The spaces: several hundred variants per kernel where the device builds
// them at run time, the compiled-in set on the CPU backend; normalized, no
// duplicates, and the space's hash follows its contents.
TEST(GpuTuneSpace, HundredsOfVariantsPerKernel) {
  for (Kernel k : {Kernel::convert, Kernel::mxfp4, Kernel::gemv, Kernel::checksum}) {
    const auto& all = candidates(k);
    EXPECT_GE(all.size(), 500u) << kernel_name(k);
    std::set<std::string> seen;
    for (const LaunchConfig& c : all) {
      auto n = normalize_config(k, c);
      ASSERT_TRUE(n) << config_string(c);
      EXPECT_EQ(*n, c) << kernel_name(k) << ": " << config_string(c) << " is normalized";
      EXPECT_TRUE(seen.insert(config_string(c)).second) << config_string(c) << " twice";
    }
  }
  auto cpu = open_device(Backend::cpu);
  ASSERT_TRUE(cpu);
  EXPECT_FALSE(cpu->builds_variants());
  for (const TuneKey& key : {convert_key(DType::F16, DType::F32, 1 << 20), mxfp4_key(DType::BF16, 1 << 20),
                             gemv_key(DType::BF16, 1024, 1024), checksum_key(1 << 20)}) {
    auto space = config_space(*cpu, key);
    EXPECT_GE(space.size(), 12u) << kernel_name(key.kernel);
    EXPECT_LT(space.size(), candidates(key.kernel).size());
    for (const LaunchConfig& c : space) EXPECT_TRUE(in_space(candidates(key.kernel), c));
    TuneOptions small;
    small.restrict_space = [](const LaunchConfig& c) { return c.items_per_thread == 1; };
    auto fewer = config_space(*cpu, key, small);
    EXPECT_LT(fewer.size(), space.size());
    EXPECT_NE(config_space_hash(fewer), config_space_hash(space));
    EXPECT_EQ(config_space_hash(space), config_space_hash(config_space(*cpu, key)));
  }
  auto cl = open_device(Backend::opencl);
  if (!cl) GTEST_SKIP() << "opencl: " << cl.error().to_string();
  EXPECT_TRUE(cl->builds_variants());
  for (const TuneKey& key : {convert_key(DType::F16, DType::F32, 1 << 20), mxfp4_key(DType::BF16, 1 << 20),
                             gemv_key(DType::BF16, 1024, 1024), checksum_key(1 << 20)})
    EXPECT_GE(config_space(*cl, key).size(), 500u) << kernel_name(key.kernel);
  // Typed loads are no variant for a one-byte source.
  auto f8 = config_space(*cl, convert_key(DType::F8_E4M3, DType::BF16, 1 << 20));
  EXPECT_TRUE(std::none_of(f8.begin(), f8.end(), [](const LaunchConfig& c) { return c.wide_loads; }));
}

// ---------------------------------------------------------------- the search

namespace {

// A smooth landscape over GEMV's space with one minimum.
double landscape(const LaunchConfig& c) {
  auto lg = [](std::uint32_t v) { return std::log2(static_cast<double>(v)); };
  return 1.0 + 0.30 * std::fabs(lg(c.local_size) - 8) + 0.20 * std::fabs(lg(c.vector_width) - 2) +
         0.10 * std::fabs(lg(c.items_per_thread) - 1) + 0.07 * std::fabs(lg(c.split) - 4) + 0.05 * (c.unroll != 4) +
         0.04 * (c.mapping != 0) + 0.03 * (c.reduction != 0) + 0.02 * !c.specialize + 0.01 * !c.wide_loads;
}

SearchReport run_search(std::span<const LaunchConfig> space, const TuneOptions& o,
                        const std::function<std::optional<double>(const LaunchConfig&, bool)>& m,
                        std::span<const LaunchConfig> seeds = {}) {
  return search_space(space, seeds, o, m);
}

}  // namespace

TEST(GpuTuneSearch, FindsTheMinimumOfASmoothSpaceInAFractionOfIt) {
  const auto& space = candidates(Kernel::gemv);
  TuneOptions o;
  o.max_candidates = 400;
  auto m = [](const LaunchConfig& c, bool) -> std::optional<double> { return landscape(c); };
  auto r = run_search(space, o, m);
  ASSERT_TRUE(r.best);
  EXPECT_EQ(r.strategy, SearchStrategy::search);
  EXPECT_LE(r.tried, 400u);
  EXPECT_LT(r.tried * 10, space.size());
  const auto truth = std::min_element(space.begin(), space.end(),
                                      [](const auto& a, const auto& b) { return landscape(a) < landscape(b); });
  EXPECT_EQ(space[*r.best], *truth) << config_string(space[*r.best]) << " vs " << config_string(*truth);
}

TEST(GpuTuneSearch, DeterministicGivenASeed) {
  const auto& space = candidates(Kernel::convert);
  TuneOptions o;
  o.max_candidates = 60;
  auto m = [](const LaunchConfig& c, bool) -> std::optional<double> {
    return 1.0 + 0.001 * (c.local_size % 7) + 0.01 * c.items_per_thread + 0.1 * c.mapping + 0.02 * c.vector_width;
  };
  auto a = run_search(space, o, m), b = run_search(space, o, m);
  EXPECT_EQ(a.order, b.order);
  EXPECT_EQ(a.best, b.best);
  o.seed = 12345;
  auto c = run_search(space, o, m);
  EXPECT_NE(a.order, c.order);
  EXPECT_EQ(a.tried, 60u);
  EXPECT_TRUE(a.budget_exhausted);
}

TEST(GpuTuneSearch, SeedsComeFirstAndSmallSpacesAreExhaustive) {
  const auto& all = candidates(Kernel::checksum);
  std::vector<LaunchConfig> small(all.begin(), all.begin() + 20);
  TuneOptions o;
  std::vector<std::size_t> seen;
  auto m = [&](const LaunchConfig& c, bool retime) -> std::optional<double> {
    if (!retime) seen.push_back(static_cast<std::size_t>(std::find(small.begin(), small.end(), c) - small.begin()));
    return 1.0;
  };
  auto r = run_search(small, o, m);
  EXPECT_EQ(r.strategy, SearchStrategy::exhaustive);
  EXPECT_EQ(r.tried, small.size());
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
  // In a search, the seeds are tried first.
  const auto& big = candidates(Kernel::convert);
  std::vector<LaunchConfig> seeds = {big[700], big[3]};
  o.max_candidates = 10;
  auto s = run_search(big, o, [](const LaunchConfig&, bool) -> std::optional<double> { return 1.0; }, seeds);
  ASSERT_GE(s.order.size(), 2u);
  EXPECT_EQ(s.order[0], 700u);
  EXPECT_EQ(s.order[1], 3u);
}

TEST(GpuTuneSearch, RejectedCandidatesAreNeverChosen) {
  const auto& space = candidates(Kernel::checksum);
  TuneOptions o;
  o.strategy = SearchStrategy::exhaustive;
  // The fastest half of the space is "wrong".
  auto m = [](const LaunchConfig& c, bool) -> std::optional<double> {
    if (c.local_size < 256) return std::nullopt;
    return 2.0 - c.items_per_thread * 0.01;
  };
  auto r = run_search(space, o, m);
  ASSERT_TRUE(r.best);
  EXPECT_GE(space[*r.best].local_size, 256u);
  EXPECT_GT(r.rejected, 0u);
  EXPECT_EQ(r.tried, space.size());
  auto none = run_search(space, o, [](const LaunchConfig&, bool) -> std::optional<double> { return std::nullopt; });
  EXPECT_FALSE(none.best);
  EXPECT_EQ(none.rejected, space.size());
}

// One candidate is lucky once (a quiet moment on a shared machine): the
// interleaved re-timing of the near-best sees through it.
TEST(GpuTuneSearch, ALuckyMeasurementDoesNotWin) {
  const auto& all = candidates(Kernel::checksum);
  std::vector<LaunchConfig> small(all.begin(), all.begin() + 8);
  TuneOptions o;
  o.retime_rounds = 3;
  int retimes = 0;
  auto m = [&](const LaunchConfig& c, bool retime) -> std::optional<double> {
    if (retime) ++retimes;
    if (c == small[5]) return retime ? 1.10 : 0.90;  // lucky once, slow after
    return c == small[2] ? 1.00 : 1.08;
  };
  auto r = run_search(small, o, m);
  ASSERT_TRUE(r.best);
  EXPECT_EQ(*r.best, 2u);
  EXPECT_GT(retimes, 0);
}

TEST(GpuTuneSearch, TheTimeBudgetStopsIt) {
  const auto& space = candidates(Kernel::gemv);
  TuneOptions o;
  o.budget_seconds = 0.3;
  auto m = [](const LaunchConfig& c, bool) -> std::optional<double> {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return landscape(c);
  };
  auto r = run_search(space, o, m);
  // The budget, not the space, ended it: at 10 ms a candidate, 0.3 s allows
  // about 30 of GEMV's thousands. (No wall-clock bound: under a sanitizer on a
  // loaded 2-core CI machine the search's bookkeeping alone took seconds.)
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_GE(r.tried, 1u);
  EXPECT_LT(r.tried, 60u);
  ASSERT_TRUE(r.best);
}

// A budget gone before the first candidate (here: before the search starts)
// still gives an answer: one candidate is always timed. Before, a search
// whose setup outlasted its sampling share returned no best at all.
TEST(GpuTuneSearch, ABudgetSpentBeforeAnyTimingStillGivesAnAnswer) {
  const auto& space = candidates(Kernel::gemv);
  TuneOptions o;
  o.budget_seconds = 1e-9;
  auto m = [](const LaunchConfig& c, bool) -> std::optional<double> { return landscape(c); };
  auto r = run_search(space, o, m);
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_GE(r.tried, 1u);
  EXPECT_LE(r.tried, 2u);
  ASSERT_TRUE(r.best);
}

// ------------------------------------------------------------ on the devices

TEST_P(GpuTune, ChoiceIsCachedAndReusedWithoutTiming) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto dir = sft::test::temp_dir("gpu_tune_" + GetParam());
  auto path = dir / "sub" / "tune.json";  // the directory is created on save
  const TuneKey keys[] = {convert_key(DType::F16, DType::F32, 1 << 14), gemv_key(DType::BF16, 128, 128),
                          checksum_key(1 << 14), mxfp4_key(DType::BF16, 1 << 14)};
  std::vector<LaunchConfig> chosen;
  {
    Tuner t = Tuner::open(path, quick(GetParam()));
    EXPECT_TRUE(t.warnings().empty());
    EXPECT_EQ(t.entries(), 0u);
    for (const TuneKey& k : keys) {
      EXPECT_FALSE(t.lookup(dev, k).has_value());
      auto r = t.tune(dev, k);
      ASSERT_TRUE(r) << kernel_name(k.kernel) << ": " << r.error().to_string();
      EXPECT_GT(r->tried, 0u);
      EXPECT_EQ(r->tried, r->space);  // small: exhaustive
      EXPECT_EQ(r->strategy, SearchStrategy::exhaustive);
      EXPECT_EQ(r->rejected, 0u) << kernel_name(k.kernel) << ": " << (r->rejections.empty() ? "" : r->rejections[0].why);
      EXPECT_TRUE(in_space(config_space(dev, k, quick(GetParam())), r->best));
      EXPECT_GT(r->seconds, 0.0);
      chosen.push_back(r->best);
    }
    EXPECT_EQ(t.entries(), std::size(keys));
    EXPECT_GT(t.candidates_timed(), 0u);
    ASSERT_TRUE(t.save());
  }
  Tuner again = Tuner::open(path, quick(GetParam()));
  EXPECT_TRUE(again.warnings().empty()) << again.warnings()[0];
  EXPECT_EQ(again.entries(), std::size(keys));
  for (std::size_t i = 0; i < std::size(keys); ++i) {
    auto hit = again.lookup(dev, keys[i]);
    ASSERT_TRUE(hit.has_value()) << i;
    EXPECT_EQ(*hit, chosen[i]);
    auto c = again.config(dev, keys[i], /*tune_on_miss=*/true);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, chosen[i]);
  }
  EXPECT_EQ(again.candidates_timed(), 0u);  // reused: nothing was timed
  // Another size bucket, dtype or kernel is a miss, answered with the default.
  EXPECT_FALSE(again.lookup(dev, convert_key(DType::F16, DType::F32, 1 << 20)).has_value());
  EXPECT_FALSE(again.lookup(dev, convert_key(DType::BF16, DType::F32, 1 << 14)).has_value());
  auto miss = again.config(dev, gemv_key(DType::F16, 128, 128));
  ASSERT_TRUE(miss);
  EXPECT_EQ(*miss, default_config(Kernel::gemv));
  EXPECT_EQ(again.candidates_timed(), 0u);
  // Another space (the full one) is a miss: the space's hash is in the key.
  Tuner full = Tuner::open(path, TuneOptions{});
  EXPECT_FALSE(full.lookup(dev, keys[0]).has_value());
  // Tuning on first use fills the miss.
  auto first_use = again.config(dev, gemv_key(DType::F16, 128, 128), true);
  ASSERT_TRUE(first_use);
  EXPECT_GT(again.candidates_timed(), 0u);
  EXPECT_TRUE(again.lookup(dev, gemv_key(DType::F16, 128, 128)).has_value());
  fs::remove_all(dir);
}

// Deliberately wrong variants (LaunchConfig::fault: one value off, half the
// work skipped, a build that fails) are run, rejected, and never chosen, even
// though skipping work makes one of them the fastest.
TEST_P(GpuTune, WrongVariantsAreRejectedAndNeverChosen) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  std::vector<TuneKey> keys = {convert_key(DType::BF16, DType::F32, 1 << 14), gemv_key(DType::F32, 128, 128)};
  if (!dev.builds_variants()) {  // cheap where nothing is built at run time: every kernel
    keys.push_back(mxfp4_key(DType::F32, 1 << 14));
    keys.push_back(checksum_key(1 << 14));
  }
  for (const TuneKey& key : keys) {
    TuneOptions o = quick(GetParam());
    const LaunchConfig good = *normalize_config(key.kernel, default_config(key.kernel));
    o.restrict_space = [good](const LaunchConfig& c) { return c == good; };
    o.extra_candidates = {with_fault(key.kernel, 1), with_fault(key.kernel, 2), with_fault(key.kernel, 3)};
    Tuner t = Tuner::open(sft::test::temp_dir("gpu_tune_fault") / "tune.json", o);
    auto r = t.tune(dev, key);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(r->space, 4u);
    EXPECT_EQ(r->tried, 4u);
    EXPECT_EQ(r->rejected, 3u) << kernel_name(key.kernel);
    EXPECT_EQ(r->best, good);
    EXPECT_EQ(r->best.fault, 0u);
    ASSERT_EQ(r->rejections.size(), 3u);
    std::set<std::uint32_t> faults;
    for (const auto& rej : r->rejections) faults.insert(rej.config.fault);
    EXPECT_EQ(faults, (std::set<std::uint32_t>{1, 2, 3}));
    for (const auto& rej : r->rejections) {
      if (rej.config.fault == 3)
        EXPECT_NE(rej.why.find("gpu_driver"), std::string::npos) << rej.why;
      else
        EXPECT_NE(rej.why.find("differs from the reference"), std::string::npos) << rej.why;
    }
    for (const auto& [c, s] : r->timings) EXPECT_EQ(c.fault, 0u);
    // Only the right one was cached.
    EXPECT_EQ(t.lookup(dev, key), good);
    // And the tuner refuses to choose when every candidate is wrong.
    o.restrict_space = [](const LaunchConfig&) { return false; };
    o.extra_candidates = {with_fault(key.kernel, 1), with_fault(key.kernel, 2)};
    Tuner none = Tuner::open(sft::test::temp_dir("gpu_tune_fault2") / "tune.json", o);
    auto n = none.tune(dev, key);
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error().code, Errc::gpu_verify_failed);
    EXPECT_EQ(none.entries(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuTune, ::testing::ValuesIn(sft::test::gpu_backend_names()),
                         [](const auto& info) { return info.param; });

// ------------------------------------------------------------------- the cache

TEST(GpuTuneCache, CorruptFilesAreIgnoredWithAWarning) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  auto dir = sft::test::temp_dir("gpu_tune_corrupt");
  auto path = dir / "tune.json";
  const TuneKey key = checksum_key(1 << 14);
  const std::string bad[] = {
      std::string("\x00\xff\xfe garbage", 11),
      "{\"format\":\"sft-tune-cache\",\"version\":2,\"entries\":[",  // truncated
      "[]",
      "{\"format\":\"sft-tune-cache\",\"version\":1,\"entries\":[]}",  // an older sft's
      "{\"format\":\"sft-tune-cache\",\"version\":3,\"entries\":[]}",
      "{\"format\":\"something-else\",\"version\":2,\"entries\":[]}",
      "{\"format\":\"sft-tune-cache\",\"version\":2,\"entries\":{}}",
      "{\"format\":\"sft-tune-cache\",\"version\":1e400,\"entries\":[]}",
      std::string(1 << 10, '{'),
  };
  for (const std::string& text : bad) {
    write_text(path, text);
    Tuner t = Tuner::open(path, quick());
    ASSERT_EQ(t.warnings().size(), 1u) << text.substr(0, 40);
    EXPECT_NE(t.warnings()[0].find("ignored"), std::string::npos) << t.warnings()[0];
    EXPECT_EQ(t.entries(), 0u);
    auto c = t.config(*dev, key);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c, default_config(Kernel::checksum));
    // Tuning again and saving replaces the corrupt file with a good one.
    ASSERT_TRUE(t.tune(*dev, key));
    ASSERT_TRUE(t.save());
    Tuner fixed = Tuner::open(path, quick());
    EXPECT_TRUE(fixed.warnings().empty());
    EXPECT_TRUE(fixed.lookup(*dev, key).has_value());
  }
  // A file too large to be a cache is not even parsed.
  write_text(path, std::string(17 << 20, ' '));
  Tuner huge = Tuner::open(path, quick());
  ASSERT_EQ(huge.warnings().size(), 1u);
  EXPECT_NE(huge.warnings()[0].find("larger than"), std::string::npos);
  fs::remove_all(dir);
}

TEST(GpuTuneCache, MalformedEntriesAreDroppedOneByOne) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  auto dir = sft::test::temp_dir("gpu_tune_entries");
  auto path = dir / "tune.json";
  const TuneKey key = convert_key(DType::BF16, DType::F32, 1 << 14);
  LaunchConfig chosen;
  {
    Tuner t = Tuner::open(path, quick());
    auto r = t.tune(*dev, key);
    ASSERT_TRUE(r);
    chosen = r->best;
    ASSERT_TRUE(t.save());
  }
  std::string good = read_text(path);
  auto close = good.rfind("\n]}");
  ASSERT_NE(close, std::string::npos);
  const std::string ok = R"("backend":"cpu","device":"d","driver":"d","source":"0123456789abcdef","space":"0123456789abcdef")";
  auto entry = [&](const std::string& fields) { return "{" + ok + "," + fields + "}"; };
  const std::string tail = R"("seconds":1,"tuned":5)";
  // Entries that must each be refused: wrong types, values out of range, unknown names.
  const std::string entries[] = {
      R"(7)",
      R"({"backend":"cpu"})",
      R"({"backend":"metal","device":"d","driver":"d","source":"0123456789abcdef","space":"0123456789abcdef","kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":1,"tuned":5})",
      entry(R"("kernel":"fft","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F99","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":99,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":-1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L0 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L96 E1 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E4294967297 V1 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V3 M0 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M3 U1 K1 R0 S0 W0",)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":7,)" + tail),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":-1,"tuned":5)"),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":"fast","tuned":5)"),
      entry(R"("kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":1,"tuned":"now")"),
      R"({"backend":"cpu","device":"d","driver":"d","source":"xyz","space":"0123456789abcdef","kernel":"convert","in":"F16","out":"F32","bucket":1,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":1,"tuned":5})",
  };
  std::string mixed = good.substr(0, close);
  for (const auto& e : entries) mixed += ",\n " + e;
  mixed += good.substr(close);
  write_text(path, mixed);
  Tuner t = Tuner::open(path, quick());
  ASSERT_EQ(t.warnings().size(), 1u);
  EXPECT_NE(t.warnings()[0].find(std::to_string(std::size(entries)) + " malformed entries ignored"), std::string::npos)
      << t.warnings()[0];
  EXPECT_EQ(t.entries(), 1u);  // the good entry survives
  auto hit = t.lookup(*dev, key);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, chosen);
  EXPECT_EQ(t.candidates_timed(), 0u);
  fs::remove_all(dir);
}

// Regression (issue 13): the cache was written to `path.tmp<pid>` with
// ofstream, which follows a symlink planted there (overwriting its target),
// shares the name between threads and never syncs. Now a fresh temporary is
// created exclusively, synced and renamed over the cache.
TEST(GpuTuneCache, SaveNeverFollowsAPlantedSymlinkAndIsAtomic) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  auto dir = sft::test::temp_dir("gpu_tune_symlink");
  auto path = dir / "tune.json";
  auto victim = dir / "victim";
  write_text(victim, "precious");
  fs::path planted = path;
  planted += ".tmp" + std::to_string(::getpid());
  fs::create_symlink(victim, planted);
  Tuner t = Tuner::open(path, quick());
  ASSERT_TRUE(t.tune(*dev, checksum_key(1 << 14)));
  ASSERT_TRUE(t.save());
  EXPECT_EQ(read_text(victim), "precious");
  EXPECT_TRUE(fs::is_symlink(planted));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(path)));
  Tuner back = Tuner::open(path, quick());
  EXPECT_TRUE(back.warnings().empty());
  EXPECT_EQ(back.entries(), 1u);
  // Threads saving at once each leave a whole file (one of theirs), no temporary behind.
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { ok[i] = static_cast<bool>(t.save()); });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ok[i]);
  Tuner after = Tuner::open(path, quick());
  EXPECT_TRUE(after.warnings().empty());
  EXPECT_EQ(after.entries(), 1u);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".sft-tmp-"), std::string::npos) << e.path();
  fs::remove_all(dir);
}

// The cache stays under its 16 MiB cap: when an entry would push it over,
// the oldest entries go.
TEST(GpuTuneCache, SavingEvictsTheOldestBeyondTheCap) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  auto dir = sft::test::temp_dir("gpu_tune_cap");
  auto path = dir / "tune.json";
  const std::uint64_t cap = 16 << 20;
  std::string s = "{\"format\":\"sft-tune-cache\",\"version\":2,\"entries\":[";
  std::size_t n = 0;
  // Entries until the next would not fit: the one tune() adds (a longer
  // device name) cannot fit either.
  for (;; ++n) {
    std::string e = R"({"backend":"cpu","device":"another machine","driver":"d)" + std::to_string(n / 64) +
                    R"(","source":"0123456789abcdef","space":"0123456789abcdef","kernel":"convert","in":"F16","out":"F32","bucket":)" +
                    std::to_string(n % 64) + R"(,"config":"L64 E1 V1 M0 U1 K1 R0 S0 W0","seconds":1,"tuned":)" +
                    std::to_string(1000 + n) + "}";
    if (s.size() + 3 + e.size() + 4 > cap) break;
    s += (n ? ",\n " : "\n ") + e;
  }
  s += "\n]}\n";
  ASSERT_LE(s.size(), cap);
  write_text(path, s);
  Tuner t = Tuner::open(path, quick());
  ASSERT_TRUE(t.warnings().empty()) << t.warnings()[0];
  ASSERT_EQ(t.entries(), n);
  ASSERT_TRUE(t.tune(*dev, checksum_key(1 << 14)));
  ASSERT_TRUE(t.save());
  EXPECT_LE(fs::file_size(path), cap);
  Tuner back = Tuner::open(path, quick());
  EXPECT_TRUE(back.warnings().empty());
  EXPECT_LT(back.entries(), n + 1);
  EXPECT_TRUE(back.lookup(*dev, checksum_key(1 << 14)).has_value());  // the newest stays
  const std::string text = read_text(path);
  EXPECT_EQ(text.find("\"tuned\":1000}"), std::string::npos);  // the oldest went
  EXPECT_NE(text.find("\"tuned\":" + std::to_string(1000 + n - 1) + "}"), std::string::npos);
  fs::remove_all(dir);
}

// ------------------------------------------------------------------- the table

namespace {

TuneKey at_bucket(TuneKey k, unsigned b) {
  k.size = std::uint64_t{1} << b;
  return k;
}

}  // namespace

TEST(GpuTuneTable, RoundTripAndNearestBucket) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  const TuneKey key = convert_key(DType::F16, DType::F32, 1 << 12);
  const auto space = config_space(*dev, key);
  const auto hash = config_space_hash(space);
  TuneTable t = TuneTable::for_device(dev->info());
  ASSERT_GE(space.size(), 3u);
  t.add(at_bucket(key, 12), hash, space[0]);
  t.add(at_bucket(key, 20), hash, space[1]);
  t.add(gemv_key(DType::BF16, 64, 64), 7, candidates(Kernel::gemv)[5]);
  EXPECT_EQ(t.size(), 3u);
  auto back = TuneTable::parse(t.serialize());
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(back->serialize(), t.serialize());
  EXPECT_EQ(back->size(), 3u);
  const DeviceInfo& info = dev->info();
  EXPECT_EQ(back->lookup(info, at_bucket(key, 12), hash), space[0]);
  EXPECT_EQ(back->lookup(info, at_bucket(key, 13), hash), space[0]);
  EXPECT_EQ(back->lookup(info, at_bucket(key, 16), hash), space[1]);  // a tie: the larger
  EXPECT_EQ(back->lookup(info, at_bucket(key, 17), hash), space[1]);
  EXPECT_EQ(back->lookup(info, at_bucket(key, 40), hash), space[1]);
  EXPECT_EQ(back->lookup(info, at_bucket(key, 2), hash), space[0]);
  EXPECT_EQ(back->lookup(info, gemv_key(DType::BF16, 4096, 4096), 7), candidates(Kernel::gemv)[5]);
  // Not for other dtypes, another space, another device or kernel source.
  EXPECT_FALSE(back->lookup(info, convert_key(DType::BF16, DType::F32, 1 << 12), hash));
  EXPECT_FALSE(back->lookup(info, key, hash + 1));
  DeviceInfo other = info;
  other.name = "another device";
  EXPECT_FALSE(back->lookup(other, key, hash));
  other = info;
  other.driver_version = "another driver";
  EXPECT_EQ(back->lookup(other, key, hash), space[0]);  // same device, other driver: still used

  // Saved and loaded through a Tuner: after the cache, before the default.
  auto dir = sft::test::temp_dir("gpu_tune_table");
  ASSERT_TRUE(t.save(dir / "table.json"));
  auto loaded = TuneTable::load(dir / "table.json");
  ASSERT_TRUE(loaded);
  TuneOptions all;  // the full space, as the table's hash was taken
  Tuner tuner = Tuner::open(dir / "tune.json", all);
  EXPECT_EQ(*tuner.config(*dev, at_bucket(key, 14)), default_config(Kernel::convert));
  tuner.add_table(*loaded);
  EXPECT_EQ(*tuner.config(*dev, at_bucket(key, 14)), space[0]);
  EXPECT_EQ(tuner.candidates_timed(), 0u);
  ::setenv("SFT_TUNE_TABLE", (dir.string() + "/missing.json:" + (dir / "table.json").string()).c_str(), 1);
  Tuner from_env = Tuner::open(dir / "tune.json", all);
  ::unsetenv("SFT_TUNE_TABLE");
  ASSERT_EQ(from_env.warnings().size(), 1u);  // the missing one
  EXPECT_NE(from_env.warnings()[0].find("missing.json"), std::string::npos);
  EXPECT_EQ(*from_env.config(*dev, at_bucket(key, 22)), space[1]);
  fs::remove_all(dir);
}

TEST(GpuTuneTable, CorruptTablesAreRefusedWithTuneCache) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  TuneTable t = TuneTable::for_device(dev->info());
  t.add(checksum_key(1 << 12), 1, candidates(Kernel::checksum)[0]);
  t.add(checksum_key(1 << 20), 1, candidates(Kernel::checksum)[1]);
  const std::string good = t.serialize();
  ASSERT_TRUE(TuneTable::parse(good));
  auto refused = [](const std::string& text) {
    auto r = TuneTable::parse(text);
    if (r) return false;
    EXPECT_EQ(r.error().code, Errc::tune_cache) << r.error().to_string();
    return true;
  };
  // Every single flipped bit, every truncation.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    EXPECT_TRUE(refused(bad)) << "byte " << i;
  }
  for (std::size_t n = 0; n + 1 < good.size(); ++n) EXPECT_TRUE(refused(good.substr(0, n))) << n;
  // Well-formed digests over bad contents: each refused for what it holds.
  auto sealed = [](std::string body) {
    std::uint64_t d = digest(std::as_bytes(std::span(body.data(), body.size())));
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(d));
    return body + ",\"digest\":\"" + hex + "\"}\n";
  };
  const std::string head = good.substr(0, good.find("\"rows\":["));
  for (const std::string& rows :
       {std::string("\"rows\":[{\"kernel\":\"fft\",\"in\":\"U8\",\"out\":\"U64\",\"space\":\"0000000000000001\",\"buckets\":[]}]"),
        std::string("\"rows\":[{\"kernel\":\"checksum\",\"in\":\"U8\",\"out\":\"U64\",\"space\":\"0000000000000001\",\"buckets\":[[99,\"L64 E1 V1 M0 U1 K1 R0 S0 W0\"]]}]"),
        std::string("\"rows\":[{\"kernel\":\"checksum\",\"in\":\"U8\",\"out\":\"U64\",\"space\":\"0000000000000001\",\"buckets\":[[9,\"L64 E1 V1 M0 U1 K8 R0 S0 W0\"]]}]"),
        std::string("\"rows\":[{\"kernel\":\"checksum\",\"in\":\"U8\",\"out\":\"U64\",\"space\":\"0000000000000001\",\"buckets\":[[9,\"L64 E1 V1 M0 U1 K1 R0 S0 W0\"],[9,\"L64 E1 V1 M0 U1 K1 R0 S0 W0\"]]}]"),
        std::string("\"rows\":[{\"kernel\":\"checksum\",\"in\":\"U8\",\"out\":\"U64\",\"space\":\"1\",\"buckets\":[]}]"),
        std::string("\"rows\":7")})
    EXPECT_TRUE(refused(sealed(head + rows))) << rows;
  EXPECT_TRUE(refused(sealed("{\"format\":\"sft-tune-table\",\"version\":2,\"backend\":\"cpu\",\"device\":\"d\",\"driver\":\"d\",\"source\":\"0000000000000000\",\"rows\":[]")));
  EXPECT_TRUE(refused(sealed("[1,2,3")));
  EXPECT_TRUE(refused(std::string(5 << 20, ' ')));
  auto dir = sft::test::temp_dir("gpu_tune_table_bad");
  write_text(dir / "t.json", good.substr(0, good.size() / 2));
  auto l = TuneTable::load(dir / "t.json");
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, Errc::tune_cache);
  EXPECT_NE(l.error().message.find("t.json"), std::string::npos);
  auto m = TuneTable::load(dir / "none.json");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, Errc::tune_cache);
  fs::remove_all(dir);
}
