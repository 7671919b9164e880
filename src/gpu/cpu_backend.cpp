// The CPU backend: device memory is host memory, every command runs as it is
// enqueued (so every event is complete when returned), kernels run as C++ on
// all hardware threads. Always built; always has exactly one device.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <sys/mman.h>
#include <unistd.h>

#include "backend.hpp"

namespace sft::gpu::detail {
namespace {

constexpr std::uint64_t page = 4096;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

EventPtr timed_done(std::chrono::steady_clock::time_point t0) { return std::make_shared<DoneEvent>(seconds_since(t0)); }

Result<void*> aligned_bytes(std::uint64_t n) {
  if (n > ~std::uint64_t{0} - page) return gpu_error(Errc::gpu_out_of_memory, "allocation size overflows");
  std::uint64_t rounded = (n + page - 1) / page * page;
  void* p = std::aligned_alloc(page, static_cast<std::size_t>(rounded));
  if (!p) return gpu_error(Errc::gpu_out_of_memory, "cannot allocate " + std::to_string(n) + " bytes of host memory");
  return p;
}

class CpuQueue final : public QueueImpl {
 public:
  Result<EventPtr> write(void* dst, std::uint64_t offset, const void* src, std::uint64_t n) override {
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(static_cast<std::byte*>(dst) + offset, src, static_cast<std::size_t>(n));
    return timed_done(t0);
  }
  Result<EventPtr> read(void* src, std::uint64_t offset, void* dst, std::uint64_t n) override {
    auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst, static_cast<const std::byte*>(src) + offset, static_cast<std::size_t>(n));
    return timed_done(t0);
  }
  Result<EventPtr> copy(void* src, std::uint64_t so, void* dst, std::uint64_t doff, std::uint64_t n) override {
    auto t0 = std::chrono::steady_clock::now();
    std::memmove(static_cast<std::byte*>(dst) + doff, static_cast<const std::byte*>(src) + so,
                 static_cast<std::size_t>(n));
    return timed_done(t0);
  }
  Result<std::byte*> map_for_write(void* buffer, std::uint64_t offset, std::uint64_t) override {
    return static_cast<std::byte*>(buffer) + offset;
  }
  Result<void> unmap(void*, std::byte*) override { return {}; }
  Result<EventPtr> launch(Kernel k, const LaunchDims& dims, std::span<const RawArg> args,
                          std::uint64_t variant) override {
    auto t0 = std::chrono::steady_clock::now();
    cpu_run_kernel(k, dims, args, variant);
    return timed_done(t0);
  }
  Result<void> finish() override { return {}; }
};

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        auto b = v.find_first_not_of(" \t");
        return b == std::string::npos ? std::string("host") : v.substr(b);
      }
    }
  }
  return "host";
}

class CpuDevice final : public DeviceImpl {
 public:
  CpuDevice() {
    info_.backend = Backend::cpu;
    info_.index = 0;
    info_.name = cpu_model();
    info_.vendor = "host";
    info_.driver_version = "sft-cpu 1";
    info_.platform = "host";
    long pages = ::sysconf(_SC_PHYS_PAGES), psize = ::sysconf(_SC_PAGESIZE);
    info_.global_memory = pages > 0 && psize > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(psize) : 0;
    info_.max_allocation = info_.global_memory;
    info_.compute_units = std::max(1u, std::thread::hardware_concurrency());
    info_.max_work_group_size = 1024;
    info_.host_unified = true;
    info_.local_memory = 64 << 10;  // a group's local arrays live on the calling thread's stack
  }
  bool has_variant(Kernel k, std::uint64_t variant) const noexcept override { return cpu_has_variant(k, variant); }
  // Buffers of a megabyte and more are mapped with MAP_POPULATE: the kernel
  // faults every page in at once, about twice as fast as the first writes
  // would one page at a time (the upload benchmark's "fresh memory" case).
  Result<void*> alloc(std::uint64_t bytes) override {
    if (bytes < (1 << 20)) return aligned_bytes(bytes);
    void* p = ::mmap(nullptr, static_cast<std::size_t>(bytes), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
      return gpu_error(Errc::gpu_out_of_memory, "cannot map " + std::to_string(bytes) + " bytes of host memory");
    std::lock_guard lock(mapped_mutex_);
    mapped_[p] = bytes;
    return p;
  }
  void free(void* h) noexcept override {
    {
      std::lock_guard lock(mapped_mutex_);
      auto it = mapped_.find(h);
      if (it != mapped_.end()) {
        ::munmap(h, static_cast<std::size_t>(it->second));
        mapped_.erase(it);
        return;
      }
    }
    std::free(h);
  }
  Result<HostAllocation> alloc_host(std::uint64_t bytes) override {
    auto p = alloc(bytes);
    SFT_TRY(p);
    return HostAllocation{static_cast<std::byte*>(*p), nullptr};
  }
  void free_host(const HostAllocation& a) noexcept override { free(a.data); }
  Result<std::unique_ptr<QueueImpl>> create_queue() override {
    return std::unique_ptr<QueueImpl>(std::make_unique<CpuQueue>());
  }

 private:
  std::mutex mapped_mutex_;
  std::unordered_map<void*, std::uint64_t> mapped_;  // mmap'd buffers and their sizes
};

}  // namespace

Result<std::vector<DeviceInfo>> cpu_list() { return std::vector<DeviceInfo>{CpuDevice().info()}; }

Result<std::shared_ptr<DeviceImpl>> cpu_open(unsigned index) {
  if (index != 0)
    return gpu_error(Errc::gpu_no_device, "the cpu backend has one device (0), not " + std::to_string(index));
  return std::shared_ptr<DeviceImpl>(std::make_shared<CpuDevice>());
}

}  // namespace sft::gpu::detail
