// sft's kernel cache (compiled variants kept across processes): a variant is
// built once and loaded by the next device; a corrupt, truncated, foreign or
// symlinked entry is rejected, rebuilt and replaced; the directory stays under
// its cap. Runs on the backends that build variants at run time (OpenCL;
// CUDA with NVRTC); the CPU backend builds nothing and skips.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gpu_support.hpp"
#include "sft/gpu/kernels.hpp"
#include "test_support.hpp"

using namespace sft;
using namespace sft::gpu;
namespace fs = std::filesystem;

namespace {

class GpuKernelCache : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const char* old = std::getenv("SFT_KERNEL_CACHE");
    saved_ = old ? old : "";
    dir_ = sft::test::temp_dir("kernel_cache_" + GetParam());
    ::setenv("SFT_KERNEL_CACHE", dir_.c_str(), 1);
  }
  void TearDown() override {
    ::setenv("SFT_KERNEL_CACHE", saved_.c_str(), 1);
    ::unsetenv("SFT_KERNEL_CACHE_MAX_MB");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".bin") out.push_back(e.path());
    return out;
  }
  std::uint64_t total_bytes() const {
    std::uint64_t n = 0;
    for (const auto& p : entries()) n += fs::file_size(p);
    return n;
  }
  std::string saved_;
  fs::path dir_;
};

// Open the backend; skip where it has no device or builds nothing at run time.
#define OPEN_BUILDER_OR_SKIP(var)                                                         \
  SFT_OPEN_GPU_OR_SKIP(var, GetParam());                                                 \
  if (!var.builds_variants()) GTEST_SKIP() << GetParam() << " builds no variant at run time"

// F16 -> F32 of a few values through one variant, checked against the values.
void convert_through(const Device& dev, const LaunchConfig& c) {
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const std::vector<std::uint16_t> in = {0x3C00, 0xC000, 0x0001, 0x7C00, 0x3555, 0x0000};
  const std::vector<std::uint32_t> want = {0x3F800000, 0xC0000000, 0x33800000, 0x7F800000, 0x3EAAA000, 0};
  auto a = dev.alloc(in.size() * 2), b = dev.alloc(in.size() * 4);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(q->write(*a, 0, in.data(), in.size() * 2));
  auto e = convert(*q, In{*a}, DType::F16, Out{*b}, DType::F32, in.size(), c);
  ASSERT_TRUE(e) << e.error().to_string();
  std::vector<std::uint32_t> got(in.size());
  ASSERT_TRUE(q->read(*b, 0, got.data(), got.size() * 4));
  ASSERT_TRUE(q->finish());
  EXPECT_EQ(got, want) << config_string(c);
}

const LaunchConfig kVariant{32, 3, 2, 1, 1, 1, 0, true, true};

}  // namespace

