// upload(): device bytes equal file bytes, for the real fixtures on every
// backend and pipeline shape, for a generated checkpoint over 1 GiB (CPU
// backend, sparse file), with selections, conversion and verification.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "gpu_support.hpp"
#include "sft/file.hpp"
#include "sft/gpu/loader.hpp"
#include "test_support.hpp"

using namespace sft;
using namespace sft::gpu;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> real_fixtures() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sft::test::fixtures_dir() / "real", ec))
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Every region's device bytes against the file's bytes at its offset, and
// every tensor inside its region where the header says.
void expect_device_equals_file(Queue& q, const DeviceTensors& dt, const File& f, const std::string& label) {
  std::vector<std::byte> back;
  for (const DeviceRegion& r : dt.regions) {
    if (r.converted || r.bytes == 0) continue;
    std::vector<std::byte> file_bytes(r.bytes);
    ASSERT_TRUE(f.read_bytes(r.file_offset, file_bytes));
    constexpr std::uint64_t piece = 64 << 20;
    for (std::uint64_t done = 0; done < r.bytes; done += piece) {
      std::uint64_t n = std::min(piece, r.bytes - done);
      back.resize(n);
      ASSERT_TRUE(q.read(r.buffer, done, back.data(), n));
      ASSERT_TRUE(q.finish());
      ASSERT_EQ(std::memcmp(back.data(), file_bytes.data() + done, n), 0)
          << label << ": region at file offset " << r.file_offset << " differs in [" << done << ", +" << n << ")";
    }
  }
  for (const DeviceTensor& t : dt.tensors) {
    const TensorInfo* info = f.header().find(t.name);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_EQ(t.file_dtype, info->dtype);
    EXPECT_EQ(t.shape, std::vector<std::uint64_t>(info->shape.begin(), info->shape.end()));
    if (dt.regions[t.region].converted) continue;
    EXPECT_EQ(dt.regions[t.region].file_offset + t.offset, f.header().data_start() + info->data_offsets.begin) << t.name;
    EXPECT_EQ(t.bytes, info->byte_size());
  }
}

class GpuLoader : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(GpuLoader, RealFixturesArriveByteForByteWithEveryPipelineShape) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  auto fixtures = real_fixtures();
  SFT_FIXTURES_OR_SKIP(!fixtures.empty(), "no fixtures under " << sft::test::fixtures_dir() / "real");
  auto q = dev.queue();
  ASSERT_TRUE(q);
  struct Shape {
    const char* label;
    UploadOptions o;
  };
  std::vector<Shape> shapes(5);
  shapes[0].label = "default with verify";
  shapes[0].o.verify = true;
  shapes[1].label = "staged, tiny ring, pread, 3 readers";  // many chunks: every slot reused
  shapes[1].o.staging = Staging::staged;
  shapes[1].o.staging_buffers = 2;
  shapes[1].o.staging_bytes = 4096;
  shapes[1].o.read = ReadMethod::pread;
  shapes[1].o.reader_threads = 3;
  shapes[1].o.verify = true;
  shapes[2].label = "staged, mapping, 1 reader, small regions";
  shapes[2].o.staging = Staging::staged;
  shapes[2].o.staging_bytes = 8192;
  shapes[2].o.reader_threads = 1;
  shapes[2].o.max_region_bytes = 1;  // set per file below
  shapes[3].label = "direct where possible, pread";
  shapes[3].o.read = ReadMethod::pread;
  shapes[3].o.verify = true;
  shapes[4].label = "staged, 64 buffers";
  shapes[4].o.staging = Staging::staged;
  shapes[4].o.staging_buffers = 64;
  shapes[4].o.staging_bytes = 16384;
  for (const auto& path : fixtures) {
    auto f = File::open(path);
    ASSERT_TRUE(f) << path << ": " << f.error().to_string();
    for (const Shape& s : shapes) {
      std::uint64_t last_progress = 0;
      UploadOptions o = s.o;
      if (o.max_region_bytes) {  // as small as the largest tensor allows: many regions
        std::uint64_t largest = 1;
        for (const auto& t : f->header().tensors()) largest = std::max(largest, t.byte_size());
        o.max_region_bytes = largest;
      }
      o.progress = [&](const UploadProgress& p) {
        EXPECT_GE(p.bytes_done, last_progress);
        EXPECT_LE(p.bytes_done, p.bytes_total);
        last_progress = p.bytes_done;
      };
      auto up = upload(dev, *f, {}, o);
      if (!up && up.error().code == Errc::gpu_unsupported && o.staging == Staging::direct) continue;
      ASSERT_TRUE(up) << path.filename() << " [" << s.label << "]: " << up.error().to_string();
      std::string label = path.filename().string() + " [" + s.label + "]";
      EXPECT_EQ(up->stats.bytes, f->header().data_size()) << label;
      EXPECT_EQ(up->tensors.size(), f->header().size()) << label;
      EXPECT_EQ(up->stats.verified, o.verify);
      if (up->stats.bytes > 0) EXPECT_EQ(last_progress, up->stats.bytes) << label;
      if (s.o.max_region_bytes == 0) EXPECT_LE(up->regions.size(), 1u) << label;  // everything touches: one region
      expect_device_equals_file(*q, *up, *f, label);
      const File* files[] = {&*f};
      EXPECT_TRUE(verify(*q, *up, files)) << label;
    }
  }
}

