// The backend interface of sft_gpu: selection, memory, queues, events and the
// checks every launch goes through, on each backend that has a device here.
#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "gpu_support.hpp"
#include "sft/gpu/device.hpp"
#include "sft/gpu/kernels.hpp"

using namespace sft;
using namespace sft::gpu;

TEST(GpuSelection, BackendNamesRoundTrip) {
  for (Backend b : {Backend::cpu, Backend::opencl, Backend::cuda}) {
    auto parsed = parse_backend(backend_name(b));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, b);
  }
  EXPECT_FALSE(parse_backend("CPU").has_value());
  EXPECT_FALSE(parse_backend("vulkan").has_value());
  EXPECT_TRUE(backend_built(Backend::cpu));
}

TEST(GpuSelection, UnknownBackendIsAnErrorValue) {
  auto d = open_device("vulkan");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::gpu_no_backend);
  EXPECT_NE(d.error().message.find("vulkan"), std::string::npos);
}

TEST(GpuSelection, CpuHasOneDevice) {
  auto d = open_device(Backend::cpu, 1);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::gpu_no_device);
  auto list = list_devices(Backend::cpu);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].host_unified);
  EXPECT_GT((*list)[0].global_memory, 0u);
}

TEST(GpuSelection, AutomaticPicksADeviceAndSaysWhyItPassedOthersOver) {
  auto d = open_device("auto");
  ASSERT_TRUE(d) << d.error().to_string();
  Backend chosen = d->backend();
  // Everything before the chosen backend in the order CUDA, OpenCL, CPU was passed over.
  std::size_t passed = chosen == Backend::cuda ? 0 : chosen == Backend::opencl ? 1 : 2;
  ASSERT_EQ(d->notes().size(), passed);
  if (passed >= 1) EXPECT_EQ(d->notes()[0].rfind("cuda: ", 0), 0u) << d->notes()[0];
  if (passed >= 2) EXPECT_EQ(d->notes()[1].rfind("opencl: ", 0), 0u) << d->notes()[1];
}

// Without a device (or a driver) CUDA must answer with an error value.
TEST(GpuSelection, CudaWithoutDeviceIsAnErrorValue) {
  auto d = open_device(Backend::cuda);
  if (d) GTEST_SKIP() << "a CUDA device is present: " << d->info().name;
  Errc c = d.error().code;
  EXPECT_TRUE(c == Errc::gpu_no_device || c == Errc::gpu_driver || c == Errc::gpu_no_backend) << d.error().to_string();
  auto list = list_devices(Backend::cuda);
  EXPECT_FALSE(list);
}

class GpuBackend : public ::testing::TestWithParam<std::string> {};

TEST_P(GpuBackend, DescribesItsDevice) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  const DeviceInfo& i = dev.info();
  EXPECT_EQ(backend_name(i.backend), GetParam());
  EXPECT_FALSE(i.name.empty());
  EXPECT_FALSE(i.driver_version.empty());
  EXPECT_GT(i.global_memory, 0u);
  EXPECT_GT(i.max_allocation, 0u);
  EXPECT_LE(i.max_allocation, i.global_memory);
  EXPECT_GE(i.max_work_group_size, 64u);
}

TEST_P(GpuBackend, WriteReadRoundTripFromPinnedAndPageableMemory) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  constexpr std::size_t n = 1 << 20;
  auto buf = dev.alloc(n);
  ASSERT_TRUE(buf) << buf.error().to_string();
  auto pinned = dev.alloc_host(n / 2);
  ASSERT_TRUE(pinned) << pinned.error().to_string();
  auto q = dev.queue();
  ASSERT_TRUE(q) << q.error().to_string();

  std::vector<std::byte> pageable(n / 2);
  for (std::size_t i = 0; i < n / 2; ++i) {
    pageable[i] = static_cast<std::byte>(i * 31 + 7);
    pinned->data()[i] = static_cast<std::byte>(i * 17 + 3);
  }
  auto w1 = q->write(*buf, 0, pinned->data(), n / 2);
  auto w2 = q->write(*buf, n / 2, pageable.data(), n / 2);
  ASSERT_TRUE(w1 && w2);
  std::vector<std::byte> back(n);
  auto r = q->read(*buf, 0, back.data(), n);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->wait());
  EXPECT_EQ(std::memcmp(back.data(), pinned->data(), n / 2), 0);
  EXPECT_EQ(std::memcmp(back.data() + n / 2, pageable.data(), n / 2), 0);
  auto secs = w1->seconds();
  if (secs) EXPECT_GE(*secs, 0.0);
  else EXPECT_EQ(secs.error().code, Errc::gpu_unsupported);
  auto ready = r->ready();
  ASSERT_TRUE(ready);
  EXPECT_TRUE(*ready);
}

