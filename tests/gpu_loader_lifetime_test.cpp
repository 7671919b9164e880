// upload() and the lifetime of what queued copies touch: the staging ring
// (pinned host buffers) and the regions' device buffers must outlive every
// copy queued from them, on every way out of upload(): success, a reader's
// error halfway through a file, an exception from the progress callback.
//
// Real backends copy asynchronously; the CPU backend copies at once, so it
// cannot show the difference. The device here is the CPU backend's contract
// with the timing of a real one: a copy happens only when its event is
// waited for, the queue is finished, or the queue is destroyed (as a GPU
// keeps copying after the host stops waiting). Host and device memory are
// never really freed while the device lives: a freed block is kept and
// poisoned, and a copy that reads or writes one is counted as a violation.
#include <gtest/gtest.h>

#if defined(SFT_HAVE_GPU)

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "gpu/backend.hpp"
#include "sft/file.hpp"
#include "sft/gpu/loader.hpp"
#include "synthetic_file.hpp"
#include "test_support.hpp"

namespace sft::gpu {
namespace {

namespace fs = std::filesystem;

struct Memory {
  std::mutex m;
  struct Block {
    std::vector<std::byte> bytes;
    bool freed = false;
  };
  std::deque<Block> blocks;
  int violations = 0;
  std::size_t queued = 0, ran = 0;  // copies queued to the device, and run

  std::byte* alloc(std::uint64_t n) {
    std::lock_guard lock(m);
    blocks.push_back({std::vector<std::byte>(static_cast<std::size_t>(n ? n : 1)), false});
    return blocks.back().bytes.data();
  }
  void free(const void* p) {
    std::lock_guard lock(m);
    for (auto& b : blocks)
      if (b.bytes.data() == p) b.freed = true;
  }
  // Whether [p, p + n) lies in a block that is still allocated.
  bool live(const void* p, std::uint64_t n) {
    std::lock_guard lock(m);
    auto* c = static_cast<const std::byte*>(p);
    for (auto& b : blocks)
      if (c >= b.bytes.data() && c + n <= b.bytes.data() + b.bytes.size()) return !b.freed;
    return false;
  }
};

class DeferredQueue final : public detail::QueueImpl {
 public:
  explicit DeferredQueue(std::shared_ptr<Memory> mem) : mem_(std::move(mem)) {}
  ~DeferredQueue() override { run_until(ops_.size()); }  // the device finishes its work regardless

  Result<detail::EventPtr> write(void* dst, std::uint64_t offset, const void* src, std::uint64_t n) override {
    ops_.push_back({static_cast<std::byte*>(dst) + offset, static_cast<const std::byte*>(src), n});
    ++mem_->queued;
    return detail::EventPtr(std::make_shared<Ev>(this, ops_.size()));
  }
  Result<detail::EventPtr> read(void* src, std::uint64_t offset, void* dst, std::uint64_t n) override {
    run_until(ops_.size());
    ops_.push_back({static_cast<std::byte*>(dst), static_cast<const std::byte*>(src) + offset, n});
    ++mem_->queued;
    run_until(ops_.size());
    return done();
  }
  Result<detail::EventPtr> copy(void* src, std::uint64_t so, void* dst, std::uint64_t doff, std::uint64_t n) override {
    run_until(ops_.size());
    ops_.push_back({static_cast<std::byte*>(dst) + doff, static_cast<const std::byte*>(src) + so, n});
    ++mem_->queued;
    run_until(ops_.size());
    return done();
  }
  Result<std::byte*> map_for_write(void* buffer, std::uint64_t offset, std::uint64_t) override {
    run_until(ops_.size());
    return static_cast<std::byte*>(buffer) + offset;
  }
  Result<void> unmap(void*, std::byte*) override { return {}; }
  Result<detail::EventPtr> launch(Kernel k, const LaunchDims& dims, std::span<const detail::RawArg> args,
                                  std::uint64_t variant) override {
    run_until(ops_.size());
    detail::cpu_run_kernel(k, dims, args, variant);
    return done();
  }
  Result<void> finish() override {
    run_until(ops_.size());
    return {};
  }

 private:
  struct Op {
    std::byte* dst;
    const std::byte* src;
    std::uint64_t n;
  };
  struct Ev final : detail::EventImpl {
    Ev(DeferredQueue* q, std::size_t upto) : q_(q), upto_(upto) {}
    Result<void> wait() override {
      q_->run_until(upto_);
      return {};
    }
    Result<bool> ready() override { return q_->run_ >= upto_; }
    Result<double> seconds() override { return 0.0; }
    DeferredQueue* q_;
    std::size_t upto_;
  };
  static detail::EventPtr done() { return std::make_shared<detail::DoneEvent>(); }
  void run_until(std::size_t upto) {
    for (; run_ < upto; ++run_, ++mem_->ran) {
      const Op& o = ops_[run_];
      if (!mem_->live(o.src, o.n) || !mem_->live(o.dst, o.n)) {
        ++mem_->violations;  // a copy touching memory freed while it was queued
        continue;
      }
      std::memcpy(o.dst, o.src, static_cast<std::size_t>(o.n));
    }
  }
  std::shared_ptr<Memory> mem_;
  std::vector<Op> ops_;
  std::size_t run_ = 0;
};

class DeferredDevice final : public detail::DeviceImpl {
 public:
  explicit DeferredDevice(std::shared_ptr<Memory> mem) : mem_(std::move(mem)) {
    info_.backend = Backend::cpu;
    info_.name = "deferred copies (test)";
    info_.global_memory = info_.max_allocation = std::uint64_t{1} << 30;
    info_.compute_units = 1;
    info_.max_work_group_size = 256;
    info_.host_unified = false;
  }
  Result<void*> alloc(std::uint64_t bytes) override { return static_cast<void*>(mem_->alloc(bytes)); }
  void free(void* h) noexcept override { mem_->free(h); }
  Result<detail::HostAllocation> alloc_host(std::uint64_t bytes) override {
    return detail::HostAllocation{mem_->alloc(bytes), nullptr};
  }
  void free_host(const detail::HostAllocation& a) noexcept override { mem_->free(a.data); }
  Result<std::unique_ptr<detail::QueueImpl>> create_queue() override {
    return std::unique_ptr<detail::QueueImpl>(std::make_unique<DeferredQueue>(mem_));
  }