TEST_P(GpuLoader, SelectionSplitsRegionsAndUnknownNamesAreErrors) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  // Four F32 tensors a, b, c, d of 16 bytes each, back to back.
  std::string json = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                     R"("b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]},)"
                     R"("c":{"dtype":"F32","shape":[2,2],"data_offsets":[32,48]},)"
                     R"("d":{"dtype":"F32","shape":[4],"data_offsets":[48,64]}})";
  auto bytes = sft::test::make_file(json, 64);
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f) << f.error().to_string();
  auto q = dev.queue();
  ASSERT_TRUE(q);

  Selection pick;
  pick.names = {"a", "c", "d"};
  auto up = upload(dev, *f, pick);
  ASSERT_TRUE(up) << up.error().to_string();
  ASSERT_EQ(up->tensors.size(), 3u);
  EXPECT_EQ(up->regions.size(), 2u);  // {a} and {c, d}
  EXPECT_EQ(up->stats.bytes, 48u);
  EXPECT_EQ(up->find("b"), nullptr);
  ASSERT_NE(up->find("d"), nullptr);
  EXPECT_EQ(up->find("d")->region, up->find("c")->region);
  EXPECT_EQ(up->find("d")->offset, 16u);
  expect_device_equals_file(*q, *up, *f, "selection");

  Selection filtered;
  filtered.filter = [](const TensorInfo& t) { return t.rank() == 1; };
  auto up2 = upload(dev, *f, filtered);
  ASSERT_TRUE(up2);
  EXPECT_EQ(up2->tensors.size(), 3u);
  EXPECT_EQ(up2->find("c"), nullptr);

  Selection missing;
  missing.names = {"a", "zz"};
  auto bad = upload(dev, *f, missing);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::not_found);
  EXPECT_EQ(bad.error().tensor, "zz");

  UploadOptions o;
  o.read = ReadMethod::pread;  // from_memory has no descriptor
  auto no_fd = upload(dev, *f, {}, o);
  ASSERT_FALSE(no_fd);
  EXPECT_EQ(no_fd.error().code, Errc::invalid_argument);
  UploadOptions few;
  few.staging_buffers = 1;
  auto r = upload(dev, *f, {}, few);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::gpu_bad_argument);
}