TEST_P(GpuBackend, CopyBetweenBuffersAndAtOddOffsets) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto a = dev.alloc(1000), b = dev.alloc(1000);
  auto q = dev.queue();
  ASSERT_TRUE(a && b && q);
  std::vector<std::uint8_t> src(1000);
  std::iota(src.begin(), src.end(), std::uint8_t{1});
  ASSERT_TRUE(q->write(*a, 0, src.data(), 1000));
  ASSERT_TRUE(q->copy(*a, 3, *b, 101, 777));
  std::vector<std::uint8_t> back(777);
  ASSERT_TRUE(q->read(*b, 101, back.data(), 777));
  ASSERT_TRUE(q->finish());
  EXPECT_EQ(std::memcmp(back.data(), src.data() + 3, 777), 0);
}

TEST_P(GpuBackend, MapForWriteOnUnifiedMemory) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto buf = dev.alloc(4096);
  auto q = dev.queue();
  ASSERT_TRUE(buf && q);
  auto p = q->map_for_write(*buf, 100, 50);
  if (!p) {
    EXPECT_EQ(p.error().code, Errc::gpu_unsupported);
    GTEST_SKIP() << "map_for_write: " << p.error().to_string();
  }
  for (int i = 0; i < 50; ++i) (*p)[i] = static_cast<std::byte>(200 + i);
  ASSERT_TRUE(q->unmap(*buf, *p));
  std::uint8_t back[50];
  ASSERT_TRUE(q->read(*buf, 100, back, 50));
  ASSERT_TRUE(q->finish());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(back[i], 200 + i);
}

TEST_P(GpuBackend, RangesAreChecked) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto buf = dev.alloc(64);
  auto q = dev.queue();
  ASSERT_TRUE(buf && q);
  std::byte tmp[128] = {};
  auto w = q->write(*buf, 60, tmp, 5);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::gpu_bad_argument);
  auto r = q->read(*buf, ~std::uint64_t{0}, tmp, 2);  // offset + n overflows
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::gpu_bad_argument);
  auto z = dev.alloc(0);
  ASSERT_FALSE(z);
  EXPECT_EQ(z.error().code, Errc::gpu_bad_argument);
  auto huge = dev.alloc(dev.info().max_allocation + 1);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().code, Errc::gpu_bad_argument);
  // A zero-length copy is a completed no-op.
  auto empty = q->write(*buf, 64, tmp, 0);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->wait());
}

TEST_P(GpuBackend, BuffersOfAnotherDeviceAreRefused) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  SFT_OPEN_GPU_OR_SKIP(other, GetParam());
  auto foreign = other.alloc(16);
  auto q = dev.queue();
  ASSERT_TRUE(foreign && q);
  std::byte tmp[16] = {};
  auto w = q->write(*foreign, 0, tmp, 16);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::gpu_bad_argument);
}

TEST_P(GpuBackend, LaunchesAreTypeChecked) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto a = dev.alloc(64), b = dev.alloc(64);
  auto q = dev.queue();
  ASSERT_TRUE(a && b && q);
  auto sig = kernel_signature(Kernel::checksum);
  ASSERT_EQ(sig.size(), 7u);
  EXPECT_EQ(sig[0], ArgKind::buffer_in);
  EXPECT_EQ(sig[3], ArgKind::buffer_out);
  LaunchDims dims{64, 64};
  std::vector<KernelArg> good = {KernelArg::in(*a),  KernelArg::of_u64(0), KernelArg::of_u64(64), KernelArg::out(*b),
                                 KernelArg::of_u64(0), KernelArg::of_u64(0), KernelArg::of_u32(1)};
  auto ok = q->launch(Kernel::checksum, dims, good);
  ASSERT_TRUE(ok) << ok.error().to_string();

  auto wrong_kind = good;
  wrong_kind[2] = KernelArg::of_u32(64);  // n is u64
  auto r1 = q->launch(Kernel::checksum, dims, wrong_kind);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, Errc::gpu_bad_argument);
  EXPECT_NE(r1.error().message.find("argument 2"), std::string::npos) << r1.error().message;

  auto too_few = good;
  too_few.pop_back();
  auto r2 = q->launch(Kernel::checksum, dims, too_few);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::gpu_bad_argument);

  auto r3 = q->launch(Kernel::checksum, LaunchDims{100, 64}, good);  // not a multiple
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error().code, Errc::gpu_bad_argument);

  auto input_as_output = good;
  input_as_output[3] = KernelArg::in(*b);
  auto r4 = q->launch(Kernel::checksum, dims, input_as_output);
  ASSERT_FALSE(r4);
  EXPECT_EQ(r4.error().code, Errc::gpu_bad_argument);
  ASSERT_TRUE(q->finish());
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuBackend, ::testing::ValuesIn(sft::test::gpu_backend_names()),
                         [](const auto& info) { return info.param; });