TEST_P(GpuKernelCache, BuiltOnceThenLoadedByTheNextDevice) {
  OPEN_BUILDER_OR_SKIP(dev);
  convert_through(dev, kVariant);
  convert_through(dev, kVariant);  // the same device keeps it: no second build
  auto s = dev.kernel_builds();
  EXPECT_EQ(s.built, 1u);
  EXPECT_EQ(s.cache_stored, 1u);
  EXPECT_EQ(s.from_cache, 0u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(entries().size(), 1u);
  // A new device (as a new process would) loads it.
  auto next = open_device(GetParam());
  ASSERT_TRUE(next);
  convert_through(*next, kVariant);
  auto t = next->kernel_builds();
  EXPECT_EQ(t.built, 0u);
  EXPECT_EQ(t.from_cache, 1u);
  EXPECT_EQ(t.cache_rejected, 0u);
  // Switched off, nothing is read or written.
  ::setenv("SFT_KERNEL_CACHE", "off", 1);
  auto off = open_device(GetParam());
  ASSERT_TRUE(off);
  convert_through(*off, kVariant);
  EXPECT_EQ(off->kernel_builds().from_cache, 0u);
  EXPECT_EQ(off->kernel_builds().built, 1u);
  EXPECT_EQ(off->kernel_builds().cache_stored, 0u);
}

TEST_P(GpuKernelCache, DamagedEntriesAreRejectedRebuiltAndReplaced) {
  OPEN_BUILDER_OR_SKIP(dev);
  convert_through(dev, kVariant);
  LaunchConfig other = kVariant;
  other.items_per_thread = 5;
  convert_through(dev, other);
  ASSERT_EQ(entries().size(), 2u);
  // One entry is damaged, the other left alone: whichever variant the
  // damaged one holds is rebuilt, the other loaded.
  auto names = entries();
  const fs::path victim = names[0];
  const fs::path donor = names[1];
  const auto good = sft::test::read_all(victim);
  const auto foreign = sft::test::read_all(donor);
  ASSERT_GT(good.size(), 64u);
  auto flip = [](std::vector<std::byte> v, std::size_t at) {
    v[at] ^= std::byte{0x10};
    return v;
  };
  struct Damage {
    const char* what;
    std::function<void()> apply;
  };
  const std::vector<Damage> damages = {
      {"a flipped payload byte", [&] { sft::test::write_all(victim, flip(good, good.size() - 3)); }},
      {"a flipped key byte", [&] { sft::test::write_all(victim, flip(good, 45)); }},
      {"a flipped header byte", [&] { sft::test::write_all(victim, flip(good, 17)); }},
      {"bad magic", [&] { sft::test::write_all(victim, flip(good, 0)); }},
      {"truncated", [&] { sft::test::write_all(victim, std::vector<std::byte>(good.begin(), good.end() - 100)); }},
      {"a byte too many", [&] {
         auto v = good;
         v.push_back(std::byte{0});
         sft::test::write_all(victim, v);
       }},
      {"empty", [&] { sft::test::write_all(victim, {}); }},
      {"another variant's entry", [&] { sft::test::write_all(victim, foreign); }},
      {"a symlink to a good entry", [&] {
         fs::remove(victim);
         sft::test::write_all(dir_ / "elsewhere", good);
         fs::create_symlink(dir_ / "elsewhere", victim);
       }},
  };
  for (const Damage& d : damages) {
    SCOPED_TRACE(d.what);
    d.apply();
    auto a = open_device(GetParam());
    ASSERT_TRUE(a);
    convert_through(*a, kVariant);
    convert_through(*a, other);
    auto s = a->kernel_builds();
    EXPECT_EQ(s.cache_rejected, 1u);
    EXPECT_EQ(s.built, 1u);
    EXPECT_EQ(s.from_cache, 1u);
    EXPECT_EQ(s.cache_stored, 1u);
    // Replaced by a good entry: the next device loads both.
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(victim)));
    auto b = open_device(GetParam());
    ASSERT_TRUE(b);
    convert_through(*b, kVariant);
    convert_through(*b, other);
    EXPECT_EQ(b->kernel_builds().from_cache, 2u);
    EXPECT_EQ(b->kernel_builds().built, 0u);
  }
}

TEST_P(GpuKernelCache, TheDirectoryStaysUnderItsCap) {
  OPEN_BUILDER_OR_SKIP(dev);
  convert_through(dev, kVariant);
  const std::uint64_t one = total_bytes();
  ASSERT_GT(one, 0u);
  // A cap of about two and a half entries (binaries differ a little in
  // size): of four variants stored, some are evicted.
  const double cap_mb = static_cast<double>(one) * 2.5 / 1048576.0;
  ::setenv("SFT_KERNEL_CACHE_MAX_MB", std::to_string(cap_mb).c_str(), 1);
  auto d = open_device(GetParam());
  ASSERT_TRUE(d);
  for (std::uint32_t e : {6u, 7u, 9u}) {
    LaunchConfig c = kVariant;
    c.items_per_thread = e;
    convert_through(*d, c);
    EXPECT_LE(total_bytes(), static_cast<std::uint64_t>(cap_mb * 1048576.0) + 1);
  }
  EXPECT_GE(entries().size(), 1u);
  EXPECT_LT(entries().size(), 4u);
  EXPECT_EQ(d->kernel_builds().cache_stored, 3u);
  // A cap below one entry stores nothing, and nothing breaks.
  ::setenv("SFT_KERNEL_CACHE_MAX_MB", "0.001", 1);
  auto tiny = open_device(GetParam());
  ASSERT_TRUE(tiny);
  LaunchConfig c = kVariant;
  c.items_per_thread = 11;
  convert_through(*tiny, c);
  EXPECT_EQ(tiny->kernel_builds().cache_stored, 0u);
}

// The backends that build variants at run time (OpenCL from source, CUDA with
// NVRTC). The CPU backend has every variant compiled in, so it has no kernel
// cache: instantiating the suite for it would only skip (a skip fails CI).
INSTANTIATE_TEST_SUITE_P(Backends, GpuKernelCache, ::testing::Values(std::string("opencl"), std::string("cuda")),
                         [](const auto& info) { return info.param; });

// What leaving the CPU backend out above rests on: it builds nothing at run
// time, so it never reads or writes the kernel cache.
TEST(GpuKernelCacheCpu, TheCpuBackendBuildsNoVariantAtRunTime) {
  auto dev = sft::gpu::open_device("cpu");
  ASSERT_TRUE(dev) << dev.error().to_string();
  EXPECT_FALSE(dev->builds_variants());
  EXPECT_EQ(dev->kernel_builds().cache_stored, 0u);
}