TEST_P(GpuLoader, ConvertsOnTheDeviceAfterUpload) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  // h: F16 [3] = 1, -2, 65504; b: BF16 [2] = 1.5, -0; i: I32 [1] (not converted).
  std::string json = R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},)"
                     R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]},)"
                     R"("i":{"dtype":"I32","shape":[1],"data_offsets":[10,14]}})";
  const unsigned char data[] = {0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0xC0, 0x3F, 0x00, 0x80, 1, 2, 3, 4};
  auto bytes = sft::test::make_file(json, std::string_view(reinterpret_cast<const char*>(data), sizeof data));
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f);
  UploadOptions o;
  o.convert_to = DType::F32;
  o.verify = true;
  auto up = upload(dev, *f, {}, o);
  ASSERT_TRUE(up) << up.error().to_string();
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const DeviceTensor* h = up->find("h");
  const DeviceTensor* b = up->find("b");
  const DeviceTensor* i = up->find("i");
  ASSERT_TRUE(h && b && i);
  EXPECT_EQ(h->dtype, DType::F32);
  EXPECT_EQ(h->file_dtype, DType::F16);
  EXPECT_EQ(h->bytes, 12u);
  EXPECT_EQ(i->dtype, DType::I32);
  float hv[3], bv[2];
  std::int32_t iv;
  ASSERT_TRUE(q->read(up->buffer(*h), h->offset, hv, 12));
  ASSERT_TRUE(q->read(up->buffer(*b), b->offset, bv, 8));
  ASSERT_TRUE(q->read(up->buffer(*i), i->offset, &iv, 4));
  ASSERT_TRUE(q->finish());
  EXPECT_EQ(hv[0], 1.0f);
  EXPECT_EQ(hv[1], -2.0f);
  EXPECT_EQ(hv[2], 65504.0f);
  EXPECT_EQ(bv[0], 1.5f);
  EXPECT_TRUE(bv[1] == 0.0f && std::signbit(bv[1]));
  EXPECT_EQ(iv, 0x04030201);
  UploadOptions bad;
  bad.convert_to = DType::I8;
  auto r = upload(dev, *f, {}, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::gpu_unsupported);
}

TEST_P(GpuLoader, VerifyFindsTheCorruptedBlockAndItsTensor) {
  SFT_OPEN_GPU_OR_SKIP(dev, GetParam());
  std::string json = R"({"first":{"dtype":"U8","shape":[5000],"data_offsets":[0,5000]},)"
                     R"("second":{"dtype":"U8","shape":[20000],"data_offsets":[5000,25000]}})";
  auto bytes = sft::test::make_file(json, 25000);
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f);
  auto up = upload(dev, *f);
  ASSERT_TRUE(up) << up.error().to_string();
  auto q = dev.queue();
  ASSERT_TRUE(q);
  const File* files[] = {&*f};
  ASSERT_TRUE(verify(*q, *up, files));
  // Flip one byte of "second" at data offset 13000: block 3 (12288..16383) of the region.
  const DeviceTensor* second = up->find("second");
  ASSERT_NE(second, nullptr);
  std::uint8_t byte = 0;
  ASSERT_TRUE(q->read(up->buffer(*second), 13000, &byte, 1));
  ASSERT_TRUE(q->finish());
  byte ^= 0x40;
  ASSERT_TRUE(q->write(up->regions[second->region].buffer, 13000, &byte, 1));
  ASSERT_TRUE(q->finish());
  auto v = verify(*q, *up, files);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::gpu_verify_failed);
  EXPECT_EQ(v.error().offset, f->header().data_start() + 3 * 4096);
  EXPECT_EQ(v.error().tensor, "second");
}

INSTANTIATE_TEST_SUITE_P(Backends, GpuLoader, ::testing::ValuesIn(sft::test::gpu_backend_names()),
                         [](const auto& info) { return info.param; });