 private:
  std::shared_ptr<Memory> mem_;
};

struct Rig {
  std::shared_ptr<Memory> mem = std::make_shared<Memory>();
  Device device = detail::Access::make_device(std::make_shared<DeferredDevice>(mem), {});
};

// A file of 64 chunks of 4096 bytes through a ring of two slots.
UploadOptions small_ring() {
  UploadOptions o;
  o.staging = Staging::staged;
  o.staging_buffers = 2;
  o.staging_bytes = 4096;
  o.reader_threads = 1;
  return o;
}

std::vector<std::byte> model() { return test::synthetic_file({{"w", DType::F32, {64, 1024}}}); }

TEST(UploadLifetime, TheRigSeesCopiesAfterTheRingIsFreed) {
  // The rig itself: a copy queued from a host buffer freed before the queue
  // ran it is a violation (what upload() must never cause).
  Rig rig;
  auto q = rig.device.queue();
  ASSERT_TRUE(q);
  auto dst = rig.device.alloc(64);
  ASSERT_TRUE(dst);
  {
    auto host = rig.device.alloc_host(64);
    ASSERT_TRUE(host);
    ASSERT_TRUE(q->write(*dst, 0, host->data(), 64));
  }  // freed with the copy still queued
  ASSERT_TRUE(q->finish());
  EXPECT_EQ(rig.mem->violations, 1);
}

TEST(UploadLifetime, SuccessLeavesNoCopyBehind) {
  Rig rig;
  const auto bytes = model();
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f);
  auto up = upload(rig.device, *f, {}, small_ring());
  ASSERT_TRUE(up) << up.error().to_string();
  EXPECT_EQ(up->stats.chunks, 64u);
  EXPECT_EQ(rig.mem->violations, 0);
}

TEST(UploadLifetime, ProgressCallbackThrowingMidLoad) {
  // The callback throws at the first chunk reported while another copy is
  // still queued from the ring. upload() must wait for that copy before the
  // ring goes, and report the exception as an error.
  Rig rig;
  const auto bytes = model();
  auto f = File::from_memory(bytes);
  ASSERT_TRUE(f);
  UploadOptions o = small_ring();
  bool thrown = false;
  o.progress = [&](const UploadProgress&) {
    if (!thrown && rig.mem->queued > rig.mem->ran) {
      thrown = true;
      throw std::runtime_error("stop");
    }
    // Nothing queued yet: give the reader time to fill the free slot, so that
    // the coordinator queues two copies before it reports the next chunk.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  Result<DeviceTensors> up = Error(Errc::ok, "");
  bool escaped = false;
  try {
    up = upload(rig.device, *f, {}, o);
  } catch (...) {
    escaped = true;
  }
  ASSERT_TRUE(thrown) << "no chunk was reported while a copy was queued: the test proves nothing";
  EXPECT_FALSE(escaped) << "an exception left upload()";
  if (!escaped) {
    ASSERT_FALSE(up);
    EXPECT_EQ(up.error().code, Errc::internal);
  }
  EXPECT_EQ(rig.mem->violations, 0) << "a queued copy read the staging ring after it was freed";
}

TEST(UploadLifetime, ReadErrorHalfwayThroughAFile) {
  // A pread-mode file truncated after it was opened: a reader fails halfway
  // while earlier copies are queued. The upload fails with io_error; every
  // queued copy ran before the ring went; the caller's own ring can be freed
  // as soon as upload() returns.
  Rig rig;
  auto dir = test::temp_dir("upload_lifetime_truncated");
  const fs::path path = dir / "m.safetensors";
  test::write_all(path, model());
  auto f = File::open(path, {.mode = ReadMode::pread});
  ASSERT_TRUE(f);
  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(f->header().data_start() + 5 * 4096 + 100)), 0);
  UploadOptions o = small_ring();
  std::vector<HostBuffer> ring;
  o.staging_ring = &ring;
  auto up = upload(rig.device, *f, {}, o);
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, Errc::io_error);
  ring.clear();  // the caller frees its ring at once
  EXPECT_EQ(rig.mem->violations, 0);
}

}  // namespace
}  // namespace sft::gpu

#endif  // SFT_HAVE_GPU
