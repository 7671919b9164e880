// The autotuner: a choice is made among the candidates, cached, reused without
// timing anything, and a corrupt cache file is ignored with a warning.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "gpu_support.hpp"
#include "sft/gpu/tune.hpp"
#include "test_support.hpp"

using namespace sft;
using namespace sft::gpu;
namespace fs = std::filesystem;

namespace {

TuneOptions quick() {
  TuneOptions o;
  o.warmup = 1;
  o.repetitions = 2;
  o.max_size = 1 << 14;
  return o;
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

bool is_candidate(Kernel k, const LaunchConfig& c) {
  auto all = candidates(k);
  return std::find(all.begin(), all.end(), c) != all.end();
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
    EXPECT_FALSE(candidates(k).empty());
    for (const auto& c : candidates(k)) EXPECT_TRUE(check_config(c)) << kernel_name(k);
  }
}

TEST(GpuTuneKeys, CacheLocationFollowsTheEnvironment) {
  const char* old = std::getenv("SFT_TUNE_CACHE");
  std::string saved = old ? old : "";
  ::setenv("SFT_TUNE_CACHE", "/tmp/somewhere/tune.json", 1);
  EXPECT_EQ(default_cache_path(), fs::path("/tmp/somewhere/tune.json"));
  ::unsetenv("SFT_TUNE_CACHE");
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  std::string saved_xdg = xdg ? xdg : "";
  ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(default_cache_path(), fs::path("/tmp/xdg/sft/tune.json"));
  if (saved_xdg.empty()) ::unsetenv("XDG_CACHE_HOME");
  else ::setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (!saved.empty()) ::setenv("SFT_TUNE_CACHE", saved.c_str(), 1);
}

TEST_P(GpuTune, ChoiceIsCachedAndReusedWithoutTiming) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto dir = sft::test::temp_dir("gpu_tune_" + GetParam());
  auto path = dir / "sub" / "tune.json";  // the directory is created on save
  const TuneKey keys[] = {convert_key(DType::F16, DType::F32, 1 << 14), gemv_key(DType::BF16, 128, 128),
                          checksum_key(1 << 14), mxfp4_key(DType::BF16, 1 << 14)};
  std::vector<LaunchConfig> chosen;
  {
    Tuner t = Tuner::open(path, quick());
    EXPECT_TRUE(t.warnings().empty());
    EXPECT_EQ(t.entries(), 0u);
    for (const TuneKey& k : keys) {
      EXPECT_FALSE(t.lookup(dev, k).has_value());
      auto r = t.tune(dev, k);
      ASSERT_TRUE(r) << kernel_name(k.kernel) << ": " << r.error().to_string();
      EXPECT_GT(r->tried, 0u);
      EXPECT_EQ(r->rejected, 0u) << kernel_name(k.kernel);  // every candidate computes the same thing
      EXPECT_TRUE(is_candidate(k.kernel, r->best));
      EXPECT_GT(r->seconds, 0.0);
      chosen.push_back(r->best);
    }
    EXPECT_EQ(t.entries(), std::size(keys));
    EXPECT_GT(t.candidates_timed(), 0u);
    ASSERT_TRUE(t.save());
  }
  Tuner again = Tuner::open(path, quick());
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
  // Tuning on first use fills the miss.
  auto first_use = again.config(dev, gemv_key(DType::F16, 128, 128), true);
  ASSERT_TRUE(first_use);
  EXPECT_GT(again.candidates_timed(), 0u);
  EXPECT_TRUE(again.lookup(dev, gemv_key(DType::F16, 128, 128)).has_value());
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuTune, ::testing::ValuesIn(sft::test::gpu_backend_names()),
                         [](const auto& info) { return info.param; });

TEST(GpuTuneCache, CorruptFilesAreIgnoredWithAWarning) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  auto dir = sft::test::temp_dir("gpu_tune_corrupt");
  auto path = dir / "tune.json";
  const TuneKey key = checksum_key(1 << 14);
  const std::string bad[] = {
      std::string("\x00\xff\xfe garbage", 11),
      "{\"format\":\"sft-tune-cache\",\"version\":1,\"entries\":[",  // truncated
      "[]",
      "{\"format\":\"sft-tune-cache\",\"version\":2,\"entries\":[]}",
      "{\"format\":\"something-else\",\"version\":1,\"entries\":[]}",
      "{\"format\":\"sft-tune-cache\",\"version\":1,\"entries\":{}}",
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
  std::ifstream in(path);
  std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = good.rfind("\n]}");
  ASSERT_NE(close, std::string::npos);
  // Entries that must each be refused: wrong types, values out of range, unknown names.
  const std::string entries[] = {
      R"(7)",
      R"({"backend":"cpu"})",
      R"({"backend":"metal","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"fft","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F99","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":99,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":0,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":96,"items_per_thread":1,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":4294967297,"vector_width":1,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":3,"seconds":1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":-1})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":"fast"})",
      R"({"backend":"cpu","device":"d","driver":"d","source":"0","kernel":"convert","in":"F16","out":"F32","bucket":-1,"local_size":64,"items_per_thread":1,"vector_width":1,"seconds":1})",
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