// A checkpoint over 1 GiB, kept cheap: a sparse file (holes read as zeros, so
// the page cache holds little), patterned pages at every region edge and every
// 64 MiB so that a misplaced chunk cannot go unnoticed, the CPU backend only.
TEST(GpuLoaderTruncation, PreadNeverTouchesTheMapping) {
  // A file truncated after it was opened (and mapped): ReadMethod::pread
  // reads with pread on the descriptor, so the upload fails with io_error.
  // Through the mapping, the copy would have raised SIGBUS (the test would
  // die, not fail). The same for a File opened in pread mode.
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  const std::uint64_t size = 8 << 20;
  auto dir = sft::test::temp_dir("gpu_truncated");
  for (ReadMode mode : {ReadMode::mmap, ReadMode::pread}) {
    auto path = dir / (mode == ReadMode::mmap ? "mapped.safetensors" : "pread.safetensors");
    std::string json = "{\"t\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(size) +
                       "],\"data_offsets\":[0," + std::to_string(size) + "]}}";
    sft::test::write_all(path, sft::test::make_file(json, size));
    auto f = File::open(path, {.mode = mode});
    ASSERT_TRUE(f) << f.error().to_string();
    ASSERT_EQ(f->mapped(), mode == ReadMode::mmap);
    ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
    for (bool direct : {false, true}) {
      UploadOptions o;
      o.read = mode == ReadMode::mmap ? ReadMethod::pread : ReadMethod::automatic;
      o.staging = direct ? Staging::direct : Staging::staged;
      auto up = upload(*dev, *f, {}, o);
      ASSERT_FALSE(up) << "uploaded a truncated file";
      EXPECT_EQ(up.error().code, Errc::io_error) << up.error().to_string();
    }
  }
}

TEST(GpuLoaderLarge, CheckpointOverOneGibArrivesIntact) {
  auto dev = open_device(Backend::cpu);
  ASSERT_TRUE(dev);
  const std::uint64_t mib = 1 << 20;
  // Five tensors: 300 MiB, 1 byte, 400 MiB + 3, 333 MiB + 5, 100 MiB -> about 1.11 GiB.
  std::vector<std::pair<std::string, std::uint64_t>> tensors = {
      {"embed", 300 * mib}, {"odd", 1}, {"layer.0", 400 * mib + 3}, {"layer.1", 333 * mib + 5}, {"head", 100 * mib}};
  std::string json = "{";
  std::uint64_t off = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (i) json += ",";
    json += "\"" + tensors[i].first + "\":{\"dtype\":\"U8\",\"shape\":[" + std::to_string(tensors[i].second) +
            "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + tensors[i].second) + "]}";
    off += tensors[i].second;
  }
  json += "}";
  const std::uint64_t data_size = off;
  ASSERT_GT(data_size, 1ull << 30);
  auto dir = sft::test::temp_dir("gpu_large");
  auto path = dir / "large.safetensors";
  {
    int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    auto head = sft::test::make_file(json);
    ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    const std::uint64_t start = head.size();
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(start + data_size)), 0);
    std::mt19937_64 rng(7);
    std::vector<std::uint64_t> marks;
    for (std::uint64_t o = 0; o < data_size; o += 64 * mib) marks.push_back(o);
    std::uint64_t edge = 0;
    for (const auto& t : tensors) {
      marks.push_back(edge);
      edge += t.second;
      if (edge >= 4096) marks.push_back(edge - 4096);
    }
    std::vector<std::uint64_t> page(512);
    for (std::uint64_t m : marks) {
      for (auto& w : page) w = rng();
      std::uint64_t n = std::min<std::uint64_t>(4096, data_size - m);
      ASSERT_EQ(::pwrite(fd, page.data(), n, static_cast<off_t>(start + m)), static_cast<ssize_t>(n));
    }
    ::close(fd);
  }
  {
    auto f = File::open(path);
    ASSERT_TRUE(f) << f.error().to_string();
    auto q = dev->queue();
    ASSERT_TRUE(q);
    UploadOptions direct;
    direct.verify = true;
    auto up = upload(*dev, *f, {}, direct);
    ASSERT_TRUE(up) << up.error().to_string();
    EXPECT_TRUE(up->stats.direct);
    EXPECT_TRUE(up->stats.verified);
    EXPECT_EQ(up->stats.bytes, data_size);
    expect_device_equals_file(*q, *up, *f, "direct + verify");
    up = DeviceTensors{};  // give the memory back before the second copy
    UploadOptions staged;
    staged.staging = Staging::staged;
    staged.read = ReadMethod::pread;
    auto up2 = upload(*dev, *f, {}, staged);
    ASSERT_TRUE(up2) << up2.error().to_string();
    EXPECT_FALSE(up2->stats.direct);
    EXPECT_GE(up2->stats.chunks, 17u);  // 1.11 GiB through 64 MiB slots
    expect_device_equals_file(*q, *up2, *f, "staged + pread");
  }
  fs::remove_all(dir);
}
